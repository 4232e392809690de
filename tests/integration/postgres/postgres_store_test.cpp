// The "postgres" store of micro-postgres.so against a real PostgreSQL server
// (pg_server.hpp) and a real second process (pg-store-peer): durability
// across kill -9, fast UNAVAILABLE while the server is down and recovery
// after, hostile keys and names, binary keys, the value size limit, no lost
// update under contention from threads and processes, config errors, and
// the sweeper. Rows are also counted behind the driver with libpqxx, so a
// test sees what is really in the database.
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <unistd.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "child_process.hpp"  // tests/support
#include "pg_server.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::ChildProcess;
using micro::test::PgServer;
using micro::test::readFile;
using micro::test::TempDir;

namespace {

const std::string kPlugin = MICRO_POSTGRES_PLUGIN;
const std::string kPeer = MICRO_POSTGRES_STORE_PEER;
const std::string kEvil = "'; DROP TABLE x; --";

std::string manifest(const TempDir& dir, const PgServer& server, const std::string& extra = "",
                     const std::string& name = "store.toml") {
    return dir.write(name, "[store]\nplugin = \"" + kPlugin +
                               "\"\ndriver = \"postgres\"\nurl = \"" + server.url() + "\"\n" +
                               extra);
}

micro::Record rec(std::string key, std::string value, std::uint64_t expectedVersion = 0) {
    micro::Record r;
    r.key = std::move(key);
    r.value = std::move(value);
    r.version = expectedVersion;
    return r;
}

std::pair<Code, std::string> codeOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const micro::Error& e) {
        return {e.code(), e.what()};
    }
    return {Code::kOk, ""};
}

/// A name no other test case of this process uses.
std::string unique(const std::string& label) {
    static std::atomic<int> counter{0};
    return label + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

/// One number computed by `sql` on the server, behind the driver's back.
long long scalar(const PgServer& server, const std::string& sql) {
    pqxx::connection c(server.url());
    pqxx::nontransaction t(c);
    return t.exec1(sql)[0].as<long long>();
}

long long rowsIn(const PgServer& server, const std::string& schema, const std::string& table) {
    return scalar(server, "SELECT count(*) FROM \"" + schema + "\".\"" + table + "\"");
}

/// Brings the shared server back even when a check failed mid-test, so the
/// test cases after it (in a direct run of this executable) still have one.
struct RestartOnExit {
    PgServer& server;
    ~RestartOnExit() {
        try {
            if (!server.running()) server.start();
        } catch (...) {
        }
    }
};

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

}  // namespace

TEST_CASE("postgres: records acknowledged right before kill -9 are there after the restart") {
    PgServer& server = PgServer::shared();
    RestartOnExit restart{server};
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();

    const std::string prefix = unique("durable") + "/";
    constexpr int kRecords = 20;
    for (int i = 0; i < kRecords; ++i) {
        store.write(rec(prefix + std::to_string(i), "value-" + std::to_string(i)));
    }
    server.kill9();  // right after the last write was acknowledged
    CHECK_FALSE(server.running());
    server.start();

    // The same Store object: its pool finds its connections broken and
    // reconnects by itself.
    for (int i = 0; i < kRecords; ++i) {
        CAPTURE(i);
        CHECK(store.read(prefix + std::to_string(i)).at(0).value == "value-" + std::to_string(i));
    }
    micro::ReadOptions prefixRead;
    prefixRead.prefix = true;
    CHECK(store.list(prefix, prefixRead).size() == static_cast<std::size_t>(kRecords));
    CHECK(scalar(server, "SELECT count(*) FROM micro_micro.micro WHERE key >= '" + prefix +
                             "'::bytea AND key < '" + prefix.substr(0, prefix.size() - 1) +
                             "0'::bytea") == kRecords);
}

