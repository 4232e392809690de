// The "redis" store of micro-redis.so against a real redis-server of its own
// (redis_server.hpp): durability across kill -9, behaviour while the server
// is down or hung and recovery after, hostile names and keys, oversized
// values, compare-and-set from threads and processes, AUTH and SELECT, the
// lazy clean-up of expired index entries, callbacks that re-enter, and
// connections the server drops mid-write (no SIGPIPE death).
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <latch>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "child_process.hpp"  // tests/support
#include "process.hpp"
#include "redis_server.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::ChildProcess;
using micro::test::RedisServer;
using micro::test::TempDir;

namespace {

const std::string kPlugin = MICRO_REDIS_PLUGIN;
const std::string kPeer = MICRO_REDIS_STORE_PEER;

/// A manifest selecting the redis store at `url`, with extra config lines.
std::string manifest(const TempDir& dir, const std::string& url, const std::string& extra = "") {
    return dir.write("store.toml", "[store]\nplugin = \"" + kPlugin +
                                       "\"\ndriver = \"redis\"\nurl = \"" + url + "\"\n" + extra);
}

struct Outcome {
    Code code = Code::kOk;
    std::string message;
    std::chrono::milliseconds took{0};
};

Outcome outcomeOf(const std::function<void()>& f) {
    const auto start = std::chrono::steady_clock::now();
    Outcome o;
    try {
        f();
    } catch (const micro::Error& e) {
        o.code = e.code();
        o.message = e.what();
    }
    o.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    return o;
}

micro::Record rec(std::string key, std::string value, std::uint64_t expected = 0) {
    micro::Record r;
    r.key = std::move(key);
    r.value = std::move(value);
    r.version = expected;
    return r;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
}

/// Read-CAS-retry increment of a decimal counter (absent counts as 0).
void increment(micro::Store& store, const std::string& key) {
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        micro::Record next = rec(key, "1", micro::kAbsentVersion);
        try {
            const micro::Record current = store.read(key).at(0);
            next.value = std::to_string(std::stoll(current.value) + 1);
            next.version = current.version;
        } catch (const micro::Error& e) {
            if (e.code() != Code::kNotFound) throw;
        }
        try {
            store.write(next, {.expectedVersion = next.version});
            return;
        } catch (const micro::Error& e) {
            if (e.code() != Code::kAborted) throw;
        }
    }
    throw std::runtime_error("no progress");
}

}  // namespace

