// Publish/subscribe end to end: Service::subscribe with typed events, the
// record's subscribers as `micro describe` shows them, dead-lettering of a
// body that does not decode, and the `micro publish` / `micro subscribe`
// commands against real processes over the direct broker.
#include <doctest/doctest.h>
#include <signal.h>
#include <micro/broker.hpp>
#include <micro/metrics.hpp>
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "greeter.capnp.h"
#include "process.hpp"

using micro::test::ChildProcess;
using micro::test::runProcess;
using micro::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kBin = MICRO_BIN_DIR;

// A private local registry and the tcp transport in a fresh folder, with
// the broker named by `broker` ("memory" in-process, "direct" across
// processes).
struct Setup {
    TempDir dir;
    std::string manifest;

    explicit Setup(const std::string& broker) {
        const std::string plugin = broker == "direct" ? "micro-direct.so" : "micro-memory.so";
        manifest = dir.write("m.toml",
                             "[registry]\nplugin = \"micro-sqlite.so\"\ndriver = \"local\"\n"
                             "path = \"" +
                                 dir.path() +
                                 "/registry.db\"\npoll_ms = 50\n"
                                 "[transport]\nplugin = \"micro-tcp.so\"\ndriver = \"tcp\"\n"
                                 "[broker]\nplugin = \"" +
                                 plugin + "\"\ndriver = \"" + broker + "\"\n");
    }

    micro::test::ProcessResult micro(std::vector<std::string> args) const {
        args.insert(args.begin(), kBin + "/micro");
        args.insert(args.end(), {"--manifest", manifest});
        return runProcess(args, {}, 30);
    }
};

// What a handler saw, for the test thread to wait on.
struct Inbox {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::string> items;

    void add(std::string item) {
        {
            std::lock_guard lock(mutex);
            items.push_back(std::move(item));
        }
        changed.notify_all();
    }
    bool waitFor(std::size_t n) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, 10s, [&] { return items.size() >= n; });
    }
};

// Read lines until one contains `needle`; the line, or empty on EOF/timeout.
std::string readUntil(ChildProcess& child, const std::string& needle) {
    for (;;) {
        auto line = child.readLine(10s);
        if (!line) return {};
        if (line->find(needle) != std::string::npos) return *line;
    }
}

}  // namespace

TEST_CASE(
    "a typed subscriber of a service gets JSON and capnp events and is listed in the record") {
    Setup setup("memory");
    micro::Runtime rt = micro::Runtime::load(setup.manifest);
    micro::Service service(rt, {.name = "welcomer"});
    Inbox inbox;
    service.subscribe<greeter::Welcome>(
        "welcomer.events",
        [&](const micro::MessageView& m, greeter::Welcome::Reader w) {
            inbox.add(std::string(w.getName().cStr()) + "/" +
                      std::string(m.header("Content-Type")));
        },
        {.group = "welcomers"});
    service.start();

    const micro::Header json[] = {{"Content-Type", "application/json"}};
    rt.broker().publish("welcomer.events", R"({"name":"Ada"})", json);
    capnp::MallocMessageBuilder message;
    message.initRoot<greeter::Welcome>().setName("Grace");
    const std::string binary = micro::codec::encode<greeter::Welcome>(
        micro::codec::ContentType::kCapnp, message.getRoot<greeter::Welcome>().asReader());
    const micro::Header capnpType[] = {{"Content-Type", "application/capnp"}};
    rt.broker().publish("welcomer.events", binary, capnpType);
    REQUIRE(inbox.waitFor(2));
    {
        std::lock_guard lock(inbox.mutex);
        CHECK(inbox.items ==
              std::vector<std::string>{"Ada/application/json", "Grace/application/capnp"});
    }

    // Each delivery is counted for /metrics, by topic and result.
    const std::string exposed = micro::metrics::Registry::global().expose();
    CHECK(exposed.find(R"(micro_broker_deliveries_total{topic="welcomer.events",result="ok"} 2)") !=
          std::string::npos);

    const auto described = setup.micro({"describe", "welcomer"});
    INFO(described.err);
    CHECK(described.exitCode == 0);
    CHECK(described.out.find("subscribes: welcomer.events  group welcomers  message: Welcome { "
                             "name: Text }") != std::string::npos);

    service.stop();
    // Unsubscribed at stop: the memory broker now knows nobody listens.
    CHECK_THROWS_AS(rt.broker().publish("welcomer.events", R"({"name":"late"})", json),
                    micro::Error);
}

