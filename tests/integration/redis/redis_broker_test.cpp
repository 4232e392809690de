// The "redis" broker of micro-redis.so against a real redis-server of its
// own (redis_server.hpp), in both modes: a group member killed with SIGKILL
// before acking (a real second process), a server restart mid-stream with
// publishers running, publishing and subscribing while the server is down,
// bad config, binary headers and bodies, redelivery with
// Micro-Delivery-Count, manual ack, Pub/Sub's NOT_FOUND and emulated groups.
#include <doctest/doctest.h>
#include <micro/broker.hpp>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

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
const std::string kPeer = MICRO_REDIS_BROKER_PEER;

/// A manifest selecting the redis broker at `url`, with extra config lines.
std::string manifest(const TempDir& dir, const std::string& url, const std::string& extra = "",
                     const std::string& name = "broker.toml") {
    return dir.write(name, "[broker]\nplugin = \"" + kPlugin + "\"\ndriver = \"redis\"\nurl = \"" +
                               url + "\"\n" + extra);
}

/// Short waits so the tests run fast: a nack comes back after 300 ms.
const std::string kFast = "block_ms = 100\nclaim_idle_ms = 300\ntimeout_ms = 1000\n";

Code codeOf(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
        return Code::kOk;
    } catch (const micro::Error& e) {
        if (message != nullptr) *message = e.what();
        return e.code();
    }
}

/// What a handler saw, shared with the test thread.
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> bodies;
    std::vector<std::map<std::string, std::string>> headers;

    void add(const micro::MessageView& m) {
        std::map<std::string, std::string> h;
        for (const micro_kv& kv : m.headers)
            h.emplace(std::string(kv.key.data, kv.key.size),
                      std::string(kv.value.data, kv.value.size));
        {
            std::lock_guard lock(mutex);
            bodies.emplace_back(m.body);
            headers.push_back(std::move(h));
        }
        changed.notify_all();
    }
    bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, pred);
    }
};

micro::MessageHandler into(Inbox& inbox) {
    return [&inbox](const micro::MessageView& m) { inbox.add(m); };
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

/// The number of pending (delivered, unacked) entries of `group` on `stream`.
std::string pendingCount(const RedisServer& server, const std::string& stream,
                         const std::string& group) {
    return server.command({"XPENDING", stream, group}).at(0);
}

std::string loadError(const std::string& path) {
    try {
        micro::Runtime runtime = micro::Runtime::load(path);
        (void)runtime.broker();
    } catch (const micro::Error& e) {
        return e.describe();
    }
    return "loaded";
}

}  // namespace

TEST_CASE("redis broker: bad config and a bad url fail create with a clear error") {
    TempDir dir;
    const std::string url = "redis://127.0.0.1:1/0";
    struct Bad {
        std::string lines;
        std::string mentions;
    };
    const Bad bad[] = {
        {"mode = \"kafka\"\n", "'mode'"},        {"timeout_ms = 0\n", "'timeout_ms'"},
        {"block_ms = \"soon\"\n", "'block_ms'"}, {"claim_idle_ms = -5\n", "'claim_idle_ms'"},
        {"max_len = -1\n", "'max_len'"},         {"colour = \"blue\"\n", "'colour'"},
    };
    int i = 0;
    for (const Bad& b : bad) {
        CAPTURE(b.lines);
        const std::string error =
            loadError(manifest(dir, url, b.lines, "bad" + std::to_string(i++) + ".toml"));
        CHECK(error.find("INVALID_ARGUMENT") != std::string::npos);
        CHECK(error.find(b.mentions) != std::string::npos);
    }
    for (const std::string badUrl :
         {"http://127.0.0.1:6379", "redis://127.0.0.1:99999/0", "redis://:6379", "redis://h/x"}) {
        CAPTURE(badUrl);
        const std::string error = loadError(manifest(dir, badUrl, "", "url.toml"));
        CHECK(error.find("INVALID_ARGUMENT") != std::string::npos);
        CHECK(error.find("'url'") != std::string::npos);
    }
}