TEST_CASE("redis: create does not connect, and a bad url or unknown key is refused naming it") {
    TempDir dir;
    // Nothing listens there: create must still succeed (a service may start
    // before its Redis), and the first call fails fast with UNAVAILABLE.
    const int port = micro::test::freeLoopbackPort();
    const std::string url = "redis://127.0.0.1:" + std::to_string(port) + "/0";
    micro::Runtime rt = micro::Runtime::load(manifest(dir, url, "connect_timeout_ms = 300\n"));
    Outcome down = outcomeOf([&] { rt.store().read("k"); });
    INFO("message: " << down.message);
    CHECK(down.code == Code::kUnavailable);
    CHECK(down.message.find("redis 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(down.took < 2000ms);

    const std::pair<std::string, std::string> bad[] = {
        {"http://127.0.0.1:6379", "scheme"},
        {"redis://", "no host"},
        {"redis://127.0.0.1:99999/0", "port"},
        {"redis://127.0.0.1:6379/zero", "database number"},
        {"redis://127.0.0.1:6379/0?timeout=1", "query"},
        {"rediss://127.0.0.1:6379", "TLS"},
        {"redis://user:s3cret@127.0.0.1:port", "port"},
    };
    for (const auto& [text, why] : bad) {
        CAPTURE(text);
        TempDir d;
        Outcome o = outcomeOf([&] { micro::Runtime::load(manifest(d, text)); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kInvalidArgument);
        CHECK(o.message.find("key 'url'") != std::string::npos);
        CHECK(o.message.find(why) != std::string::npos);
        CHECK(o.message.find("s3cret") == std::string::npos);  // never echo a password
    }
    for (const std::string& extra :
         {std::string("pool = 4\n"), std::string("pool_size = 0\n"),
          std::string("command_timeout_ms = \"soon\"\n"), std::string("max_value_bytes = -1\n"),
          std::string("table = \"\"\n")}) {
        CAPTURE(extra);
        TempDir d;
        Outcome o = outcomeOf([&] { micro::Runtime::load(manifest(d, url, extra)); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kInvalidArgument);
        const std::string key = extra.substr(0, extra.find(' '));
        CHECK(o.message.find("'" + key + "'") != std::string::npos);
    }
}

TEST_CASE("redis: a write acknowledged before kill -9 is there after the restart") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    micro::Store& store = rt.store();
    micro::Record withMeta = rec("durable", "acknowledged");
    withMeta.metadata = {{"owner", "test"}};
    const std::uint64_t v1 = store.write(withMeta);
    const std::vector<micro::Record> batch{rec("batch/a", "A"), rec("batch/b", "B")};
    const std::uint64_t v2 = store.writeBatch(batch);
    store.write(rec("lease", "held"), {.ttl = 600s});

    server.kill9();  // no shutdown, no final fsync: only what was acknowledged
    server.restart();

    // The same Store: its pooled connections died with the server, and the
    // pool notices and reconnects without a failed call.
    const micro::Record r = store.read("durable").at(0);
    CHECK(r.value == "acknowledged");
    CHECK(r.version == v1);
    CHECK(r.metadata == withMeta.metadata);
    CHECK(store.read("batch/b").at(0).version == v2);
    CHECK(store.list("batch/") == std::vector<std::string>{"batch/a", "batch/b"});
    const micro::Record lease = store.read("lease").at(0);
    CHECK(lease.value == "held");
    CHECK(lease.expiryUnixMs > 0);
    // Versions keep growing after the restart: the counter was durable too.
    CHECK(store.write(rec("durable", "again")) > v2);
}

TEST_CASE("redis: while the server is down calls fail fast with UNAVAILABLE, then recover") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(
        manifest(dir, server.url(), "connect_timeout_ms = 500\ncommand_timeout_ms = 1000\n"));
    micro::Store& store = rt.store();
    store.write(rec("before", "1"));
    // Every pooled connection exists and is idle before the server dies.
    for (int i = 0; i < 8; ++i) store.read("before");

    server.kill9();
    constexpr auto kBound = 500ms + 1000ms + 1000ms;  // connect + command + margin
    const std::vector<std::pair<const char*, std::function<void()>>> calls{
        {"read", [&] { store.read("before"); }},
        {"list", [&] { store.list("b"); }},
        {"write", [&] { store.write(rec("during", "x")); }},
        {"cas", [&] { store.write(rec("during", "x"), {.expectedVersion = 1}); }},
        {"erase", [&] { store.erase("before"); }},
    };
    for (const auto& [name, call] : calls) {
        CAPTURE(name);
        Outcome o = outcomeOf(call);
        INFO("message: " << o.message);
        CHECK(o.code == Code::kUnavailable);
        CHECK(o.message.find("redis 127.0.0.1:" + std::to_string(server.port())) !=
              std::string::npos);
        CHECK(o.took < kBound);
    }
    // Many callers at once: each returns within the bound, none hangs.
    std::vector<Outcome> outcomes(8);
    {
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < outcomes.size(); ++t) {
            threads.emplace_back([&, t] {
                outcomes[t] = outcomeOf([&] { store.write(rec("k" + std::to_string(t), "v")); });
            });
        }
        for (auto& t : threads) t.join();
    }
    for (const Outcome& o : outcomes) {
        CHECK(o.code == Code::kUnavailable);
        CHECK(o.took < kBound);
    }

    server.restart();
    // The same Store works again: the pool reconnects by itself.
    CHECK(eventually([&] { return outcomeOf([&] { store.read("before"); }).code == Code::kOk; }));
    CHECK(store.read("before").at(0).value == "1");
    store.write(rec("after", "2"));
    CHECK(store.read("after").at(0).value == "2");
}

TEST_CASE("redis: a hung server fails calls with UNAVAILABLE after the command timeout") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(
        manifest(dir, server.url(), "pool_size = 2\ncommand_timeout_ms = 300\n"));
    micro::Store& store = rt.store();
    store.write(rec("k", "v"));

    server.pause();  // accepts connections, answers nothing
    Outcome read = outcomeOf([&] { store.read("k"); });
    Outcome write = outcomeOf([&] { store.write(rec("k", "w")); });
    server.resume();
    INFO("read: " << read.message);
    INFO("write: " << write.message);
    CHECK(read.code == Code::kUnavailable);
    CHECK(read.message.find("command_timeout_ms (300 ms)") != std::string::npos);
    CHECK(read.took < 2000ms);
    CHECK(write.code == Code::kUnavailable);
    CHECK(write.message.find("may or may not have been applied") != std::string::npos);
    CHECK(write.took < 2000ms);

    CHECK(eventually([&] { return outcomeOf([&] { store.read("k"); }).code == Code::kOk; }));
    store.write(rec("k", "x"));
    CHECK(store.read("k").at(0).value == "x");
}

