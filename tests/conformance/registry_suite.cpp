// Registry conformance: opaque node records under (service, node) with a TTL,
// and watches.
#include "conformance.hpp"

#include <micro/registry.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;
using micro::RegistryEvent;

namespace {

micro::Registry& registry() { return conformance::runtime().registry(); }

micro::Node node(const std::string& service, const std::string& name, const std::string& record,
                 std::chrono::milliseconds ttl = 0ms) {
    micro::Node n;
    n.service = service;
    n.node = name;
    n.record = record;
    n.ttl = ttl;
    return n;
}

std::map<std::string, std::string> recordsByNode(const std::vector<micro::Node>& nodes) {
    std::map<std::string, std::string> out;
    for (const auto& n : nodes) out[n.node] = n.record;
    return out;
}

bool hasNodes(const std::string& service) {
    try {
        return !registry().lookup(service).empty();
    } catch (const micro::Error& e) {
        if (e.code() == Code::kNotFound) return false;
        throw;
    }
}

bool listed(const std::string& service) {
    const std::vector<std::string> all = registry().listServices();
    return std::find(all.begin(), all.end(), service) != all.end();
}

const char* eventName(RegistryEvent e) {
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

// Events one watch saw, as "CREATED service/node", plus the records.
struct Events {
    conformance::Signal signal;
    std::vector<std::string> seen;
    std::vector<std::string> records;

    bool has(const std::string& event) const {
        return std::find(seen.begin(), seen.end(), event) != seen.end();
    }
};

// Watches are held by pointer and built in place: moving one would need
// Watch's move constructor, which the SDK header defines inline over an
// incomplete State type.
using WatchPtr = std::unique_ptr<micro::Watch>;

WatchPtr watch(const std::string& service, const std::shared_ptr<Events>& events) {
    return std::make_unique<micro::Watch>(
        registry().watch(service, [events](RegistryEvent e, const micro::Node& n) {
            {
                auto lock = events->signal.lock();
                events->seen.push_back(std::string(eventName(e)) + " " + n.service + "/" + n.node);
                events->records.push_back(n.record);
            }
            events->signal.notify();
        }));
}

std::string ev(const char* event, const std::string& service, const std::string& node) {
    return std::string(event) + " " + service + "/" + node;
}

}  // namespace

TEST_SUITE("registry") {
    TEST_CASE("registry: a registered node looks up with its record bytes intact") {
        const std::string svc = unique("svc");
        const std::string record = conformance::allBytes();
        registry().registerNode(node(svc, "node-1", record));
        const std::vector<micro::Node> nodes = registry().lookup(svc);
        REQUIRE(nodes.size() == 1);
        CHECK(nodes[0].service == svc);
        CHECK(nodes[0].node == "node-1");
        CHECK(nodes[0].record.size() == record.size());
        CHECK(nodes[0].record == record);
        registry().deregisterNode(svc, "node-1");
    }

    TEST_CASE("registry: a service holds several nodes, re-registering one replaces its record") {
        const std::string svc = unique("multi");
        registry().registerNode(node(svc, "a", "record-a"));
        registry().registerNode(node(svc, "b", "record-b"));
        registry().registerNode(node(svc, "c", "record-c"));
        CHECK(recordsByNode(registry().lookup(svc)) ==
              std::map<std::string, std::string>{
                  {"a", "record-a"}, {"b", "record-b"}, {"c", "record-c"}});

        registry().registerNode(node(svc, "b", "record-b2"));
        const std::vector<micro::Node> nodes = registry().lookup(svc);
        CHECK(nodes.size() == 3);
        CHECK(recordsByNode(nodes) == std::map<std::string, std::string>{{"a", "record-a"},
                                                                         {"b", "record-b2"},
                                                                         {"c", "record-c"}});
        for (const auto& n : nodes) CHECK(n.service == svc);
        for (const char* n : {"a", "b", "c"}) registry().deregisterNode(svc, n);
    }

    TEST_CASE("registry: listServices names each live service once, sorted") {
        const std::string one = unique("list-one");
        const std::string two = unique("list-two");
        const std::string never = unique("list-never");
        registry().registerNode(node(one, "n1", "r"));
        registry().registerNode(node(one, "n2", "r"));
        registry().registerNode(node(two, "n1", "r"));
        const std::vector<std::string> all = registry().listServices();
        CHECK(std::count(all.begin(), all.end(), one) == 1);
        CHECK(std::count(all.begin(), all.end(), two) == 1);
        CHECK(std::count(all.begin(), all.end(), never) == 0);
        CHECK(std::is_sorted(all.begin(), all.end()));
        CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());
        registry().deregisterNode(one, "n1");
        registry().deregisterNode(one, "n2");
        registry().deregisterNode(two, "n1");
    }

    TEST_CASE("registry: deregister removes a node, the last one takes the service with it") {
        const std::string svc = unique("dereg");
        registry().registerNode(node(svc, "n1", "r1"));
        registry().registerNode(node(svc, "n2", "r2"));

        CHECK_CODE(registry().deregisterNode(svc, "n1"), Code::kOk);
        const std::vector<micro::Node> left = registry().lookup(svc);
        REQUIRE(left.size() == 1);
        CHECK(left[0].node == "n2");

        CHECK_CODE(registry().deregisterNode(svc, "n2"), Code::kOk);
        CHECK_CODE(registry().lookup(svc), Code::kNotFound);
        CHECK_FALSE(listed(svc));
        CHECK_CODE(registry().deregisterNode(svc, "n2"), Code::kNotFound);
        CHECK_CODE(registry().deregisterNode(unique("dereg-never"), "n1"), Code::kNotFound);
        CHECK_CODE(registry().lookup(unique("lookup-never")), Code::kNotFound);
    }