TEST_CASE("redis broker: binary headers and body round trip, and a nack comes back counted") {
    RedisServer server;
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server.url(), kFast));
    micro::Broker& broker = runtime.broker();

    std::string body;
    for (int i = 0; i < 256; ++i) body.push_back(static_cast<char>(i));
    body += std::string("\0\0end", 5);
    const std::string key("x-bin\0\xff", 7);
    const std::string value("\0\x01\xfe value\r\n", 11);

    Inbox inbox;
    std::atomic<bool> nacked{false};
    micro::Subscription sub;
    micro::SubscribeOptions options;
    options.group = "workers";
    options.manualAck = true;
    sub = broker.subscribe(
        "bin.topic",
        [&](const micro::MessageView& m) {
            inbox.add(m);
            // The first delivery is nacked: the message must come back.
            sub.ack(m.deliveryId, nacked.exchange(true));
        },
        options);
    const micro::Header headers[] = {{key, value}, {"x-empty", ""}};
    broker.publish("bin.topic", body, headers);

    REQUIRE(inbox.waitFor([&] { return inbox.bodies.size() >= 2; }));
    sub.unsubscribe();
    std::lock_guard lock(inbox.mutex);
    for (std::size_t i = 0; i < 2; ++i) {
        CAPTURE(i);
        CHECK(inbox.bodies[i] == body);
        CHECK(inbox.headers[i][key] == value);
        CHECK(inbox.headers[i].count("x-empty") == 1);
        CHECK(inbox.headers[i]["Micro-Delivery-Count"] == std::to_string(i + 1));
        CHECK(!inbox.headers[i]["Micro-Id"].empty());
    }
    CHECK(inbox.headers[0]["Micro-Id"] == inbox.headers[1]["Micro-Id"]);
    // The ack of the second delivery settled it: nothing stays pending.
    CHECK(eventually(
        [&] { return pendingCount(server, "micro:topic:bin.topic", "workers") == "0"; }));
}

TEST_CASE("redis broker: pubsub mode round trips binary data, and reports NOT_FOUND") {
    RedisServer server;
    TempDir dir;
    micro::Runtime runtime =
        micro::Runtime::load(manifest(dir, server.url(), "mode = \"pubsub\"\n" + kFast));
    micro::Broker& broker = runtime.broker();

    std::string message;
    CHECK(codeOf([&] { broker.publish("ps.none", "x"); }, &message) == Code::kNotFound);
    CHECK(message.find("ps.none") != std::string::npos);

    std::string body("\0\x01\xff binary", 10);
    const std::string key("k\0\xfe", 3);
    Inbox inbox;
    micro::Subscription sub = broker.subscribe("ps.bin", into(inbox));
    const micro::Header headers[] = {{key, std::string("v\0v", 3)}};
    broker.publish("ps.bin", body, headers);
    REQUIRE(inbox.waitFor([&] { return !inbox.bodies.empty(); }));
    std::lock_guard lock(inbox.mutex);
    CHECK(inbox.bodies[0] == body);
    CHECK(inbox.headers[0][key] == std::string("v\0v", 3));
}

TEST_CASE("redis broker: pubsub groups deliver each message to one member across processes") {
    RedisServer server;
    TempDir dir;
    const std::string path = manifest(dir, server.url(), "mode = \"pubsub\"\n" + kFast);
    // Two runtimes: two driver instances, as two processes would have.
    micro::Runtime a = micro::Runtime::load(path);
    micro::Runtime b = micro::Runtime::load(path);
    Inbox inbox;
    micro::SubscribeOptions options;
    options.group = "g";
    micro::Subscription s1 = a.broker().subscribe("ps.group", into(inbox), options);
    micro::Subscription s2 = b.broker().subscribe("ps.group", into(inbox), options);
    Inbox everyone;
    micro::Subscription s3 = b.broker().subscribe("ps.group", into(everyone));
    constexpr int kMessages = 40;
    for (int i = 0; i < kMessages; ++i) a.broker().publish("ps.group", "m" + std::to_string(i));
    REQUIRE(everyone.waitFor([&] { return everyone.bodies.size() >= kMessages; }));
    // The group's members have seen the same publishes by now, or soon.
    REQUIRE(inbox.waitFor([&] {
        return std::set<std::string>(inbox.bodies.begin(), inbox.bodies.end()).size() >= kMessages;
    }));
    s1.unsubscribe();
    s2.unsubscribe();
    std::lock_guard lock(inbox.mutex);
    CHECK(inbox.bodies.size() == kMessages);  // none twice
}

TEST_CASE("redis broker: publish and subscribe while the server is down fail UNAVAILABLE") {
    for (const std::string mode : {"streams", "pubsub"}) {
        CAPTURE(mode);
        RedisServer server;
        TempDir dir;
        micro::Runtime runtime =
            micro::Runtime::load(manifest(dir, server.url(), "mode = \"" + mode + "\"\n" + kFast));
        micro::Broker& broker = runtime.broker();
        Inbox inbox;
        micro::Subscription sub = broker.subscribe("down.topic", into(inbox));
        server.kill9();
        std::string message;
        CHECK(codeOf([&] { broker.publish("down.topic", "lost"); }, &message) ==
              Code::kUnavailable);
        CHECK(message.find(std::to_string(server.port())) != std::string::npos);
        CHECK(codeOf([&] { broker.publish("down.topic", "lost"); }) == Code::kUnavailable);
        CHECK(codeOf([&] { (void)broker.subscribe("down.other", into(inbox)); }) ==
              Code::kUnavailable);
        server.restart();
        // The subscriber reconnects by itself; the publisher too.
        bool delivered = false;
        for (int attempt = 0; attempt < 100 && !delivered; ++attempt) {
            (void)codeOf([&] { broker.publish("down.topic", "back"); });
            delivered = inbox.waitFor([&] { return !inbox.bodies.empty(); }, 200ms);
        }
        CHECK(delivered);
        sub.unsubscribe();
    }
}

