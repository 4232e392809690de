// The "local" registry of micro-sqlite.so across real processes: a peer
// process (sqlite-registry-peer) and this one share one database file. What
// one registers the other finds and watches; a peer killed with SIGKILL
// leaves a node that expires on its TTL; concurrent writers all land; a bad
// file is refused with a message naming it.
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"  // tests/support
#include "process.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::RegistryEvent;
using micro::test::ChildProcess;
using micro::test::TempDir;

namespace {

const std::string kPlugin = MICRO_SQLITE_PLUGIN;
const std::string kPeer = MICRO_SQLITE_PEER;

std::string manifest(const TempDir& dir, const std::string& extra) {
    return dir.write("m.toml", "[registry]\nplugin = \"" + kPlugin +
                                   "\"\ndriver = \"local\"\npoll_ms = 50\n" + extra);
}

std::string pathKey(const std::string& path) { return "path = \"" + path + "\"\n"; }

std::string hex(const std::string& bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    return out;
}

std::string allBytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

std::vector<micro::Node> liveNodes(micro::Registry& registry, const std::string& service) {
    try {
        return registry.lookup(service);
    } catch (const micro::Error& e) {
        if (e.code() == Code::kNotFound) return {};
        throw;
    }
}

/// What one watch saw: "CREATED node", "UPDATED node", "DELETED node", and
/// the record each event carried.
struct Seen {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::string> events;
    std::vector<std::string> records;

    std::size_t count(const std::string& event) {
        std::lock_guard lock(mutex);
        return static_cast<std::size_t>(std::count(events.begin(), events.end(), event));
    }
    bool waitFor(const std::string& event, std::chrono::milliseconds timeout = 5s) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, timeout, [&] {
            return std::find(events.begin(), events.end(), event) != events.end();
        });
    }
    std::string recordOf(const std::string& event) {
        std::lock_guard lock(mutex);
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (events[i] == event) return records[i];
        }
        return "<no such event>";
    }
};

const char* name(RegistryEvent e) {
    switch (e) {
        case RegistryEvent::kCreated:
            return "CREATED";
        case RegistryEvent::kUpdated:
            return "UPDATED";
        case RegistryEvent::kDeleted:
            return "DELETED";
    }
    return "?";
}

std::unique_ptr<micro::Watch> watch(micro::Registry& registry, const std::string& service,
                                    const std::shared_ptr<Seen>& seen) {
    return std::make_unique<micro::Watch>(
        registry.watch(service, [seen](RegistryEvent e, const micro::Node& n) {
            {
                std::lock_guard lock(seen->mutex);
                seen->events.push_back(std::string(name(e)) + " " + n.node);
                seen->records.push_back(n.record);
            }
            seen->cv.notify_all();
        }));
}

/// The code and message of the error loading `manifestFile` throws.
std::pair<Code, std::string> loadError(const std::string& manifestFile) {
    try {
        micro::Runtime rt = micro::Runtime::load(manifestFile);
    } catch (const micro::Error& e) {
        return {e.code(), e.what()};
    }
    return {Code::kOk, ""};
}

}  // namespace

TEST_CASE("a node of a process killed with SIGKILL is found, watched, then expires") {
    TempDir dir;
    const std::string m = manifest(dir, pathKey(dir.path() + "/registry.db"));
    micro::Runtime rt = micro::Runtime::load(m);
    auto seen = std::make_shared<Seen>();
    auto w = watch(rt.registry(), "billing", seen);

    const std::string record = allBytes();
    ChildProcess peer({kPeer, m, "hold", "billing", "peer-a", "600", hex(record)});

    REQUIRE(seen->waitFor("CREATED peer-a"));
    CHECK(seen->recordOf("CREATED peer-a") == record);
    const std::vector<micro::Node> nodes = liveNodes(rt.registry(), "billing");
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].node == "peer-a");
    CHECK(nodes[0].record == record);
    CHECK(nodes[0].ttl == 600ms);
    const std::vector<std::string> services = rt.registry().listServices();
    CHECK(std::count(services.begin(), services.end(), "billing") == 1);

    // Refreshed every 200 ms: alive well past its TTL while the peer runs.
    std::this_thread::sleep_for(1000ms);
    CHECK(liveNodes(rt.registry(), "billing").size() == 1);
    CHECK(seen->count("DELETED peer-a") == 0);
    CHECK(seen->count("UPDATED peer-a") >= 2);

    peer.signal(SIGKILL);
    CHECK(peer.wait(10s) == 128 + SIGKILL);
    const auto killedAt = std::chrono::steady_clock::now();
    CHECK(eventually([&] { return liveNodes(rt.registry(), "billing").empty(); }));
    CHECK(std::chrono::steady_clock::now() - killedAt < 2s);  // TTL 600 ms
    CHECK(seen->waitFor("DELETED peer-a"));
    CHECK(seen->recordOf("DELETED peer-a") == record);
    CHECK(eventually([&] {
        const std::vector<std::string> all = rt.registry().listServices();
        return std::find(all.begin(), all.end(), "billing") == all.end();
    }));
}

