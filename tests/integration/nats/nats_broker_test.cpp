// The "nats" broker of micro-nats.so against a real nats-server of its own
// (nats_server.hpp): bad config and unreachable servers at create, headers
// and binary bodies byte-exact, publishes while the server is down and
// recovery after a restart (core and JetStream), a JetStream group member
// SIGKILLed in a second process before acking, and manual nacks.
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "child_process.hpp"  // tests/support
#include "nats_server.hpp"
#include "process.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::ChildProcess;
using micro::test::NatsServer;
using micro::test::TempDir;

namespace {

const std::string kPlugin = MICRO_NATS_PLUGIN;
const std::string kPeer = MICRO_NATS_GROUP_PEER;

std::string manifest(const TempDir& dir, const std::string& url, const std::string& extra = "") {
    return dir.write("broker.toml", "[broker]\nplugin = \"" + kPlugin +
                                        "\"\ndriver = \"nats\"\nurl = \"" + url + "\"\n" + extra);
}

const std::string kJetStream = "jetstream = true\nack_wait_ms = 1000\nnak_delay_ms = 100\n";

struct Outcome {
    Code code = Code::kOk;
    std::string message;
};

Outcome outcomeOf(const std::function<void()>& f) {
    Outcome o;
    try {
        f();
    } catch (const micro::Error& e) {
        o.code = e.code();
        o.message = e.what();
    }
    return o;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(50ms);
    }
}

/// Bodies a subscription received, shared with its handler.
struct Inbox {
    std::mutex mutex;
    std::vector<std::string> bodies;

    micro::MessageHandler handler() {
        return [this](const micro::MessageView& m) {
            std::lock_guard lock(mutex);
            bodies.emplace_back(m.body);
        };
    }
    std::set<std::string> distinct() {
        std::lock_guard lock(mutex);
        return {bodies.begin(), bodies.end()};
    }
    bool has(const std::string& body) { return distinct().count(body) != 0; }
};

}  // namespace

TEST_CASE("nats: a bad config is refused naming the key") {
    const std::pair<std::string, std::string> bad[] = {
        {"url = \"http://127.0.0.1:4222\"\n", "key 'url'"},
        {"url = \"nats://\"\n", "key 'url'"},
        {"url = \"nats://127.0.0.1:99999\"\n", "key 'url'"},
        {"url = \"nats://127.0.0.1:4222/path\"\n", "key 'url'"},
        {"timeout_ms = 0\n", "key 'timeout_ms'"},
        {"timeout_ms = \"soon\"\n", "key 'timeout_ms'"},
        {"jetstream = \"maybe\"\n", "key 'jetstream'"},
        {"stream = \"a.b\"\n", "key 'stream'"},
        {"ack_wait_ms = -5\n", "key 'ack_wait_ms'"},
        {"max_deliver = 0\n", "key 'max_deliver'"},
        {"subject_prefix = \"a b\"\n", "key 'subject_prefix'"},
        {"jetstream = true\nsubject_prefix = \"\"\n", "key 'subject_prefix'"},
        {"queue = \"x\"\n", "unknown key 'queue'"},
    };
    for (const auto& [lines, expected] : bad) {
        CAPTURE(lines);
        TempDir dir;
        // Lines that set url replace the default one in the manifest.
        const bool hasUrl = lines.rfind("url", 0) == 0;
        const std::string path =
            hasUrl ? dir.write("broker.toml", "[broker]\nplugin = \"" + kPlugin +
                                                  "\"\ndriver = \"nats\"\n" + lines)
                   : manifest(dir, "nats://127.0.0.1:1", lines);
        const Outcome o = outcomeOf([&] { micro::Runtime::load(path); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kInvalidArgument);
        CHECK(o.message.find(expected) != std::string::npos);
    }
    SUBCASE("a password in a bad url is not echoed") {
        TempDir dir;
        const Outcome o = outcomeOf(
            [&] { micro::Runtime::load(manifest(dir, "nats://user:s3cret@127.0.0.1:port")); });
        CHECK(o.code == Code::kInvalidArgument);
        CHECK(o.message.find("s3cret") == std::string::npos);
    }
}

TEST_CASE("nats: an unreachable url fails create with UNAVAILABLE naming the url") {
    TempDir dir;
    const std::string url = "nats://127.0.0.1:" + std::to_string(micro::test::freeLoopbackPort());
    const Outcome o =
        outcomeOf([&] { micro::Runtime::load(manifest(dir, url, "timeout_ms = 300\n")); });
    INFO("message: " << o.message);
    CHECK(o.code == Code::kUnavailable);
    CHECK(o.message.find(url) != std::string::npos);
    CHECK(o.message.find("key 'url'") != std::string::npos);
}

TEST_CASE("nats: jetstream against a server without JetStream fails create naming the key") {
    NatsServer server(false);
    TempDir dir;
    const Outcome o =
        outcomeOf([&] { micro::Runtime::load(manifest(dir, server.url(), kJetStream)); });
    INFO("message: " << o.message);
    CHECK(o.code == Code::kFailedPrecondition);
    CHECK(o.message.find("jetstream") != std::string::npos);
}

TEST_CASE("nats: a topic or group NATS cannot carry is refused") {
    NatsServer server(false);
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url()));
    // The facade refuses blanks and wildcards itself; empty tokens reach the driver.
    for (const std::string topic : {"a..b", ".lead", "trail."}) {
        CAPTURE(topic);
        const Outcome o = outcomeOf([&] { rt.broker().publish(topic, "x"); });
        INFO("message: " << o.message);
        CHECK(o.code == Code::kInvalidArgument);
        CHECK(o.message.find(topic) != std::string::npos);
    }
    micro::SubscribeOptions options;
    options.group = "bad group";
    const Outcome o = outcomeOf([&] {
        rt.broker().subscribe(
            "ok", [](const micro::MessageView&) {}, options);
    });
    CHECK(o.code == Code::kInvalidArgument);
    CHECK(o.message.find("bad group") != std::string::npos);
}

