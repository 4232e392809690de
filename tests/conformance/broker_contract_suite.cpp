// Broker conformance, part two: what every driver carries for the core's
// broker contract (micro/broker.hpp) — message ids, input checks before
// anything is published, retries and the dead-letter topic, middleware.
#include "conformance.hpp"

#include <micro/broker.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;

namespace {

micro::Broker& broker() { return conformance::runtime().broker(); }

struct Received {
    std::string topic;
    std::string body;
    std::map<std::string, std::string> headers;
};

// Everything one subscription received; shared with its handler.
struct Log {
    conformance::Signal signal;
    std::vector<Received> messages;
    int calls = 0;

    std::size_t size() {
        auto lock = signal.lock();
        return messages.size();
    }
};

micro::MessageHandler logInto(const std::shared_ptr<Log>& log) {
    return [log](const micro::MessageView& m) {
        Received r{std::string(m.topic), std::string(m.body), {}};
        for (const micro_kv& kv : m.headers) {
            r.headers.emplace(std::string(kv.key.data, kv.key.size),
                              std::string(kv.value.data, kv.value.size));
        }
        {
            auto lock = log->signal.lock();
            log->messages.push_back(std::move(r));
        }
        log->signal.notify();
    };
}

}  // namespace

TEST_SUITE("broker") {
    TEST_CASE("broker: every message carries a unique Micro-Id and its Content-Type") {
        const std::string topic = unique("ids");
        auto log = std::make_shared<Log>();
        micro::Subscription sub = broker().subscribe(topic, logInto(log));
        const micro::Header json[] = {{"Content-Type", "application/json"}};
        CHECK_CODE(broker().publish(topic, "{\"n\":1}", json), Code::kOk);
        CHECK_CODE(broker().publish(topic, "raw"), Code::kOk);
        const micro::Header own[] = {{"Micro-Id", "my-own-id"}};
        CHECK_CODE(broker().publish(topic, "own"), Code::kOk);
        CHECK_CODE(broker().publish(topic, "own-id", own), Code::kOk);
        REQUIRE(log->signal.waitFor([&] { return log->messages.size() >= 4; }));
        sub.unsubscribe();

        auto lock = log->signal.lock();
        std::map<std::string, Received> byBody;
        for (const auto& m : log->messages) byBody[m.body] = m;
        REQUIRE(byBody.count("{\"n\":1}") == 1);
        REQUIRE(byBody.count("raw") == 1);
        REQUIRE(byBody.count("own") == 1);
        REQUIRE(byBody.count("own-id") == 1);
        CHECK(byBody["{\"n\":1}"].headers["Content-Type"] == "application/json");
        CHECK(byBody["raw"].headers["Content-Type"] == "application/octet-stream");
        const std::string a = byBody["raw"].headers["Micro-Id"];
        const std::string b = byBody["own"].headers["Micro-Id"];
        CHECK(!a.empty());
        CHECK(!b.empty());
        CHECK(a != b);
        CHECK(byBody["own-id"].headers["Micro-Id"] == "my-own-id");
    }

    TEST_CASE("broker: a bad topic, an oversized body or an unknown content type publish nothing") {
        const std::string topic = unique("refused");
        auto log = std::make_shared<Log>();
        micro::Subscription sub = broker().subscribe(topic, logInto(log));
        const std::size_t limit = broker().limits().maxBodyBytes;

        CHECK_CODE(broker().publish("", "x"), Code::kInvalidArgument);
        CHECK_CODE(broker().publish(std::string(broker().limits().maxTopicBytes + 1, 't'), "x"),
                   Code::kInvalidArgument);
        CHECK_CODE(broker().publish("has space", "x"), Code::kInvalidArgument);
        CHECK_CODE(broker().publish("wild.*", "x"), Code::kInvalidArgument);
        CHECK_CODE(broker().publish(std::string("nul\0byte", 8), "x"), Code::kInvalidArgument);
        CHECK_CODE(broker().publish(topic, std::string(limit + 1, 'b')), Code::kInvalidArgument);
        const micro::Header unknownType[] = {{"Content-Type", "text/x-unknown"}};
        CHECK_CODE(broker().publish(topic, "typed", unknownType), Code::kInvalidArgument);
        // A body exactly at the limit is fine; then a marker shows the
        // refused ones never arrived.
        CHECK_CODE(broker().publish(topic, std::string(limit, 'b')), Code::kOk);
        CHECK_CODE(broker().publish(topic, "marker"), Code::kOk);
        REQUIRE(log->signal.waitFor([&] {
            return std::any_of(log->messages.begin(), log->messages.end(),
                               [](const Received& r) { return r.body == "marker"; });
        }));
        sub.unsubscribe();
        auto lock = log->signal.lock();
        for (const auto& m : log->messages) {
            CHECK(m.body.size() <= limit);
            CHECK(m.body != "typed");
        }
        CHECK_CODE(broker().subscribe("", [](const micro::MessageView&) {}),
                   Code::kInvalidArgument);
    }

    TEST_CASE(
        "broker: a handler that keeps failing is retried, then dead-lettered, and the next message "
        "is handled") {
        const std::string topic = unique("poison");
        const std::string deadTopic = unique("poison-dead");
        auto dead = std::make_shared<Log>();
        micro::Subscription deadSub = broker().subscribe(deadTopic, logInto(dead));

        auto log = std::make_shared<Log>();
        micro::SubscribeOptions options;
        options.maxRetries = 2;
        options.retryBackoff = 1ms;
        options.deadLetterTopic = deadTopic;
        micro::MessageHandler record = logInto(log);
        micro::Subscription sub = broker().subscribe(
            topic,
            [log, record](const micro::MessageView& m) {
                record(m);
                if (m.body == "poison") throw micro::Error(Code::kInternal, "cannot handle it");
            },
            options);

        CHECK_CODE(broker().publish(topic, "poison"), Code::kOk);
        CHECK_CODE(broker().publish(topic, "good"), Code::kOk);
        REQUIRE(dead->signal.waitFor([&] { return !dead->messages.empty(); }));
        REQUIRE(log->signal.waitFor([&] {
            return std::any_of(log->messages.begin(), log->messages.end(),
                               [](const Received& r) { return r.body == "good"; });
        }));
        sub.unsubscribe();
        deadSub.unsubscribe();

        {
            auto lock = log->signal.lock();
            const auto poisonRuns =
                std::count_if(log->messages.begin(), log->messages.end(),
                              [](const Received& r) { return r.body == "poison"; });
            CHECK(poisonRuns >= 3);  // a redelivering driver may add more
        }
        auto lock = dead->signal.lock();
        REQUIRE(dead->messages.size() >= 1);
        Received& d = dead->messages.front();
        CHECK(d.body == "poison");
        CHECK(d.headers["Micro-Dead-Letter-Topic"] == topic);
        CHECK(d.headers["Micro-Attempts"] == "3");
        CHECK(d.headers["Micro-Dead-Letter-Reason"].find("cannot handle it") != std::string::npos);
        CHECK(!d.headers["Micro-Id"].empty());
    }

    TEST_CASE("broker: publish and subscriber middleware wrap every message in order") {
        // A broker of its own: middleware stays with the Broker it was added to.
        micro::Runtime runtime = micro::Runtime::load(conformance::runtime().manifestPath());
        micro::Broker& b = runtime.broker();
        auto order = std::make_shared<Log>();
        b.use([](const micro::OutgoingMessage& m, const micro::PublishNext& next) {
            std::vector<micro::Header> headers(m.headers.begin(), m.headers.end());
            headers.push_back({"X-Traced", "outer"});
            next(micro::OutgoingMessage{m.topic, m.body, headers});
        });
        b.use([](const micro::OutgoingMessage& m, const micro::PublishNext& next) {
            if (m.body == "refuse") throw micro::Error(Code::kPermissionDenied, "not this one");
            next(m);
        });
        std::vector<std::string> seen;
        b.useSubscriber(
            [&seen, order](const micro::MessageView& m, const micro::MessageHandler& next) {
                {
                    auto lock = order->signal.lock();
                    seen.push_back("outer:" + std::string(m.body));
                }
                next(m);
            });
        const std::string topic = unique("middleware");
        auto log = std::make_shared<Log>();
        micro::Subscription sub = b.subscribe(topic, logInto(log));
        CHECK_CODE(b.publish(topic, "refuse"), Code::kPermissionDenied);
        CHECK_CODE(b.publish(topic, "pass"), Code::kOk);
        REQUIRE(log->signal.waitFor([&] { return !log->messages.empty(); }));
        sub.unsubscribe();
        auto lock = log->signal.lock();
        REQUIRE(log->messages.size() == 1);
        CHECK(log->messages[0].body == "pass");
        CHECK(log->messages[0].headers["X-Traced"] == "outer");
        auto orderLock = order->signal.lock();
        CHECK(seen == std::vector<std::string>{"outer:pass"});
    }
}