TEST_CASE("a node left by a process that exited without deregistering expires once") {
    TempDir dir;
    const std::string m = manifest(dir, pathKey(dir.path() + "/registry.db"));
    // Two instances in this process (two sweepers, two watches) and the
    // peer's: the expiry is still reported exactly once to each watch.
    micro::Runtime one = micro::Runtime::load(m);
    micro::Runtime two = micro::Runtime::load(m);
    auto seenOne = std::make_shared<Seen>();
    auto seenTwo = std::make_shared<Seen>();
    auto wOne = watch(one.registry(), "", seenOne);
    auto wTwo = watch(two.registry(), "orders", seenTwo);

    micro::test::ProcessResult r =
        micro::test::runProcess({kPeer, m, "register", "orders", "peer-b", "1500", hex("hello")});
    INFO("peer stderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(liveNodes(one.registry(), "orders").size() == 1);
    CHECK(seenOne->waitFor("CREATED peer-b"));
    CHECK(seenTwo->waitFor("CREATED peer-b"));
    CHECK(seenTwo->recordOf("CREATED peer-b") == "hello");

    CHECK(eventually([&] { return liveNodes(two.registry(), "orders").empty(); }));
    CHECK(seenOne->waitFor("DELETED peer-b"));
    CHECK(seenTwo->waitFor("DELETED peer-b"));
    std::this_thread::sleep_for(300ms);  // a duplicate would have come by now
    CHECK(seenOne->count("DELETED peer-b") == 1);
    CHECK(seenTwo->count("DELETED peer-b") == 1);
    CHECK(seenOne->count("CREATED peer-b") == 1);
}

TEST_CASE("two processes registering nodes of one service at once both land") {
    TempDir dir;
    const std::string m = manifest(dir, pathKey(dir.path() + "/registry.db"));
    micro::Runtime rt = micro::Runtime::load(m);
    auto seen = std::make_shared<Seen>();
    auto w = watch(rt.registry(), "search", seen);

    constexpr int kEach = 50;
    ChildProcess a(
        {kPeer, m, "register", "search", "a", "0", hex("from-a"), std::to_string(kEach)});
    ChildProcess b(
        {kPeer, m, "register", "search", "b", "0", hex("from-b"), std::to_string(kEach)});
    CHECK(a.wait(60s) == 0);
    CHECK(b.wait(60s) == 0);

    const std::vector<micro::Node> nodes = liveNodes(rt.registry(), "search");
    std::set<std::string> names;
    for (const auto& n : nodes) {
        names.insert(n.node);
        CHECK(n.record == (n.node[0] == 'a' ? "from-a" : "from-b"));
    }
    CHECK(nodes.size() == 2 * kEach);
    CHECK(names.size() == 2 * kEach);
    CHECK(names.count("a-0") == 1);
    CHECK(names.count("b-49") == 1);
    CHECK(eventually([&] {
        std::lock_guard lock(seen->mutex);
        return seen->events.size() == 2 * kEach;
    }));
    // This process can remove what the others registered.
    rt.registry().deregisterNode("search", "a-0");
    CHECK(liveNodes(rt.registry(), "search").size() == 2 * kEach - 1);
}

TEST_CASE("without 'path' the database is $MICRO_REGISTRY_PATH, its folder created 0700") {
    TempDir dir;
    const std::string db = dir.path() + "/made/here/registry.db";
    const std::string m = manifest(dir, "");
    micro::test::ProcessResult r = micro::test::runProcess(
        {kPeer, m, "register", "env", "n1", "0", hex("r")}, {"MICRO_REGISTRY_PATH=" + db});
    INFO("peer stderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    CHECK(std::filesystem::exists(db));
    struct stat st {};
    REQUIRE(::stat((dir.path() + "/made").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);

    TempDir other;
    micro::Runtime rt = micro::Runtime::load(manifest(other, pathKey(db)));
    const std::vector<micro::Node> nodes = liveNodes(rt.registry(), "env");
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].node == "n1");
}

TEST_CASE("a file that is not a registry database is refused, named and left alone") {
    TempDir dir;
    const std::string garbage(4096, '\x5a');
    const std::string db = dir.write("registry.db", garbage);
    auto [code, message] = loadError(manifest(dir, pathKey(db)));
    INFO("message: " << message);
    CHECK(code == Code::kDataLoss);
    CHECK(message.find(db) != std::string::npos);
    CHECK(message.find("not a database") != std::string::npos);
    std::ifstream in(db, std::ios::binary);
    std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(after == garbage);
}

TEST_CASE("a path that cannot be created is refused, naming it") {
    TempDir dir;
    const std::string file = dir.write("plain-file", "x");
    auto [code, message] = loadError(manifest(dir, pathKey(file + "/registry.db")));
    INFO("message: " << message);
    CHECK(code == Code::kInvalidArgument);
    CHECK(message.find(file) != std::string::npos);

    auto [dirCode, dirMessage] = loadError(manifest(dir, pathKey(dir.path())));
    INFO("message: " << dirMessage);
    CHECK(dirCode == Code::kInvalidArgument);
    CHECK(dirMessage.find(dir.path()) != std::string::npos);
}

TEST_CASE("bad config is refused, naming the key") {
    TempDir dir;
    const std::string db = pathKey(dir.path() + "/registry.db");
    auto [code, message] = loadError(manifest(dir, db + "colour = \"red\"\n"));
    CHECK(code == Code::kInvalidArgument);
    CHECK(message.find("colour") != std::string::npos);

    TempDir dir2;
    auto [zeroCode, zeroMessage] = loadError(dir2.write(
        "m.toml", "[registry]\nplugin = \"" + kPlugin + "\"\ndriver = \"local\"\npoll_ms = 0\n"));
    CHECK(zeroCode == Code::kInvalidArgument);
    CHECK(zeroMessage.find("poll_ms") != std::string::npos);
}

TEST_CASE(
    "a write lock held past busy_timeout_ms fails writes with UNAVAILABLE while reads go on") {
    TempDir dir;
    const std::string db = dir.path() + "/registry.db";
    micro::Runtime rt =
        micro::Runtime::load(manifest(dir, pathKey(db) + "busy_timeout_ms = 1000\n"));
    micro::Node node{"locked", "n1", "r", 0ms};
    rt.registry().registerNode(node);

    // Another writer (any process) holding the write lock.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    Code code = Code::kOk;
    std::string message;
    std::chrono::steady_clock::duration waited{};
    std::thread writer([&] {
        const auto start = std::chrono::steady_clock::now();
        try {
            rt.registry().registerNode(node);
        } catch (const micro::Error& e) {
            code = e.code();
            message = e.what();
        }
        waited = std::chrono::steady_clock::now() - start;
    });
    // While that register waits for the lock, this instance still reads.
    std::this_thread::sleep_for(200ms);
    const auto lookupStart = std::chrono::steady_clock::now();
    CHECK(liveNodes(rt.registry(), "locked").size() == 1);
    CHECK(std::chrono::steady_clock::now() - lookupStart < 300ms);
    writer.join();

    INFO("message: " << message);
    CHECK(code == Code::kUnavailable);
    CHECK(message.find(db) != std::string::npos);
    CHECK(message.find("locked") != std::string::npos);
    CHECK(waited >= 900ms);

    REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    CHECK_NOTHROW(rt.registry().registerNode(node));
}