TEST_CASE("nats: headers and a binary body round trip byte-exact") {
    for (const bool js : {false, true}) {
        CAPTURE(js);
        NatsServer server(js);
        TempDir dir;
        micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), js ? kJetStream : ""));
        std::string body;
        for (int i = 0; i < 3; ++i)
            for (int c = 0; c < 256; ++c) body.push_back(static_cast<char>(c));
        const std::vector<std::pair<std::string, std::string>> sent{
            {"x-plain", "value"},
            {"x-empty", ""},
            {"x-padded", "  two blanks each side  "},
            {"x-crlf", "line1\r\nline2"},
            {"x-nul", std::string("a\0b", 3)},
            {"x-percent", "100%25 sure %"},
            {"x-tab", "\tleading tab"},
            {"x-utf8", "gr\xC3\xBC\xC3\x9F dich \xE2\x9C\x93"},
        };
        std::mutex mutex;
        std::condition_variable cv;
        bool arrived = false;
        std::string gotBody;
        std::multimap<std::string, std::string> gotHeaders;
        micro::Subscription sub =
            rt.broker().subscribe("roundtrip", [&](const micro::MessageView& m) {
                std::lock_guard lock(mutex);
                gotBody = m.body;
                for (const micro_kv& kv : m.headers)
                    gotHeaders.emplace(std::string(kv.key.data, kv.key.size),
                                       std::string(kv.value.data, kv.value.size));
                arrived = true;
                cv.notify_all();
            });
        std::vector<micro::Header> headers;
        for (const auto& [k, v] : sent) headers.push_back({k, v});
        rt.broker().publish("roundtrip", body, headers);
        std::unique_lock lock(mutex);
        REQUIRE(cv.wait_for(lock, 10s, [&] { return arrived; }));
        CHECK(gotBody == body);
        for (const auto& [k, v] : sent) {
            CAPTURE(k);
            REQUIRE(gotHeaders.count(k) == 1);
            CHECK(gotHeaders.find(k)->second == v);
        }
        CHECK(gotHeaders.count("Micro-Escaped-Headers") == 0);
        if (js) {
            REQUIRE(gotHeaders.count("Micro-Delivery-Count") == 1);
            CHECK(gotHeaders.find("Micro-Delivery-Count")->second == "1");
        }
    }
}

TEST_CASE("nats core: publishes while the server is down fail UNAVAILABLE, then it reconnects") {
    NatsServer server(false);
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), "timeout_ms = 500\n"));
    Inbox inbox;
    micro::Subscription sub = rt.broker().subscribe("restart", inbox.handler());
    rt.broker().publish("restart", "before");
    CHECK(eventually([&] { return inbox.has("before"); }));

    server.kill9();
    // The client notices the closed socket and starts reconnecting.
    Outcome down;
    CHECK(eventually([&] {
        down = outcomeOf([&] { rt.broker().publish("restart", "while-down"); });
        return down.code != Code::kOk;
    }));
    INFO("message: " << down.message);
    CHECK(down.code == Code::kUnavailable);
    CHECK(down.message.find(server.url()) != std::string::npos);
    for (int i = 0; i < 20; ++i) {
        const Outcome o =
            outcomeOf([&] { rt.broker().publish("restart", "down-" + std::to_string(i)); });
        CHECK(o.code == Code::kUnavailable);
    }

    server.restart();
    // Once reconnected, the subscription is back and new messages arrive.
    int n = 0;
    CHECK(eventually([&] {
        const std::string body = "after-" + std::to_string(n++);
        const Outcome o = outcomeOf([&] { rt.broker().publish("restart", body); });
        return o.code == Code::kOk && eventually([&] { return inbox.has(body); }, 500ms);
    }));
    // Nothing published while down was queued and sent later.
    for (const std::string& b : inbox.distinct()) CHECK(b.rfind("down-", 0) != 0);
}