    TEST_CASE("registry: re-registering before the TTL runs out keeps the node alive") {
        const std::string svc = unique("refresh");
        registry().registerNode(node(svc, "n1", "r", 300ms));
        for (int i = 0; i < 6; ++i) {  // 600 ms in all, twice the TTL
            std::this_thread::sleep_for(100ms);
            registry().registerNode(node(svc, "n1", "r", 300ms));
        }
        CHECK(hasNodes(svc));
        CHECK(listed(svc));
        registry().deregisterNode(svc, "n1");
    }

    TEST_CASE("registry: a node whose TTL passes without refresh disappears") {
        const std::string svc = unique("expire");
        const std::string keeps = unique("expire-keeps");
        registry().registerNode(node(keeps, "n1", "r"));  // no TTL: stays
        registry().registerNode(node(svc, "n1", "r", 200ms));
        CHECK(conformance::eventually([&] { return !hasNodes(svc); }, 2s));
        CHECK_CODE(registry().lookup(svc), Code::kNotFound);
        CHECK(conformance::eventually([&] { return !listed(svc); }, 2s));
        CHECK(hasNodes(keeps));
        registry().deregisterNode(keeps, "n1");
    }

    TEST_CASE("registry: a watch reports CREATED, UPDATED, DELETED on deregister and on expiry") {
        const std::string svc = unique("watch");
        auto events = std::make_shared<Events>();
        WatchPtr w = watch(svc, events);

        registry().registerNode(node(svc, "n1", "v1"));
        CHECK(events->signal.waitFor([&] { return events->has(ev("CREATED", svc, "n1")); }));
        registry().registerNode(node(svc, "n1", "v2"));
        CHECK(events->signal.waitFor([&] { return events->has(ev("UPDATED", svc, "n1")); }));
        registry().deregisterNode(svc, "n1");
        CHECK(events->signal.waitFor([&] { return events->has(ev("DELETED", svc, "n1")); }));

        registry().registerNode(node(svc, "n2", "v3", 200ms));
        CHECK(events->signal.waitFor([&] { return events->has(ev("CREATED", svc, "n2")); }));
        CHECK(events->signal.waitFor([&] { return events->has(ev("DELETED", svc, "n2")); }));
        w.reset();

        auto lock = events->signal.lock();
        CHECK(events->seen ==
              std::vector<std::string>{ev("CREATED", svc, "n1"), ev("UPDATED", svc, "n1"),
                                       ev("DELETED", svc, "n1"), ev("CREATED", svc, "n2"),
                                       ev("DELETED", svc, "n2")});
        REQUIRE(events->records.size() >= 4);
        CHECK(events->records[0] == "v1");
        CHECK(events->records[1] == "v2");
        CHECK(events->records[3] == "v3");
    }

    TEST_CASE("registry: a watch on one service sees none of another, a watch on all sees both") {
        const std::string mine = unique("watch-mine");
        const std::string other = unique("watch-other");
        auto onMine = std::make_shared<Events>();
        auto onAll = std::make_shared<Events>();
        WatchPtr wMine = watch(mine, onMine);
        WatchPtr wAll = watch("", onAll);

        registry().registerNode(node(other, "n1", "r"));
        registry().registerNode(node(mine, "n1", "r"));
        CHECK(onMine->signal.waitFor([&] { return onMine->has(ev("CREATED", mine, "n1")); }));
        CHECK(onAll->signal.waitFor([&] {
            return onAll->has(ev("CREATED", mine, "n1")) && onAll->has(ev("CREATED", other, "n1"));
        }));
        wMine.reset();
        wAll.reset();
        registry().deregisterNode(other, "n1");
        registry().deregisterNode(mine, "n1");

        auto lock = onMine->signal.lock();
        CHECK(onMine->seen == std::vector<std::string>{ev("CREATED", mine, "n1")});
    }

    TEST_CASE("registry: a stopped watch gets no more events") {
        const std::string svc = unique("watch-stop");
        auto stopped = std::make_shared<Events>();
        auto running = std::make_shared<Events>();
        WatchPtr wStopped = watch(svc, stopped);
        WatchPtr wRunning = watch(svc, running);

        registry().registerNode(node(svc, "n1", "r"));
        CHECK(stopped->signal.waitFor([&] { return stopped->has(ev("CREATED", svc, "n1")); }));
        CHECK(running->signal.waitFor([&] { return running->has(ev("CREATED", svc, "n1")); }));

        wStopped->stop();
        registry().registerNode(node(svc, "n2", "r"));
        registry().deregisterNode(svc, "n1");
        CHECK(running->signal.waitFor([&] {
            return running->has(ev("CREATED", svc, "n2")) && running->has(ev("DELETED", svc, "n1"));
        }));
        wRunning.reset();
        registry().deregisterNode(svc, "n2");

        auto lock = stopped->signal.lock();
        CHECK(stopped->seen == std::vector<std::string>{ev("CREATED", svc, "n1")});
    }
}
