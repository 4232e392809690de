// Broker conformance: (topic, headers, body) to subscribers, with and without
// queue groups.
#include "conformance.hpp"

#include <micro/broker.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;

namespace {

micro::Broker& broker() { return conformance::runtime().broker(); }

// What a set of subscribers received; shared with their handlers.
struct Inbox {
    explicit Inbox(std::size_t subscribers) : bodies(subscribers) {}
    conformance::Signal signal;
    std::vector<std::vector<std::string>> bodies;  // per subscriber
    std::vector<std::string> wrongTopic;           // topics that should not have arrived

    std::size_t total(std::size_t from, std::size_t to) const {
        std::size_t n = 0;
        for (std::size_t i = from; i < to; ++i) n += bodies[i].size();
        return n;
    }
};

micro::MessageHandler recordInto(const std::shared_ptr<Inbox>& inbox, std::size_t index,
                                 std::string topic) {
    return [inbox, index, topic = std::move(topic)](const micro::MessageView& m) {
        {
            auto lock = inbox->signal.lock();
            inbox->bodies[index].emplace_back(m.body);
            if (m.topic != topic) inbox->wrongTopic.emplace_back(m.topic);
        }
        inbox->signal.notify();
    };
}

// Held by pointer so tests can keep them in containers and drop them early.
using SubscriptionPtr = std::unique_ptr<micro::Subscription>;

SubscriptionPtr subscribe(const std::string& topic, micro::MessageHandler handler,
                          const micro::SubscribeOptions& options = {}) {
    return std::make_unique<micro::Subscription>(
        broker().subscribe(topic, std::move(handler), options));
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

// Publishing where nobody listens may succeed or report NOT_FOUND.
bool publishToNobodyIsAccepted(const std::string& topic, const std::string& body) {
    const conformance::Outcome o = conformance::outcome([&] { broker().publish(topic, body); });
    INFO("publish to a topic without subscribers: ", o.code, " ", o.message);
    return o.code == "OK" || o.code == "NOT_FOUND";
}

}  // namespace

TEST_SUITE("broker") {
    TEST_CASE("broker: every subscriber without a group gets every message of its topic") {
        const std::string topic = unique("fanout");
        const std::string otherTopic = unique("fanout-other");
        auto inbox = std::make_shared<Inbox>(3);
        std::vector<SubscriptionPtr> subs;
        for (std::size_t i = 0; i < 3; ++i)
            subs.push_back(subscribe(topic, recordInto(inbox, i, topic)));

        CHECK(publishToNobodyIsAccepted(otherTopic, "other"));
        std::vector<std::string> expected;
        for (int i = 0; i < 10; ++i) {
            expected.push_back("m" + std::to_string(i));
            CHECK_CODE(broker().publish(topic, expected.back()), Code::kOk);
        }
        const bool all = inbox->signal.waitFor([&] {
            return inbox->bodies[0].size() >= 10 && inbox->bodies[1].size() >= 10 &&
                   inbox->bodies[2].size() >= 10;
        });
        CHECK(all);
        subs.clear();

        auto lock = inbox->signal.lock();
        for (std::size_t i = 0; i < 3; ++i) {
            CAPTURE(i);
            CHECK(sorted(inbox->bodies[i]) == expected);
        }
        CHECK(inbox->wrongTopic.empty());
    }

    TEST_CASE("broker: each queue group gets each message exactly once, spread over members") {
        constexpr int kMessages = 30;
        const std::string topic = unique("groups");
        const std::string groups[2] = {unique("group-a"), unique("group-b")};
        auto inbox = std::make_shared<Inbox>(6);
        std::vector<SubscriptionPtr> subs;
        for (std::size_t i = 0; i < 6; ++i) {
            micro::SubscribeOptions options;
            options.group = groups[i / 3];
            subs.push_back(subscribe(topic, recordInto(inbox, i, topic), options));
        }

        std::vector<std::string> expected;
        for (int i = 0; i < kMessages; ++i) {
            expected.push_back("q" + std::to_string(100 + i));
            CHECK_CODE(broker().publish(topic, expected.back()), Code::kOk);
        }
        const bool all = inbox->signal.waitFor(
            [&] { return inbox->total(0, 3) >= kMessages && inbox->total(3, 6) >= kMessages; });
        CHECK(all);
        subs.clear();

        auto lock = inbox->signal.lock();
        for (std::size_t g = 0; g < 2; ++g) {
            CAPTURE(g);
            std::vector<std::string> received;
            int membersUsed = 0;
            for (std::size_t i = g * 3; i < g * 3 + 3; ++i) {
                received.insert(received.end(), inbox->bodies[i].begin(), inbox->bodies[i].end());
                if (!inbox->bodies[i].empty()) ++membersUsed;
            }
            CHECK(sorted(received) == expected);  // each message once: none lost, none twice
            CHECK(membersUsed >= 2);
        }
        CHECK(inbox->wrongTopic.empty());
    }

    TEST_CASE("broker: headers and a binary body round trip") {
        const std::string topic = unique("headers");
        const std::string body = conformance::allBytes();
        const std::string tag = unique("tag");
        const std::vector<std::pair<std::string, std::string>> sent{
            {"content-type", "application/octet-stream"},
            {"x-conformance-tag", tag},
            {"x-empty", ""},
            {"x-utf8", "gr\xC3\xBC\xC3\x9F dich \xE2\x9C\x93"}};

        struct Got {
            conformance::Signal signal;
            bool arrived = false;
            std::string topic;
            std::string body;
            std::map<std::string, std::string> headers;
            std::string viaLookup;
        };
        auto got = std::make_shared<Got>();
        micro::Subscription sub = broker().subscribe(topic, [got](const micro::MessageView& m) {
            {
                auto lock = got->signal.lock();
                got->arrived = true;
                got->topic = m.topic;
                got->body = m.body;
                for (const micro_kv& kv : m.headers)
                    got->headers.emplace(std::string(kv.key.data, kv.key.size),
                                         std::string(kv.value.data, kv.value.size));
                got->viaLookup = m.header("x-conformance-tag");
            }
            got->signal.notify();
        });

        std::vector<micro::Header> headers;
        for (const auto& [k, v] : sent) headers.push_back({k, v});
        CHECK_CODE(broker().publish(topic, body, headers), Code::kOk);
        CHECK(got->signal.waitFor([&] { return got->arrived; }));
        sub.unsubscribe();

        auto lock = got->signal.lock();
        CHECK(got->topic == topic);
        CHECK(got->body.size() == body.size());
        CHECK(got->body == body);
        for (const auto& [k, v] : sent) {
            CAPTURE(k);
            REQUIRE(got->headers.count(k) == 1);
            CHECK(got->headers[k] == v);
        }
        CHECK(got->viaLookup == tag);
    }

    TEST_CASE("broker: a destroyed subscription gets no more messages") {
        const std::string topic = unique("unsubscribe");
        auto inbox = std::make_shared<Inbox>(2);
        SubscriptionPtr gone = subscribe(topic, recordInto(inbox, 0, topic));
        SubscriptionPtr stays = subscribe(topic, recordInto(inbox, 1, topic));

        CHECK_CODE(broker().publish(topic, "before"), Code::kOk);
        CHECK(inbox->signal.waitFor(
            [&] { return inbox->bodies[0].size() >= 1 && inbox->bodies[1].size() >= 1; }));

        gone.reset();  // unsubscribes; its handler must never run again
        CHECK_CODE(broker().publish(topic, "after"), Code::kOk);
        CHECK(inbox->signal.waitFor([&] { return inbox->bodies[1].size() >= 2; }));

        stays.reset();  // the last subscriber leaves
        CHECK(publishToNobodyIsAccepted(topic, "nobody"));

        auto lock = inbox->signal.lock();
        CHECK(inbox->bodies[0] == std::vector<std::string>{"before"});
        CHECK(inbox->bodies[1] == std::vector<std::string>{"before", "after"});
    }

    TEST_CASE("broker: a handler that throws does not stop later deliveries") {
        const std::string topic = unique("throws");
        struct Seen {
            conformance::Signal signal;
            std::vector<std::string> bodies;
        };
        auto seen = std::make_shared<Seen>();
        micro::Subscription sub = broker().subscribe(topic, [seen](const micro::MessageView& m) {
            const std::string body(m.body);
            {
                auto lock = seen->signal.lock();
                seen->bodies.push_back(body);
            }
            seen->signal.notify();
            if (body == "throw-std") throw std::runtime_error("handler failed on purpose");
            if (body == "throw-micro") throw micro::Error(Code::kInternal, "handler failed");
        });

        for (const char* body : {"throw-std", "after-1", "throw-micro", "after-2"})
            CHECK_CODE(broker().publish(topic, body), Code::kOk);
        // A nack may cause redelivery of the failed messages; only require the
        // later ones to arrive.
        const bool later = seen->signal.waitFor([&] {
            const auto& b = seen->bodies;
            return std::find(b.begin(), b.end(), "after-1") != b.end() &&
                   std::find(b.begin(), b.end(), "after-2") != b.end();
        });
        CHECK(later);
        sub.unsubscribe();
        auto lock = seen->signal.lock();
        const std::set<std::string> distinct(seen->bodies.begin(), seen->bodies.end());
        CHECK(distinct == std::set<std::string>{"throw-std", "after-1", "throw-micro", "after-2"});
    }
}