TEST_CASE("redis broker: a group member killed before acking has its messages redelivered") {
    RedisServer server;
    TempDir dir;
    const std::string path = manifest(dir, server.url(), kFast);
    constexpr int kMessages = 20;

    ChildProcess peer({kPeer, path, "crash.topic", "workers"}, dir.path() + "/peer.err");
    auto line = peer.readLine(20s);
    REQUIRE_MESSAGE(line == std::optional<std::string>("ready"), "the peer did not start");

    micro::Runtime runtime = micro::Runtime::load(path);
    micro::Broker& broker = runtime.broker();
    for (int i = 0; i < kMessages; ++i) broker.publish("crash.topic", "c" + std::to_string(i));
    // The peer is the group's only member: it receives all, acks none.
    int got = 0;
    while (got < kMessages) {
        line = peer.readLine(20s);
        REQUIRE(line.has_value());
        if (line->starts_with("got ")) ++got;
    }
    peer.signal(SIGKILL);
    CHECK(peer.wait(10s).has_value());

    Inbox inbox;
    micro::SubscribeOptions options;
    options.group = "workers";
    micro::Subscription sub = broker.subscribe("crash.topic", into(inbox), options);
    for (int i = kMessages; i < kMessages + 5; ++i)
        broker.publish("crash.topic", "c" + std::to_string(i));
    const bool all = inbox.waitFor([&] {
        std::set<std::string> seen(inbox.bodies.begin(), inbox.bodies.end());
        return seen.size() >= kMessages + 5;
    });
    CHECK(all);
    sub.unsubscribe();
    std::lock_guard lock(inbox.mutex);
    int redelivered = 0;
    for (std::size_t i = 0; i < inbox.bodies.size(); ++i) {
        const int n = std::stoi(inbox.bodies[i].substr(1));
        if (n < kMessages) {
            CHECK(std::stoi(inbox.headers[i]["Micro-Delivery-Count"]) >= 2);
            ++redelivered;
        }
    }
    CHECK(redelivered >= kMessages);
    CHECK(eventually(
        [&] { return pendingCount(server, "micro:topic:crash.topic", "workers") == "0"; }));
}

TEST_CASE("redis broker: a server restart mid-stream loses no publish that completed OK") {
    RedisServer server;  // appendonly yes, appendfsync always
    TempDir dir;
    micro::Runtime runtime = micro::Runtime::load(manifest(dir, server.url(), kFast));
    micro::Broker& broker = runtime.broker();
    Inbox inbox;
    micro::SubscribeOptions options;
    options.group = "restart";
    micro::Subscription sub = broker.subscribe("restart.topic", into(inbox), options);

    std::mutex mutex;
    std::set<std::string> completed;  // published OK
    std::map<Code, int> failures;
    std::atomic<bool> stop{false};
    std::thread publisher([&] {
        for (int i = 0; !stop.load(); ++i) {
            const std::string body = "r" + std::to_string(i);
            const Code code = codeOf([&] { broker.publish("restart.topic", body); });
            std::lock_guard lock(mutex);
            if (code == Code::kOk) {
                completed.insert(body);
            } else {
                ++failures[code];
                std::this_thread::sleep_for(10ms);
            }
        }
    });
    auto completedCount = [&] {
        std::lock_guard lock(mutex);
        return completed.size();
    };
    auto unavailable = [&] {
        std::lock_guard lock(mutex);
        return failures[Code::kUnavailable];
    };
    while (completedCount() < 200) std::this_thread::sleep_for(5ms);
    server.kill9();
    while (unavailable() < 3) std::this_thread::sleep_for(5ms);
    server.restart();
    const std::size_t before = completedCount();
    while (completedCount() < before + 200) std::this_thread::sleep_for(5ms);
    stop = true;
    publisher.join();

    const bool all = inbox.waitFor([&] {
        std::set<std::string> seen(inbox.bodies.begin(), inbox.bodies.end());
        for (const std::string& b : completed)
            if (seen.count(b) == 0) return false;
        return true;
    });
    CHECK(all);
    sub.unsubscribe();
    CHECK(failures[Code::kUnavailable] >= 3);
    CHECK(failures.size() == 1);  // UNAVAILABLE only: never another code, never a hang
}