TEST_CASE("redis: hostile names and keys round trip exactly and leave other data alone") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    micro::Store& store = rt.store();
    const std::string injection = "'; DROP TABLE x; --";
    const std::string nul("a\0b", 3);
    const std::string invalidUtf8 = "\xff\xfe";
    store.write(rec("sentinel", "untouched"));

    const std::vector<std::string> keys{injection,
                                        nul,
                                        invalidUtf8,
                                        std::string("\0", 1),
                                        "*",
                                        "k:{x}",
                                        "micro:{5:micro:5:micro}:r:sentinel",
                                        "\r\n$3\r\nDEL\r\n"};
    const std::vector<std::pair<std::string, std::string>> scopes{
        {injection, injection}, {"", injection}, {injection, ""}, {nul, invalidUtf8},
        {"a:1", "b"},           {"a", "1:b"},    {"}", "{"}};
    for (const auto& [database, table] : scopes) {
        for (const std::string& key : keys) {
            store.write(rec(key, "value of " + key + " in " + database + "/" + table),
                        {.database = database, .table = table});
        }
    }
    for (const auto& [database, table] : scopes) {
        CAPTURE(database);
        CAPTURE(table);
        micro::ReadOptions scope{.database = database, .table = table};
        for (const std::string& key : keys) {
            CAPTURE(key);
            const micro::Record r = store.read(key, scope).at(0);
            CHECK(r.key == key);
            CHECK(r.value == "value of " + key + " in " + database + "/" + table);
        }
        std::vector<std::string> sorted = keys;
        std::sort(sorted.begin(), sorted.end());
        micro::ReadOptions all = scope;
        all.prefix = true;
        CHECK(store.list("", all) == sorted);
    }
    // Prefixes and suffixes of 0xff bytes: the lexicographic bound of a
    // prefix range must neither cut such keys off nor reach past them.
    const std::vector<std::string> ff{"p\xfe", "p\xff", std::string("p\xff\0", 3), "p\xff\xff",
                                      "q"};
    for (const std::string& k : ff) store.write(rec(k, "v"), {.table = "ff"});
    CHECK(store.list("p\xff", {.table = "ff", .prefix = true}) ==
          std::vector<std::string>{"p\xff", std::string("p\xff\0", 3), "p\xff\xff"});
    CHECK(store.list("\xff", {.table = "ff", .suffix = true}) ==
          std::vector<std::string>{"p\xff", "p\xff\xff"});
    // Erasing in one scope leaves the look-alike scopes alone.
    store.erase(injection, {.database = injection, .table = injection});
    CHECK(outcomeOf([&] {
              store.read(injection, {.database = injection, .table = injection});
          }).code == Code::kNotFound);
    CHECK(store.read(injection, {.database = "", .table = injection}).size() == 1);
    CHECK(store.read(injection, {.database = "a:1", .table = "b"}).size() == 1);
    // The default table saw none of it, and the look-alike key is not the sentinel.
    CHECK(store.read("sentinel").at(0).value == "untouched");
    micro::ReadOptions defaults;
    defaults.prefix = true;
    CHECK(store.list("", defaults) == std::vector<std::string>{"sentinel"});
    // Everything the driver wrote is under its own prefix, nothing else.
    for (const std::string& k : server.keys()) {
        CAPTURE(k);
        CHECK(k.starts_with("micro:{"));
    }

    // Names past 128 bytes are refused before anything is sent.
    const std::string longName(129, 'n');
    Outcome table = outcomeOf([&] { store.write(rec("k", "v"), {.table = longName}); });
    CHECK(table.code == Code::kInvalidArgument);
    CHECK(table.message.find("table name") != std::string::npos);
    Outcome database = outcomeOf([&] { store.read("k", {.database = longName}); });
    CHECK(database.code == Code::kInvalidArgument);
    CHECK(database.message.find("database name") != std::string::npos);
    CHECK(outcomeOf([&] { store.write(rec("", "v")); }).code == Code::kInvalidArgument);
}