TEST_CASE("postgres: while the server is down calls fail fast with UNAVAILABLE and recover after") {
    PgServer& server = PgServer::shared();
    RestartOnExit restart{server};
    TempDir dir;
    micro::Runtime runtime =
        micro::Runtime::load(manifest(dir, server, "connect_timeout_ms = 1000\n"));
    micro::Store& store = runtime.store();
    const std::string key = unique("down");
    store.write(rec(key, "before"));

    server.kill9();
    // A store can be created while the server is down: it connects lazily.
    micro::Runtime late =
        micro::Runtime::load(manifest(dir, server, "connect_timeout_ms = 1000\n", "late.toml"));

    const std::string where = "postgres 127.0.0.1:" + std::to_string(server.port());
    const std::vector<std::pair<std::string, std::function<void()>>> calls{
        {"read", [&] { store.read(key); }},
        {"write", [&] { store.write(rec(key, "during")); }},
        {"erase", [&] { store.erase(key); }},
        {"list", [&] { store.list(key, {.prefix = true}); }},
        {"read on a store created while down", [&] { late.store().read(key); }},
    };
    for (const auto& [name, call] : calls) {
        CAPTURE(name);
        const auto start = std::chrono::steady_clock::now();
        const auto [code, message] = codeOf(call);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        CHECK(code == Code::kUnavailable);
        CHECK(message.find(where) != std::string::npos);
        INFO("message: ", message);
        // Bounded by connect_timeout_ms (libpq's minimum is 2 s), not a hang.
        CHECK(elapsed < 4s);
    }

    server.start();
    // The same objects work again with no action from the caller.
    CHECK(store.read(key).at(0).value == "before");
    CHECK(store.write(rec(key, "after")) > 0);
    CHECK(store.read(key).at(0).value == "after");
    CHECK(late.store().read(key).at(0).value == "after");
}

TEST_CASE("postgres: the injection string as a key is stored and read back as plain data") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();

    // A table named x exists, so the string would have a target if it ran.
    store.write(rec("keep", "kept"), {.table = "x"});
    const long long rowsBefore = rowsIn(server, "micro_micro", "x");

    const std::uint64_t v = store.write(rec(kEvil, kEvil));
    const micro::Record back = store.read(kEvil).at(0);
    CHECK(back.key == kEvil);
    CHECK(back.value == kEvil);
    CHECK(back.version == v);
    CHECK(store.list("'", {.prefix = true}) == std::vector<std::string>{kEvil});
    micro::ReadOptions suffix;
    suffix.suffix = true;
    CHECK(store.list("; --", suffix) == std::vector<std::string>{kEvil});
    micro::Record cas = rec(kEvil, "cas", v);
    CHECK(store.write(cas) > v);
    store.erase(kEvil);
    CHECK(codeOf([&] { store.read(kEvil); }).first == Code::kNotFound);

    CHECK(rowsIn(server, "micro_micro", "x") == rowsBefore);
    CHECK(store.read("keep", {.table = "x"}).at(0).value == "kept");
}

TEST_CASE("postgres: hostile database and table names are refused naming them and nothing runs") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();
    store.write(rec("keep", "kept"), {.table = "x"});
    store.write(rec("keep", "kept"));

    const std::string countTables =
        "SELECT count(*) FROM information_schema.tables WHERE table_schema LIKE 'micro%'";
    const long long tablesBefore = scalar(server, countTables);
    const long long schemasBefore =
        scalar(server, "SELECT count(*) FROM information_schema.schemata");
    const long long rowsX = rowsIn(server, "micro_micro", "x");
    const long long rowsDefault = rowsIn(server, "micro_micro", "micro");

    const std::vector<std::string> names{kEvil,
                                         "x\"; DROP SCHEMA micro_micro CASCADE; --",
                                         "with space",
                                         "dot.ted",
                                         std::string("nul\0byte", 8),
                                         "caf\xc3\xa9",
                                         "\xff\xfe",
                                         std::string(49, 'a')};
    for (const std::string& name : names) {
        CAPTURE(name);
        const std::vector<std::pair<std::string, std::function<void()>>> calls{
            {"write table", [&] { store.write(rec("k", "v"), {.table = name}); }},
            {"write database", [&] { store.write(rec("k", "v"), {.database = name}); }},
            {"read table", [&] { store.read("k", {.table = name}); }},
            {"read database", [&] { store.read("k", {.database = name}); }},
            {"list database", [&] { store.list("", {.database = name, .prefix = true}); }},
            {"erase table", [&] { store.erase("k", {.table = name}); }},
            {"erase database", [&] { store.erase("k", {.database = name}); }},
        };
        for (const auto& [what, call] : calls) {
            CAPTURE(what);
            const auto [code, message] = codeOf(call);
            INFO("message: ", message);
            CHECK(code == Code::kInvalidArgument);
            CHECK(message.find("name '") != std::string::npos);
            if (name == kEvil) CHECK(message.find(kEvil) != std::string::npos);
        }
    }
    // Nothing was created, dropped or changed.
    CHECK(scalar(server, countTables) == tablesBefore);
    CHECK(scalar(server, "SELECT count(*) FROM information_schema.schemata") == schemasBefore);
    CHECK(rowsIn(server, "micro_micro", "x") == rowsX);
    CHECK(rowsIn(server, "micro_micro", "micro") == rowsDefault);
    CHECK(store.read("keep", {.table = "x"}).at(0).value == "kept");
    CHECK(store.read("keep").at(0).value == "kept");
}