TEST_CASE("nats jetstream: every publish that completed OK is delivered across a server restart") {
    NatsServer server(true);
    TempDir dir;
    micro::Runtime rt =
        micro::Runtime::load(manifest(dir, server.url(), kJetStream + "timeout_ms = 1000\n"));
    Inbox inbox;
    micro::SubscribeOptions options;
    options.group = "workers";
    micro::Subscription sub = rt.broker().subscribe("durable", inbox.handler(), options);

    std::set<std::string> ok;
    int failed = 0;
    auto publish = [&](const std::string& body) {
        const Outcome o = outcomeOf([&] { rt.broker().publish("durable", body); });
        if (o.code == Code::kOk) {
            ok.insert(body);
        } else {
            ++failed;
            CHECK_MESSAGE(o.code == Code::kUnavailable, o.message);
        }
        return o;
    };
    for (int i = 0; i < 20; ++i) CHECK(publish("before-" + std::to_string(i)).code == Code::kOk);

    server.kill9();
    for (int i = 0; i < 10; ++i) {
        const Outcome o = publish("down-" + std::to_string(i));
        CHECK(o.code == Code::kUnavailable);
    }
    server.restart();
    int n = 0;
    CHECK(
        eventually([&] { return publish("after-" + std::to_string(n++)).code == Code::kOk; }, 30s));
    for (int i = 0; i < 20; ++i) publish("later-" + std::to_string(i));

    const bool all = eventually(
        [&] {
            const auto got = inbox.distinct();
            for (const auto& b : ok)
                if (got.count(b) == 0) return false;
            return true;
        },
        30s);
    CHECK(all);
    CHECK(ok.size() >= 41);
    MESSAGE("published OK: " << ok.size() << ", failed: " << failed);
}

TEST_CASE("nats jetstream: a group member killed before acking loses no message") {
    constexpr int kMessages = 60;
    NatsServer server(true);
    TempDir dir;
    const std::string path = manifest(dir, server.url(), kJetStream);
    const std::string topic = "crash";
    const std::string group = "crash-workers";

    ChildProcess peer({kPeer, path, topic, group}, dir.path() + "/peer.err");
    const auto ready = peer.readLine(20s);
    REQUIRE_MESSAGE(ready.has_value(), "the peer did not start");
    REQUIRE(*ready == "ready");

    micro::Runtime rt = micro::Runtime::load(path);
    Inbox inbox;
    micro::SubscribeOptions options;
    options.group = group;
    micro::Subscription sub = rt.broker().subscribe(topic, inbox.handler(), options);

    std::set<std::string> expected;
    for (int i = 0; i < kMessages; ++i) {
        std::string body("m");
        body += std::to_string(i);
        expected.insert(body);
        rt.broker().publish(topic, body);
    }
    // The peer took at least one message and holds it unacked.
    const auto line = peer.readLine(20s);
    REQUIRE_MESSAGE(line.has_value(), "the peer received nothing");
    const std::string taken = line->substr(std::string("received ").size());
    CHECK(expected.count(taken) == 1);
    peer.signal(SIGKILL);
    CHECK(peer.wait(10s).has_value());

    // After ack_wait_ms the server hands the peer's messages to us.
    const bool all = eventually([&] { return inbox.distinct() == expected; }, 60s);
    CHECK(all);
    CHECK(inbox.has(taken));
}

TEST_CASE("nats jetstream: a manual nack is redelivered with a growing Micro-Delivery-Count") {
    NatsServer server(true);
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(manifest(dir, server.url(), kJetStream));
    struct Delivery {
        std::string body;
        std::string count;
        std::uint64_t id;
    };
    std::mutex mutex;
    std::vector<Delivery> deliveries;
    micro::SubscribeOptions options;
    options.manualAck = true;
    micro::Subscription sub = rt.broker().subscribe(
        "manual",
        [&](const micro::MessageView& m) {
            std::lock_guard lock(mutex);
            deliveries.push_back(
                {std::string(m.body), std::string(m.header("Micro-Delivery-Count")), m.deliveryId});
        },
        options);
    rt.broker().publish("manual", "again");
    auto count = [&] {
        std::lock_guard lock(mutex);
        return deliveries.size();
    };
    REQUIRE(eventually([&] { return count() >= 1; }, 10s));
    std::uint64_t first = 0;
    {
        std::lock_guard lock(mutex);
        CHECK(deliveries[0].count == "1");
        first = deliveries[0].id;
    }
    sub.ack(first, false);
    REQUIRE(eventually([&] { return count() >= 2; }, 10s));
    {
        std::lock_guard lock(mutex);
        CHECK(deliveries[1].body == "again");
        CHECK(deliveries[1].count == "2");
        CHECK(deliveries[1].id != first);
        sub.ack(deliveries[1].id, true);
    }
    // An id that is no longer outstanding is refused.
    const Outcome o = outcomeOf([&] { sub.ack(first, true); });
    CHECK(o.code == Code::kNotFound);
}