TEST_CASE("redis: a 100 MiB value is refused against the 4 MiB limit and the store still works") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    micro::Store& store = rt.store();
    const std::string huge(100u << 20, 'x');
    Outcome o = outcomeOf([&] { store.write(rec("huge", huge)); });
    INFO("message: " << o.message);
    CHECK(o.code == Code::kInvalidArgument);
    CHECK(o.message.find("value of 104857600 bytes exceeds max_value_bytes (4194304)") !=
          std::string::npos);
    CHECK(outcomeOf([&] { store.read("huge"); }).code == Code::kNotFound);

    // In a batch, nothing of it is written.
    const std::vector<micro::Record> batch{rec("small", "s"),
                                           rec("big", std::string((4u << 20) + 1, 'y'))};
    Outcome b = outcomeOf([&] { store.writeBatch(batch); });
    CHECK(b.code == Code::kInvalidArgument);
    CHECK(b.message.find("record 1 of the batch") != std::string::npos);
    CHECK(outcomeOf([&] { store.read("small"); }).code == Code::kNotFound);

    // Exactly the limit is fine, byte for byte; metadata counts too.
    std::string limit(4u << 20, '\0');
    for (std::size_t i = 0; i < limit.size(); i += 4093) limit[i] = static_cast<char>(i * 7);
    store.write(rec("limit", limit));
    CHECK(store.read("limit").at(0).value == limit);
    micro::Record meta = rec("meta", "v");
    meta.metadata = {{"big", std::string(4u << 20, 'm')}};
    Outcome m = outcomeOf([&] { store.write(meta); });
    CHECK(m.code == Code::kInvalidArgument);
    CHECK(m.message.find("metadata of") != std::string::npos);

    store.write(rec("after", "fine"));
    CHECK(store.read("after").at(0).value == "fine");
}