TEST_CASE("postgres: keys with NUL bytes and invalid UTF-8 round trip in byte order") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();
    const std::string table = unique("bytes");

    std::vector<std::string> keys{std::string("\0", 1),
                                  std::string("a\0b", 3),
                                  std::string("a\0c", 3),
                                  "a",
                                  "\xff",
                                  "\xff\xff",
                                  "\xff\xfe\xfd",
                                  "\xc3\x28",
                                  "\x80invalid",
                                  "\xed\xa0\x80surrogate",
                                  "plain"};
    for (const std::string& key : keys) store.write(rec(key, "v:" + key), {.table = table});
    for (const std::string& key : keys) {
        CAPTURE(key);
        const micro::Record r = store.read(key, {.table = table}).at(0);
        CHECK(r.key == key);
        CHECK(r.value == "v:" + key);
    }
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());  // char_traits<char> compares as unsigned bytes
    CHECK(store.list("", {.table = table, .prefix = true}) == sorted);
    // A prefix of 0xff bytes has no successor: the range is open above.
    CHECK(store.list("\xff", {.table = table, .prefix = true}) ==
          std::vector<std::string>{"\xff", "\xff\xfe\xfd", "\xff\xff"});
    CHECK(store.list(std::string("a\0", 2), {.table = table, .prefix = true}) ==
          std::vector<std::string>{std::string("a\0b", 3), std::string("a\0c", 3)});
    micro::ReadOptions suffix;
    suffix.table = table;
    suffix.suffix = true;
    CHECK(store.list(std::string("\0c", 2), suffix) ==
          std::vector<std::string>{std::string("a\0c", 3)});
    // Stored as the exact bytes: total length on the server matches.
    std::size_t total = 0;
    for (const auto& k : keys) total += k.size();
    CHECK(scalar(server, "SELECT sum(octet_length(key)) FROM micro_micro.\"" + table + "\"") ==
          static_cast<long long>(total));
}

TEST_CASE(
    "postgres: a 100 MiB value is refused against the 4 MiB limit and the store still works") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();
    const std::string key = unique("big");
    const long long rowsBefore = [&] {
        store.write(rec(unique("warm"), "x"));  // the default table exists
        return rowsIn(server, "micro_micro", "micro");
    }();

    const auto start = std::chrono::steady_clock::now();
    const auto [code, message] =
        codeOf([&] { store.write(rec(key, std::string(100u * 1024 * 1024, 'x'))); });
    INFO("message: ", message);
    CHECK(code == Code::kInvalidArgument);
    CHECK(message.find("value of 104857600 bytes exceeds max_value_bytes (4194304)") !=
          std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < 2s);  // refused before sending
    CHECK(codeOf([&] { store.read(key); }).first == Code::kNotFound);
    CHECK(rowsIn(server, "micro_micro", "micro") == rowsBefore);

    // One byte over is refused too; exactly the limit is stored whole.
    CHECK(codeOf([&] { store.write(rec(key, std::string(4u * 1024 * 1024 + 1, 'y'))); }).first ==
          Code::kInvalidArgument);
    std::string limit(4u * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < limit.size(); ++i) limit[i] = static_cast<char>(i * 7);
    store.write(rec(key, limit));
    CHECK(store.read(key).at(0).value == limit);
    store.write(rec(key, "small"));
    CHECK(store.read(key).at(0).value == "small");
}