TEST_CASE("an event that does not decode is dead-lettered at once, without retries") {
    Setup setup("memory");
    micro::Runtime rt = micro::Runtime::load(setup.manifest);
    micro::Service service(rt, {.name = "strict"});
    Inbox handled;
    service.subscribe<greeter::Welcome>(
        "strict.events",
        [&](const micro::MessageView&, greeter::Welcome::Reader w) {
            handled.add(w.getName().cStr());
        },
        {.maxRetries = 5, .retryBackoff = 1000ms, .deadLetterTopic = "strict.dead"});
    Inbox dead;
    micro::Subscription deadSub =
        rt.broker().subscribe("strict.dead", [&](const micro::MessageView& m) {
            dead.add(std::string(m.body) + "|" + std::string(m.header("Micro-Attempts")) + "|" +
                     std::string(m.header("Micro-Dead-Letter-Reason")));
        });
    service.start();

    const micro::Header json[] = {{"Content-Type", "application/json"}};
    rt.broker().publish("strict.events", R"({"nmae":"typo"})", json);
    rt.broker().publish("strict.events", R"({"name":"ok"})", json);
    REQUIRE(dead.waitFor(1));
    REQUIRE(handled.waitFor(1));
    std::lock_guard lock(dead.mutex);
    CHECK(dead.items[0].starts_with(R"({"nmae":"typo"}|1|)"));
    CHECK(dead.items[0].find("nmae") != std::string::npos);  // the reason names the field
    std::lock_guard lockHandled(handled.mutex);
    CHECK(handled.items == std::vector<std::string>{"ok"});
    const std::string exposed = micro::metrics::Registry::global().expose();
    CHECK(exposed.find(
              R"(micro_broker_deliveries_total{topic="strict.events",result="dead_letter"} 1)") !=
          std::string::npos);
}

TEST_CASE("micro publish refuses malformed JSON, a bad topic and a bad header before sending") {
    Setup setup("memory");
    auto badJson = setup.micro({"publish", "some.topic", "{\"name\": "});
    CHECK(badJson.exitCode == 1);
    CHECK(badJson.err.find("malformed JSON at offset") != std::string::npos);

    auto badTopic = setup.micro({"publish", "has space", "{}"});
    CHECK(badTopic.exitCode == 1);
    CHECK(badTopic.err.find("topic has a character not allowed") != std::string::npos);

    auto badHeader = setup.micro({"publish", "t", "{}", "--header", "novalue"});
    CHECK(badHeader.exitCode == 2);
    CHECK(badHeader.err.find("--header needs KEY=VALUE") != std::string::npos);

    auto badType = setup.micro({"publish", "t", "{}", "--content-type", "text/x-nope"});
    CHECK(badType.exitCode == 1);
    CHECK(badType.err.find("text/x-nope") != std::string::npos);

    auto missing = setup.micro({"subscribe"});
    CHECK(missing.exitCode == 2);
}

TEST_CASE("micro publish reaches a running service and micro subscribe over the direct broker") {
    Setup setup("direct");
    ChildProcess greeter({kBin + "/greeter-server", "--manifest", setup.manifest},
                         setup.dir.path() + "/greeter.err");
    REQUIRE_MESSAGE(!readUntil(greeter, "listening on").empty(), "greeter-server did not start");

    ChildProcess watcher({kBin + "/micro", "subscribe", "greeter.welcome", "--group", "audit",
                          "--count", "1", "--manifest", setup.manifest},
                         setup.dir.path() + "/subscribe.err");
    // The subscriber is ready once its broker node is in the registry.
    bool ready = false;
    for (int i = 0; i < 100 && !ready; ++i) {
        ready =
            setup.micro({"describe", "micro.broker"}).out.find("group audit") != std::string::npos;
        if (!ready) std::this_thread::sleep_for(100ms);
    }
    REQUIRE(ready);

    auto published = setup.micro({"publish", "greeter.welcome", R"({"name":"Ada"})"});
    INFO(published.err);
    REQUIRE(published.exitCode == 0);
    const std::string id = published.out.substr(0, published.out.find('\n'));
    CHECK(!id.empty());

    const std::string welcome = readUntil(greeter, "welcome Ada");
    CHECK(welcome.find(id) != std::string::npos);
    auto line = watcher.readLine(10s);
    REQUIRE(line.has_value());
    CHECK(line->find(R"("body":{"name":"Ada"})") != std::string::npos);
    CHECK(line->find(id) != std::string::npos);
    CHECK(watcher.wait(10s) == std::optional<int>(0));

    greeter.signal(SIGTERM);
    CHECK(greeter.wait(10s) == std::optional<int>(0));
}