TEST_CASE("redis: eight threads and two processes increment one key by compare-and-set") {
    RedisServer server;
    TempDir dir;
    const std::string m = manifest(dir, server.url());
    constexpr int kPeerIncrements = 100;
    constexpr int kThreads = 8;
    constexpr int kThreadIncrements = 50;
    ChildProcess a({kPeer, m, "increment", "counter", std::to_string(kPeerIncrements)},
                   dir.path() + "/peer-a.err");
    ChildProcess b({kPeer, m, "increment", "counter", std::to_string(kPeerIncrements)},
                   dir.path() + "/peer-b.err");
    micro::Runtime rt = micro::Runtime::load(m);
    std::vector<std::string> errors(kThreads);
    {
        std::latch start(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                start.arrive_and_wait();
                try {
                    for (int i = 0; i < kThreadIncrements; ++i) increment(rt.store(), "counter");
                } catch (const std::exception& e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    for (const auto& e : errors) CHECK(e == "");
    CHECK(a.wait(60s) == 0);
    CHECK(b.wait(60s) == 0);
    const micro::Record r = rt.store().read("counter").at(0);
    CHECK(r.value == std::to_string(2 * kPeerIncrements + kThreads * kThreadIncrements));
}

TEST_CASE("redis: the url's password and database number are honoured") {
    RedisServer server(RedisServer::Options{.requirePass = "s3cret"});
    TempDir dir;
    {
        micro::Runtime none = micro::Runtime::load(manifest(dir, server.url()));
        Outcome o = outcomeOf([&] { none.store().read("k"); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kUnauthenticated);
    }
    {
        micro::Runtime wrong = micro::Runtime::load(manifest(dir, server.url(0, "wrong")));
        Outcome o = outcomeOf([&] { wrong.store().read("k"); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kUnauthenticated);
        CHECK(o.message.find("wrong") == std::string::npos);
    }
    micro::Runtime db0 = micro::Runtime::load(manifest(dir, server.url(0, "s3cret")));
    TempDir dir3;
    micro::Runtime db3 = micro::Runtime::load(manifest(dir3, server.url(3, "s3cret")));
    db3.store().write(rec("k", "in three"));
    CHECK(outcomeOf([&] { db0.store().read("k"); }).code == Code::kNotFound);
    CHECK(db3.store().read("k").at(0).value == "in three");
    TempDir dir99;
    micro::Runtime db99 = micro::Runtime::load(manifest(dir99, server.url(99, "s3cret")));
    Outcome o = outcomeOf([&] { db99.store().read("k"); });
    INFO("message: " << o.message);
    CHECK(o.code == Code::kInvalidArgument);
    CHECK(o.message.find("SELECT 99") != std::string::npos);
}

TEST_CASE("redis: index entries of expired records are removed by reads and writes") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    micro::Store& store = rt.store();
    const std::string index = "micro:{5:micro:5:micro}:idx";
    const std::string expiries = "micro:{5:micro:5:micro}:exp";
    // One absolute expiry for all, far enough ahead that a loaded machine
    // still writes them all before the first one expires.
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t expiry = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count() +
                                1000;
    for (int i = 0; i < 10; ++i) {
        for (const char* group : {"read/", "write/"}) {
            micro::Record r = rec(group + std::to_string(i), "v");
            r.expiryUnixMs = expiry;
            store.write(r);
        }
    }
    store.write(rec("read/stays", "v"));
    if (std::chrono::steady_clock::now() - start < 800ms) {
        CHECK(server.command({"ZCARD", index}) == std::vector<std::string>{"21"});
    } else {
        MESSAGE("writes took over 800 ms: skipped the before-expiry count");
    }
    std::this_thread::sleep_until(start + 1300ms);

    // A range read skips the expired ones and removes their entries.
    CHECK(store.list("read/") == std::vector<std::string>{"read/stays"});
    CHECK(server.command({"ZCARD", index}) == std::vector<std::string>{"11"});
    // A write sweeps expired entries it finds in the expiry index.
    store.write(rec("other", "v"));
    CHECK(server.command({"ZCARD", index}) == std::vector<std::string>{"2"});
    CHECK(server.command({"ZCARD", expiries}) == std::vector<std::string>{"0"});
    CHECK(outcomeOf([&] { store.read("write/1"); }).code == Code::kNotFound);
}

TEST_CASE("redis: a sink and a completion may call back into the store with one worker") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), "pool_size = 1\n"));
    micro::Store& store = rt.store();
    for (int i = 0; i < 5; ++i) store.write(rec("src/" + std::to_string(i), std::to_string(i)));
    int visited = 0;
    micro::ReadOptions prefix;
    prefix.prefix = true;
    store.scan("src/", prefix, [&](const micro::RecordView& r) {
        // A blocking nested call from the driver's only worker thread.
        store.write(rec("copy/" + std::string(r.key.substr(4)), std::string(r.value)));
        CHECK(store.read("copy/" + std::string(r.key.substr(4))).at(0).value == r.value);
        ++visited;
    });
    CHECK(visited == 5);
    CHECK(store.list("copy/").size() == 5);
}

TEST_CASE("redis: a server that drops the connection mid-write fails the call, not the process") {
    // Redis refuses a bulk argument over proto-max-bulk-len and closes the
    // connection while the driver is still writing the value; the next call
    // gets a fresh connection.
    RedisServer server(
        RedisServer::Options{.requirePass = {}, .extraArgs = {"--proto-max-bulk-len", "1mb"}});
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    micro::Store& store = rt.store();
    store.write(rec("before", "v"));
    for (int i = 0; i < 3; ++i) {
        Outcome o = outcomeOf([&] { store.write(rec("big", std::string(4u << 20, 'b'))); });
        INFO("message: " << o.message);
        // A reset while writing, or, when the whole request fit in the
        // socket buffers, the protocol error Redis sends before closing.
        CHECK((o.code == Code::kUnavailable || o.code == Code::kFailedPrecondition));
        CHECK(o.message.find("redis 127.0.0.1:" + std::to_string(server.port())) !=
              std::string::npos);
    }
    CHECK(store.read("before").at(0).value == "v");
    CHECK(outcomeOf([&] { store.read("big"); }).code == Code::kNotFound);
}

TEST_CASE("redis: writing to a socket the peer closed fails the call with no SIGPIPE death") {
    // A listener that accepts and at once closes every connection: the
    // driver's first command is written into a closed socket. Long enough
    // (a 4 MiB key) that write(2) meets the peer's reset and fails with
    // EPIPE, which raises SIGPIPE, whose default action would end this
    // process; the driver's threads block it.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    REQUIRE(::listen(fd, 16) == 0);
    std::atomic<bool> stop{false};
    std::thread closer([&] {
        while (!stop) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) ::close(c);
        }
    });
    TempDir dir;
    {
        micro::Runtime rt = micro::Runtime::load(
            manifest(dir, "redis://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/0"));
        const std::string key((4u << 20) - 1, 'k');
        for (int i = 0; i < 5; ++i) {
            Outcome o = outcomeOf([&] { rt.store().read(key); });
            INFO("message: " << o.message);
            CHECK(o.code == Code::kUnavailable);
        }
    }
    stop = true;
    closer.join();
    ::close(fd);
}