TEST_CASE(
    "postgres: eight threads and a second process increment one counter with no lost update") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    const std::string manifestPath = manifest(dir, server);
    micro::Runtime runtime = micro::Runtime::load(manifestPath);
    micro::Store& store = runtime.store();
    const std::string key = unique("counter");
    store.write(rec(key, "0"));

    constexpr int kThreads = 8;
    constexpr int kPerThread = 40;
    constexpr int kPeerIncrements = 150;
    ChildProcess peer({kPeer, manifestPath, "increment", key, std::to_string(kPeerIncrements)},
                      dir.path() + "/peer.err");
    REQUIRE(peer.readLine(30s) == std::optional<std::string>("ready"));

    std::vector<std::string> errors(kThreads);
    std::latch go(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            go.arrive_and_wait();
            try {
                for (int i = 0; i < kPerThread; ++i) {
                    for (int attempt = 0;; ++attempt) {
                        if (attempt > 100000) throw std::runtime_error("no progress");
                        const micro::Record r = store.read(key).at(0);
                        micro::WriteOptions cas;
                        cas.expectedVersion = r.version;
                        const auto [code, message] = codeOf([&] {
                            store.write(rec(key, std::to_string(std::stoll(r.value) + 1)), cas);
                        });
                        if (code == Code::kOk) break;
                        if (code != Code::kAborted) throw std::runtime_error(message);
                    }
                }
            } catch (const std::exception& e) {
                errors[t] = e.what();
            }
        });
    }
    for (auto& th : threads) th.join();
    const std::optional<int> peerExit = peer.wait(120s);
    INFO("peer stderr: ", readFile(dir.path() + "/peer.err"));
    for (const auto& e : errors) CHECK(e == "");
    REQUIRE(peerExit.has_value());
    CHECK(*peerExit == 0);
    CHECK(store.read(key).at(0).value == std::to_string(kThreads * kPerThread + kPeerIncrements));
}

TEST_CASE("postgres: a bad url or config key is refused at create naming it") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    auto loadWith = [&](const std::string& body) {
        return codeOf([&] {
            micro::Runtime::load(dir.write("bad.toml", "[store]\nplugin = \"" + kPlugin +
                                                           "\"\ndriver = \"postgres\"\n" + body));
        });
    };
    {
        const auto [code, message] = loadWith("url = \"mysql://root@127.0.0.1/db\"\n");
        INFO("message: ", message);
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("key 'url'") != std::string::npos);
        CHECK(message.find("mysql://root@127.0.0.1/db") != std::string::npos);
    }
    {
        const auto [code, message] =
            loadWith("url = \"postgresql://me:s3cret@127.0.0.1:" + std::to_string(server.port()) +
                     "/postgres?no_such_option=1\"\n");
        INFO("message: ", message);
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("key 'url'") != std::string::npos);
        CHECK(message.find("s3cret") == std::string::npos);  // the password is never shown
    }
    {
        const auto [code, message] = loadWith("url = \"" + server.url() + "\"\npool_size = 0\n");
        INFO("message: ", message);
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("pool_size") != std::string::npos);
    }
    {
        const auto [code, message] = loadWith("url = \"" + server.url() + "\"\npoolsize = 2\n");
        INFO("message: ", message);
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("unknown key 'poolsize'") != std::string::npos);
    }
    {
        const auto [code, message] =
            loadWith("url = \"" + server.url() + "\"\ntable = \"" + "a-b" + "\"\n");
        INFO("message: ", message);
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("invalid table name 'a-b'") != std::string::npos);
    }
}

TEST_CASE("postgres: the sweeper deletes expired rows from the server") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server, "sweep_ms = 50\n"));
    micro::Store& store = runtime.store();
    const std::string table = unique("sweep");
    micro::WriteOptions brief;
    brief.table = table;
    brief.ttl = 1000ms;
    const auto start = std::chrono::steady_clock::now();
    store.write(rec("brief-1", "x"), brief);
    store.write(rec("brief-2", "x"), brief);
    store.write(rec("stays", "x"), {.table = table});
    const long long before = rowsIn(server, "micro_micro", table);
    if (std::chrono::steady_clock::now() - start < 800ms) {
        CHECK(before == 3);  // not swept before they expire
    } else {
        MESSAGE("writes took over 800 ms: skipped the before-expiry check");
    }
    CHECK(eventually([&] { return rowsIn(server, "micro_micro", table) == 1; }));
    CHECK(store.list("", {.table = table, .prefix = true}) == std::vector<std::string>{"stays"});
}

TEST_CASE("postgres: processes writing to a new table at once all succeed") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    const std::string table = unique("fresh");
    const std::string database = unique("db");
    const std::string path =
        manifest(dir, server, "database = \"" + database + "\"\ntable = \"" + table + "\"\n");
    // Each process creates the schema and the table on its first write, at
    // the same moment as the others: CREATE ... IF NOT EXISTS races.
    constexpr int kPeers = 6;
    std::vector<std::unique_ptr<ChildProcess>> peers;
    for (int i = 0; i < kPeers; ++i) {
        peers.push_back(std::make_unique<ChildProcess>(
            std::vector<std::string>{kPeer, path, "put", "k" + std::to_string(i), "v"},
            dir.path() + "/peer" + std::to_string(i) + ".err"));
    }
    for (int i = 0; i < kPeers; ++i) {
        CAPTURE(i);
        const std::optional<int> exit = peers[static_cast<std::size_t>(i)]->wait(60s);
        INFO("peer stderr: ", readFile(dir.path() + "/peer" + std::to_string(i) + ".err"));
        REQUIRE(exit.has_value());
        CHECK(*exit == 0);
    }
    micro::Runtime runtime = micro::Runtime::load(path);
    CHECK(runtime.store().list("", {.prefix = true}).size() == static_cast<std::size_t>(kPeers));
    CHECK(rowsIn(server, "micro_" + database, table) == kPeers);
}

TEST_CASE("postgres: reading or erasing in a table never written creates nothing") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();
    const std::string table = unique("never");
    const std::string database = unique("nodb");
    CHECK(codeOf([&] { store.read("k", {.table = table}); }).first == Code::kNotFound);
    CHECK(codeOf([&] { store.read("k", {.database = database}); }).first == Code::kNotFound);
    CHECK(store.list("", {.database = database, .table = table, .prefix = true}).empty());
    CHECK(codeOf([&] { store.erase("k", {.table = table}); }).first == Code::kNotFound);
    CHECK(codeOf([&] { store.erase("k", {.database = database}); }).first == Code::kNotFound);
    CHECK(scalar(server, "SELECT count(*) FROM information_schema.tables WHERE table_name = '" +
                             table + "'") == 0);
    CHECK(scalar(server,
                 "SELECT count(*) FROM information_schema.schemata WHERE schema_name = "
                 "'micro_" +
                     database + "'") == 0);
}

TEST_CASE("postgres: a write stuck behind a lock is cut at statement_timeout_ms") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime =
        micro::Runtime::load(manifest(dir, server, "statement_timeout_ms = 300\n"));
    micro::Store& store = runtime.store();
    const std::string table = unique("locked");
    store.write(rec("k", "v1"), {.table = table});

    {
        // Another session holds the record's row lock.
        pqxx::connection other(server.url());
        pqxx::work holder(other);
        holder.exec("SELECT 1 FROM micro_micro." + other.quote_name(table) +
                    " WHERE key = 'k'::bytea FOR UPDATE");
        const auto start = std::chrono::steady_clock::now();
        const auto [code, message] = codeOf([&] { store.write(rec("k", "v2"), {.table = table}); });
        INFO("message: ", message);
        CHECK(code == Code::kDeadlineExceeded);
        CHECK(message.find("statement_timeout_ms (300)") != std::string::npos);
        CHECK(std::chrono::steady_clock::now() - start < 3s);
        // Reads take no lock: they are not held up.
        CHECK(store.read("k", {.table = table}).at(0).value == "v1");
        holder.abort();
    }
    CHECK(store.write(rec("k", "v3"), {.table = table}) > 0);
    CHECK(store.read("k", {.table = table}).at(0).value == "v3");
}

TEST_CASE("postgres: a schema made before the version sequence is taken over on first use") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    // A database of its own: the shared one already has the sequence.
    const std::string database = unique("legacy");
    {
        pqxx::connection admin(server.url());
        pqxx::nontransaction tx(admin);
        tx.exec0("CREATE DATABASE " + database);
    }
    std::string url = server.url();
    url.replace(url.rfind('/') + 1, std::string::npos, database);
    {
        // The layout the driver made when versions came from the catalog row.
        pqxx::connection c(url);
        pqxx::work tx(c);
        tx.exec0("CREATE SCHEMA micro");
        tx.exec0(
            "CREATE TABLE micro.tables (database_name TEXT NOT NULL, table_name TEXT NOT NULL, "
            "last_version BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (database_name, table_name))");
        tx.exec0("INSERT INTO micro.tables VALUES ('micro', 'micro', 5000)");
        tx.exec0("CREATE SCHEMA micro_micro");
        tx.exec0(
            "CREATE TABLE micro_micro.micro (key BYTEA PRIMARY KEY, value BYTEA NOT NULL, "
            "metadata BYTEA, expiry_ms BIGINT NOT NULL DEFAULT 0, version BIGINT NOT NULL)");
        tx.exec0("INSERT INTO micro_micro.micro (key, value, version) VALUES ('old', 'v1', 5000)");
        tx.commit();
    }
    micro::Runtime runtime = micro::Runtime::load(dir.write(
        "store.toml",
        "[store]\nplugin = \"" + kPlugin + "\"\ndriver = \"postgres\"\nurl = \"" + url + "\"\n"));
    micro::Store& store = runtime.store();
    CHECK(store.read("old").at(0).version == 5000);
    CHECK(codeOf([&] { store.write(rec("old", "v2"), {.expectedVersion = 4999}); }).first ==
          Code::kAborted);
    const std::uint64_t v2 = store.write(rec("old", "v2"), {.expectedVersion = 5000});
    CHECK(v2 > 5000);
    CHECK(store.read("old").at(0).value == "v2");
    CHECK(store.write(rec("new", "n")) > v2);
}