TEST_CASE("redis: concurrent calls pipelined on shared connections each get their own reply") {
    // 16 threads on 2 lanes: their commands share batches, and each reply
    // must reach the call it answers.
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), "pool_size = 2\n"));
    micro::Store& store = rt.store();
    constexpr int kThreads = 16;
    constexpr int kRounds = 200;
    std::atomic<int> wrong{0};
    std::vector<std::string> errors(kThreads);
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                try {
                    std::uint64_t last = 0;
                    for (int i = 0; i < kRounds; ++i) {
                        const std::string key =
                            "p/" + std::to_string(t) + "/" + std::to_string(i % 7);
                        const std::string value = std::to_string(t) + ":" + std::to_string(i);
                        const std::uint64_t version = store.write(rec(key, value));
                        if (version <= last) ++wrong;
                        last = version;
                        const micro::Record got = store.read(key).at(0);
                        if (got.value != value || got.version != version) ++wrong;
                        if (outcomeOf([&] { store.read(key + "/absent"); }).code !=
                            Code::kNotFound) {
                            ++wrong;
                        }
                        // A compare-and-set against the version just read.
                        store.write(rec(key, value + "+"), {.expectedVersion = version});
                        if (store.read(key).at(0).value != value + "+") ++wrong;
                    }
                } catch (const std::exception& e) {
                    errors[static_cast<std::size_t>(t)] = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    for (const std::string& e : errors) CHECK(e.empty());
    CHECK(wrong.load() == 0);
    CHECK(store.list("p/").size() == kThreads * 7);
}

TEST_CASE("redis: pipelined calls on a hung server fail with UNAVAILABLE and none hangs") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(
        manifest(dir, server.url(), "pool_size = 1\ncommand_timeout_ms = 300\n"));
    micro::Store& store = rt.store();
    store.write(rec("k", "v"));

    server.pause();                  // accepts connections, answers nothing
    constexpr auto kBound = 5000ms;  // a few command timeouts, never a hang
    std::vector<Outcome> outcomes(12);
    {
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < outcomes.size(); ++t) {
            threads.emplace_back([&, t] {
                outcomes[t] = outcomeOf([&] {
                    if (t % 3 == 0) {
                        store.read("k");
                    } else if (t % 3 == 1) {
                        store.write(rec("w" + std::to_string(t), "x"));
                    } else {
                        store.erase("k");
                    }
                });
            });
        }
        for (auto& t : threads) t.join();
    }
    server.resume();
    for (const Outcome& o : outcomes) {
        INFO("message: " << o.message);
        CHECK(o.code == Code::kUnavailable);
        CHECK(o.message.find("redis 127.0.0.1:" + std::to_string(server.port())) !=
              std::string::npos);
        CHECK(o.took < kBound);
    }
    CHECK(eventually([&] { return outcomeOf([&] { store.read("k"); }).code == Code::kOk; }));
    store.write(rec("k", "after"));
    CHECK(store.read("k").at(0).value == "after");
}

TEST_CASE("redis: scripts the server forgot are sent again from their text") {
    RedisServer server;
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), "pool_size = 2\n"));
    micro::Store& store = rt.store();
    const std::uint64_t first = store.write(rec("s", "1"));
    server.command({"SCRIPT", "FLUSH"});  // every EVALSHA now gets NOSCRIPT
    std::vector<std::string> errors(8);
    {
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < errors.size(); ++t) {
            threads.emplace_back([&, t] {
                try {
                    store.write(rec("s" + std::to_string(t), "x"));
                    store.erase("s" + std::to_string(t));
                } catch (const std::exception& e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto& t : threads) t.join();
    }
    for (const std::string& e : errors) CHECK(e.empty());
    server.command({"SCRIPT", "FLUSH"});
    store.write(rec("s", "2"), {.expectedVersion = first});
    CHECK(store.read("s").at(0).value == "2");
    CHECK(store.list("s").size() == 1);
}