// --- exact reads on the plain libpq connections (raw_connection.hpp) ------

TEST_CASE("postgres: concurrent exact readers on a small pool each get their own record") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server, "pool_size = 2\n"));
    micro::Store& store = runtime.store();
    const std::string table = unique("readers");
    constexpr int kThreads = 8;
    constexpr int kKeys = 10;
    for (int t = 0; t < kThreads; ++t) {
        for (int k = 0; k < kKeys; ++k) {
            micro::Record r = rec("t" + std::to_string(t) + "k" + std::to_string(k),
                                  "v" + std::to_string(t) + "-" + std::to_string(k));
            r.metadata = {{"thread", std::to_string(t)}, {std::string("n\0ul", 4), "x"}};
            store.write(r, {.table = table});
        }
    }
    std::atomic<int> wrong{0};
    std::atomic<int> reads{0};
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                for (int round = 0; round < 25; ++round) {
                    for (int k = 0; k < kKeys; ++k) {
                        const std::string key = "t" + std::to_string(t) + "k" + std::to_string(k);
                        try {
                            const auto got = store.read(key, {.table = table});
                            const bool ok =
                                got.size() == 1 && got[0].key == key &&
                                got[0].value == "v" + std::to_string(t) + "-" + std::to_string(k) &&
                                got[0].metadata.at("thread") == std::to_string(t) &&
                                got[0].metadata.size() == 2 && got[0].version > 0;
                            if (!ok) ++wrong;
                        } catch (...) {
                            ++wrong;
                        }
                        ++reads;
                    }
                }
            });
        }
    }
    CHECK(reads == kThreads * kKeys * 25);
    CHECK(wrong == 0);
    // Keys only, through the same path: no value, the same version.
    const auto full = store.read("t3k4", {.table = table});
    const auto keys = store.read("t3k4", {.table = table, .keysOnly = true});
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].value.empty());
    CHECK(keys[0].version == full.at(0).version);
    // An exact read with an offset past its one record reads nothing.
    CHECK(store.read("t3k4", {.table = table, .offset = 1}).empty());
}

TEST_CASE("postgres: an expired record reads as absent through an exact read") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server));
    micro::Store& store = runtime.store();
    const std::string table = unique("expiry");
    micro::Record gone = rec("gone", "v");
    gone.expiryUnixMs = 1;  // long past
    store.write(gone, {.table = table});
    micro::Record later = rec("later", "v");
    later.expiryUnixMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() +
                         3'600'000;
    store.write(later, {.table = table});
    CHECK(codeOf([&] { store.read("gone", {.table = table}); }).first == Code::kNotFound);
    const auto got = store.read("later", {.table = table});
    REQUIRE(got.size() == 1);
    CHECK(got[0].expiryUnixMs == later.expiryUnixMs);
}

TEST_CASE("postgres: a table read before it exists is found once another process writes it") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime reader = micro::Runtime::load(manifest(dir, server, "pool_size = 1\n"));
    micro::Runtime writer =
        micro::Runtime::load(manifest(dir, server, "pool_size = 1\n", "writer.toml"));
    const std::string table = unique("late");
    // The failed statement preparation is not remembered as done.
    CHECK(codeOf([&] { reader.store().read("k", {.table = table}); }).first == Code::kNotFound);
    CHECK(codeOf([&] { reader.store().read("k", {.table = table}); }).first == Code::kNotFound);
    writer.store().write(rec("k", "v"), {.table = table});
    CHECK(reader.store().read("k", {.table = table}).at(0).value == "v");
}

TEST_CASE("postgres: exact reads heal by themselves when the server ends their connections") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server, "pool_size = 2\n"));
    micro::Store& store = runtime.store();
    const std::string table = unique("terminated");
    store.write(rec("k", "v"), {.table = table});
    CHECK(store.read("k", {.table = table}).at(0).value == "v");
    // Every connection of the driver ends (as at a restart), the plain
    // libpq ones included; the next reads reconnect with no error.
    CHECK(scalar(server,
                 "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name = 'micro-postgres') t") >= 2);
    for (int i = 0; i < 5; ++i) CHECK(store.read("k", {.table = table}).at(0).value == "v");
}

TEST_CASE(
    "postgres: readers while the server is killed fail with UNAVAILABLE, never hang, recover") {
    PgServer& server = PgServer::shared();
    RestartOnExit restart{server};
    TempDir dir;
    micro::Runtime runtime =
        micro::Runtime::load(manifest(dir, server, "pool_size = 2\nconnect_timeout_ms = 1000\n"));
    micro::Store& store = runtime.store();
    const std::string table = unique("killed");
    store.write(rec("k", "v"), {.table = table});

    std::atomic<bool> stop{false};
    std::atomic<int> unexpected{0};
    std::atomic<int> unavailable{0};
    std::atomic<int> slow{0};
    std::string lastUnexpected;
    std::mutex lastMutex;
    {
        std::vector<std::jthread> readers;
        for (int t = 0; t < 4; ++t) {
            readers.emplace_back([&] {
                while (!stop) {
                    const auto start = std::chrono::steady_clock::now();
                    const auto [code, message] = codeOf([&] {
                        if (store.read("k", {.table = table}).at(0).value != "v") {
                            throw micro::Error(Code::kInternal, "wrong value");
                        }
                    });
                    if (std::chrono::steady_clock::now() - start > 6s) ++slow;
                    if (code == Code::kUnavailable) {
                        ++unavailable;
                    } else if (code != Code::kOk) {
                        ++unexpected;
                        std::lock_guard lock(lastMutex);
                        lastUnexpected = message;
                    }
                }
            });
        }
        std::this_thread::sleep_for(200ms);
        server.kill9();  // reads are in flight
        std::this_thread::sleep_for(500ms);
        stop = true;
    }
    INFO("unexpected: ", lastUnexpected);
    CHECK(unexpected == 0);
    CHECK(unavailable > 0);
    CHECK(slow == 0);
    server.start();
    CHECK(eventually(
        [&] { return codeOf([&] { store.read("k", {.table = table}); }).first == Code::kOk; }));
    CHECK(store.read("k", {.table = table}).at(0).value == "v");
}

TEST_CASE(
    "postgres: a table dropped by hand reads as nothing while readers sharing its lane get "
    "theirs") {
    PgServer& server = PgServer::shared();
    TempDir dir;
    // pool_size 4: one read lane, so all eight threads share one connection
    // and the failing statement sits in batches with the others.
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server, "pool_size = 4\n"));
    micro::Store& store = runtime.store();
    const std::string kept = unique("kept");
    const std::string dropped = unique("dropped");
    store.write(rec("k", "kept"), {.table = kept});
    store.write(rec("k", "dropped"), {.table = dropped});
    CHECK(store.read("k", {.table = dropped}).at(0).value == "dropped");  // prepared
    {
        pqxx::connection c(server.url());
        pqxx::nontransaction t(c);
        t.exec0("DROP TABLE micro_micro." + c.quote_name(dropped));
    }
    CHECK(scalar(server, "SELECT count(*) FROM information_schema.tables WHERE table_name = '" +
                             dropped + "'") == 0);

    std::atomic<int> wrong{0};
    {
        std::vector<std::jthread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                for (int i = 0; i < 50; ++i) {
                    if (t % 2 == 0) {
                        const auto [code, message] =
                            codeOf([&] { store.read("k", {.table = dropped}); });
                        if (code != Code::kNotFound) ++wrong;
                    } else {
                        try {
                            if (store.read("k", {.table = kept}).at(0).value != "kept") ++wrong;
                        } catch (...) {
                            ++wrong;
                        }
                    }
                }
            });
        }
    }
    CHECK(wrong == 0);
    // Written again, the table is found again.
    store.write(rec("k", "again"), {.table = dropped});
    CHECK(store.read("k", {.table = dropped}).at(0).value == "again");
}
