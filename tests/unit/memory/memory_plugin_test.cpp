// tests/unit/memory/memory_plugin_test.cpp — micro-memory.so through its C
// tables: the semantics each driver's header promises.
#include <doctest/doctest.h>

#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "plugin_harness.hpp"

using namespace std::chrono_literals;
using micro::abi::bytes;
using micro::abi::str;
using micro::abi::view;
using micro::test::Call;
using micro::test::Instance;
using Clock = std::chrono::steady_clock;

namespace {

const micro_plugin& memory() { return micro::test::plugin(MICRO_MEMORY_SO); }

template <typename Table>
const Table& drv(micro_kind kind, const char* name) {
    return micro::test::driver<Table>(memory(), kind, name);
}

std::int64_t unixMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ------------------------------------------------------------------ store

struct Row {
    std::string key, value;
    std::uint64_t version = 0;
};

struct Store {
    Instance<micro_store_driver> in{drv<micro_store_driver>(MICRO_KIND_STORE, "memory")};

    micro_code write(
        std::vector<std::tuple<std::string, std::string, std::uint64_t, std::int64_t>> records,
        std::uint64_t* version = nullptr, std::string db = "", std::string table = "") {
        std::vector<micro_record> raw;
        for (auto& [k, v, ver, exp] : records) {
            raw.push_back({sizeof(micro_record), bytes(k), bytes(v), nullptr, 0, exp, ver});
        }
        std::vector<const micro_record*> pointers;
        for (const auto& r : raw) pointers.push_back(&r);
        Call c;
        in.t().write(in.self(), str(db), str(table), pointers.data(), pointers.size(), c.done());
        micro_code code = c.wait();
        if (version != nullptr) *version = c.value();
        return code;
    }
    micro_code read(const std::string& key, std::uint32_t flags, std::vector<Row>& out,
                    std::uint64_t limit = 0, std::uint64_t offset = 0, std::string db = "",
                    std::string table = "") {
        out.clear();
        micro_store_query q{sizeof(q), str(db), str(table), bytes(key), flags, limit, offset};
        Call c;
        in.t().read(in.self(), &q,
                    {&out,
                     [](void* ctx, const micro_record* r) {
                         static_cast<std::vector<Row>*>(ctx)->push_back(
                             {std::string(view(r->key)), std::string(view(r->value)), r->version});
                     }},
                    c.done());
        return c.wait();
    }
    micro_code erase(const std::string& key) {
        Call c;
        in.t().erase(in.self(), {}, {}, bytes(key), c.done());
        return c.wait();
    }
};

TEST_CASE("memory store: versions, compare-and-set and atomic batches") {
    Store s;
    std::vector<Row> out;
    const std::string nulKey("a\0b", 3);
    std::uint64_t v1 = 0, v2 = 0;
    REQUIRE(s.write({{nulKey, "one", MICRO_VERSION_ANY, 0}}, &v1) == MICRO_OK);
    CHECK(v1 > 0);
    REQUIRE(s.read(nulKey, MICRO_STORE_EXACT, out) == MICRO_OK);
    REQUIRE(out.size() == 1);
    CHECK(out[0].key == nulKey);
    CHECK(out[0].version == v1);
    CHECK(s.read("a", MICRO_STORE_EXACT, out) == MICRO_NOT_FOUND);

    CHECK(s.write({{nulKey, "two", v1, 0}}, &v2) == MICRO_OK);
    CHECK(v2 > v1);
    CHECK(s.write({{nulKey, "stale", v1, 0}}) == MICRO_ABORTED);
    CHECK(s.write({{nulKey, "absent?", MICRO_VERSION_ABSENT, 0}}) == MICRO_ABORTED);
    REQUIRE(s.read(nulKey, MICRO_STORE_EXACT, out) == MICRO_OK);
    CHECK(out[0].value == "two");

    // One failed compare-and-set aborts the whole batch.
    CHECK(s.write({{"fresh", "x", MICRO_VERSION_ANY, 0}, {nulKey, "bad", v1, 0}}) == MICRO_ABORTED);
    CHECK(s.read("fresh", MICRO_STORE_EXACT, out) == MICRO_NOT_FOUND);
    // A key repeated in a batch is checked against its earlier entry.
    CHECK(s.write({{"dup", "1", MICRO_VERSION_ABSENT, 0}, {"dup", "2", MICRO_VERSION_ABSENT, 0}}) ==
          MICRO_ABORTED);
    std::uint64_t last = 0;
    CHECK(s.write({{"b1", "1", MICRO_VERSION_ANY, 0}, {"b2", "2", MICRO_VERSION_ANY, 0}}, &last) ==
          MICRO_OK);
    REQUIRE(s.read("b2", MICRO_STORE_EXACT, out) == MICRO_OK);
    CHECK(out[0].version == last);

    // Erase, then write again: the version keeps growing (no ABA).
    CHECK(s.erase(nulKey) == MICRO_OK);
    CHECK(s.erase(nulKey) == MICRO_NOT_FOUND);
    std::uint64_t v3 = 0;
    CHECK(s.write({{nulKey, "again", MICRO_VERSION_ABSENT, 0}}, &v3) == MICRO_OK);
    CHECK(v3 > v2);
    CHECK(s.write({{"", "x", MICRO_VERSION_ANY, 0}}) == MICRO_INVALID_ARGUMENT);
    CHECK(s.read("", MICRO_STORE_EXACT, out) == MICRO_INVALID_ARGUMENT);
    CHECK(s.erase("") == MICRO_INVALID_ARGUMENT);
}

TEST_CASE("memory store: expiry, ranges and namespaces") {
    Store s;
    std::vector<Row> out;
    REQUIRE(s.write({{"exp", "e", MICRO_VERSION_ANY, unixMs() + 80}}) == MICRO_OK);
    CHECK(s.read("exp", MICRO_STORE_EXACT, out) == MICRO_OK);
    std::this_thread::sleep_for(120ms);
    CHECK(s.read("exp", MICRO_STORE_EXACT, out) == MICRO_NOT_FOUND);
    CHECK(s.read("exp", MICRO_STORE_PREFIX, out) == MICRO_OK);
    CHECK(out.empty());
    CHECK(s.write({{"exp", "e", MICRO_VERSION_ABSENT, 0}}) == MICRO_OK);  // expired = absent

    for (auto k : {"user/3", "user/1", "user/2", "usex", "x/1.json", "user/9.json"}) {
        REQUIRE(s.write({{k, "v", MICRO_VERSION_ANY, 0}}) == MICRO_OK);
    }
    auto keys = [&] {
        std::vector<std::string> k;
        for (auto& r : out) k.push_back(r.key);
        return k;
    };
    REQUIRE(s.read("user/", MICRO_STORE_PREFIX, out) == MICRO_OK);
    CHECK(keys() == std::vector<std::string>{"user/1", "user/2", "user/3", "user/9.json"});
    REQUIRE(s.read("user/", MICRO_STORE_PREFIX, out, 2, 1) == MICRO_OK);
    CHECK(keys() == std::vector<std::string>{"user/2", "user/3"});
    REQUIRE(s.read(".json", MICRO_STORE_SUFFIX, out) == MICRO_OK);
    CHECK(keys() == std::vector<std::string>{"user/9.json", "x/1.json"});
    REQUIRE(s.read("user/", MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX, out) == MICRO_OK);
    CHECK(out.empty());
    REQUIRE(s.read("user/1", MICRO_STORE_EXACT | MICRO_STORE_KEYS_ONLY, out) == MICRO_OK);
    CHECK(out[0].value.empty());
    CHECK(out[0].version > 0);

    REQUIRE(s.write({{"ns", "here", MICRO_VERSION_ANY, 0}}, nullptr, "db", "tb") == MICRO_OK);
    CHECK(s.read("ns", MICRO_STORE_EXACT, out) == MICRO_NOT_FOUND);
    CHECK(s.read("ns", MICRO_STORE_EXACT, out, 0, 0, "db", "tb") == MICRO_OK);
    CHECK(s.read("user/1", MICRO_STORE_EXACT, out, 0, 0, "micro", "micro") == MICRO_OK);
}

TEST_CASE("memory drivers refuse unknown config keys") {
    void* self = nullptr;
    std::string message;
    auto& store = drv<micro_store_driver>(MICRO_KIND_STORE, "memory");
    CHECK(Instance<micro_store_driver>::create(store, {{"databse", "x"}}, &self, &message) ==
          MICRO_INVALID_ARGUMENT);
    CHECK(message.find("databse") != std::string::npos);
    auto& broker = drv<micro_broker_driver>(MICRO_KIND_BROKER, "memory");
    CHECK(Instance<micro_broker_driver>::create(broker, {{"max_redelivery", "1"}}, &self,
                                                &message) == MICRO_INVALID_ARGUMENT);
    auto& transport = drv<micro_transport_driver>(MICRO_KIND_TRANSPORT, "inproc");
    CHECK(Instance<micro_transport_driver>::create(transport, {{"max_queued", "zero"}}, &self,
                                                   &message) == MICRO_INVALID_ARGUMENT);
}

// ------------------------------------------------------------------ broker

using Handler = std::function<micro_code(const micro_message&, std::uint64_t)>;

struct Broker {
    Instance<micro_broker_driver> in;
    explicit Broker(std::vector<std::pair<std::string, std::string>> config = {})
        : in(drv<micro_broker_driver>(MICRO_KIND_BROKER, "memory"), std::move(config)) {}

    micro_code publish(const std::string& topic, const std::string& body = "x") {
        micro_message m{sizeof(m), str(topic), nullptr, 0, bytes(body)};
        Call c;
        in.t().publish(in.self(), &m, c.done());
        return c.wait();
    }
    void* subscribe(const std::string& topic, const std::string& group, Handler* h,
                    std::int32_t mode = MICRO_ACK_AUTO) {
        micro_subscribe_options o{sizeof(o), str(topic), str(group), mode};
        void* sub = nullptr;
        micro_error err{};
        micro_code code = in.t().subscribe(
            in.self(), &o,
            {h, [](void* ctx, const micro_message* m,
                   std::uint64_t id) { return (*static_cast<Handler*>(ctx))(*m, id); }},
            &sub, &err);
        REQUIRE(code == MICRO_OK);
        return sub;
    }
    void unsubscribe(void* sub) { in.t().unsubscribe(in.self(), sub); }
    micro_code ack(void* sub, std::uint64_t id, bool ok) {
        micro_error err{};
        return in.t().ack(in.self(), sub, id, ok ? 1 : 0, &err);
    }
};

TEST_CASE("memory broker: fan-out, queue groups and no subscriber") {
    Broker b;
    CHECK(b.publish("nobody") == MICRO_NOT_FOUND);
    std::atomic<int> plain{0}, g0{0}, g1{0}, g2{0};
    Handler hp = [&](const micro_message&, std::uint64_t) { return ++plain, MICRO_OK; };
    Handler h0 = [&](const micro_message&, std::uint64_t) { return ++g0, MICRO_OK; };
    Handler h1 = [&](const micro_message&, std::uint64_t) { return ++g1, MICRO_OK; };
    Handler h2 = [&](const micro_message&, std::uint64_t) { return ++g2, MICRO_OK; };
    std::vector<void*> subs{b.subscribe("t", "", &hp), b.subscribe("t", "", &hp),
                            b.subscribe("t", "q", &h0), b.subscribe("t", "q", &h1),
                            b.subscribe("t", "q", &h2)};
    for (int i = 0; i < 30; ++i) REQUIRE(b.publish("t") == MICRO_OK);
    CHECK(plain == 60);
    CHECK(g0 == 10);
    CHECK(g1 == 10);
    CHECK(g2 == 10);
    for (void* s : subs) b.unsubscribe(s);
    CHECK(b.publish("t") == MICRO_NOT_FOUND);
}

TEST_CASE("memory broker: serial deliveries, none after unsubscribe returns") {
    Broker b;
    std::atomic<int> inFlight{0}, maxInFlight{0}, calls{0};
    std::atomic<bool> unsubscribed{false}, lateCall{false}, stop{false};
    Handler h = [&](const micro_message&, std::uint64_t) {
        int n = ++inFlight;
        if (n > maxInFlight) maxInFlight = n;
        if (unsubscribed) lateCall = true;
        ++calls;
        std::this_thread::sleep_for(5us);
        --inFlight;
        return MICRO_OK;
    };
    Handler keep = [](const micro_message&, std::uint64_t) { return MICRO_OK; };
    void* keeper = b.subscribe("c", "", &keep);
    void* sub = b.subscribe("c", "", &h);
    std::vector<std::thread> publishers;
    for (int i = 0; i < 3; ++i) {
        publishers.emplace_back([&] {
            while (!stop) b.publish("c");
        });
    }
    std::this_thread::sleep_for(100ms);
    b.unsubscribe(sub);
    unsubscribed = true;
    std::this_thread::sleep_for(50ms);
    stop = true;
    for (auto& t : publishers) t.join();
    b.unsubscribe(keeper);
    CHECK(calls > 0);
    CHECK(maxInFlight == 1);
    CHECK_FALSE(lateCall);
}

TEST_CASE("memory broker: re-entrant publish, redelivery and manual ack") {
    Broker b(std::vector<std::pair<std::string, std::string>>{{"max_redeliveries", "2"}});
    int depth = 0;
    Handler nested = [&](const micro_message&, std::uint64_t) {
        if (++depth < 5) b.publish("re");  // queued, delivered after this returns
        return MICRO_OK;
    };
    void* s = b.subscribe("re", "", &nested);
    CHECK(b.publish("re") == MICRO_OK);
    CHECK(depth == 5);
    b.unsubscribe(s);

    int nacks = 0;
    Handler nack = [&](const micro_message&, std::uint64_t) { return ++nacks, MICRO_UNAVAILABLE; };
    s = b.subscribe("n", "", &nack);
    CHECK(b.publish("n") == MICRO_OK);
    CHECK(nacks == 3);  // first delivery + max_redeliveries
    b.unsubscribe(s);

    std::vector<std::uint64_t> ids;
    Handler manual = [&](const micro_message&, std::uint64_t id) {
        ids.push_back(id);
        return MICRO_INTERNAL;  // ignored in manual mode
    };
    s = b.subscribe("m", "", &manual, MICRO_ACK_MANUAL);
    CHECK(b.publish("m") == MICRO_OK);
    REQUIRE(ids.size() == 1);
    CHECK(b.ack(s, ids[0], false) == MICRO_OK);  // nack: redelivered with a new id
    REQUIRE(ids.size() == 2);
    CHECK(ids[1] != ids[0]);
    CHECK(b.ack(s, ids[0], true) == MICRO_NOT_FOUND);
    CHECK(b.ack(s, ids[1], true) == MICRO_OK);
    CHECK(b.ack(s, ids[1], true) == MICRO_NOT_FOUND);
    b.unsubscribe(s);
}

// ------------------------------------------------------------------ registry

struct Events {
    struct Event {
        std::int32_t type;
        std::string service, node;
        Clock::time_point at;
    };
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<Event> list;

    micro_registry_watcher watcher() {
        return {this, [](void* ctx, std::int32_t type, const micro_registry_node* n) {
                    auto* self = static_cast<Events*>(ctx);
                    std::lock_guard lock(self->mutex);
                    self->list.push_back({type, std::string(view(n->service)),
                                          std::string(view(n->node)), Clock::now()});
                    self->cv.notify_all();
                }};
    }
    std::vector<Event> waitFor(std::size_t n, std::chrono::milliseconds timeout = 2s) {
        std::unique_lock lock(mutex);
        cv.wait_for(lock, timeout, [&] { return list.size() >= n; });
        return list;
    }
};

TEST_CASE("memory registry: events, TTL expiry seen by watchers, listing") {
    Instance<micro_registry_driver> r(drv<micro_registry_driver>(MICRO_KIND_REGISTRY, "memory"));
    auto reg = [&](std::string svc, std::string node, std::int64_t ttl) {
        micro_registry_node n{sizeof(n), str(svc), str(node), bytes("rec"), ttl};
        Call c;
        r.t().register_node(r.self(), &n, c.done());
        return c.wait();
    };
    auto dereg = [&](std::string svc, std::string node) {
        Call c;
        r.t().deregister_node(r.self(), str(svc), str(node), c.done());
        return c.wait();
    };
    auto lookup = [&](std::string svc) {
        Call c;
        r.t().lookup(r.self(), str(svc), {nullptr, [](void*, const micro_registry_node*) {}},
                     c.done());
        return c.wait();
    };
    auto services = [&] {
        std::vector<std::string> out;
        Call c;
        r.t().list_services(r.self(),
                            {&out,
                             [](void* ctx, micro_str s) {
                                 static_cast<std::vector<std::string>*>(ctx)->emplace_back(view(s));
                             }},
                            c.done());
        c.wait();
        return out;
    };
    Events events;
    void* watch = nullptr;
    micro_error err{};
    REQUIRE(r.t().watch(r.self(), str("a"), events.watcher(), &watch, &err) == MICRO_OK);
    CHECK(reg("a", "n1", 0) == MICRO_OK);
    CHECK(reg("a", "n1", 0) == MICRO_OK);
    CHECK(reg("b", "n1", 0) == MICRO_OK);  // another service: not watched
    CHECK(dereg("a", "n1") == MICRO_OK);
    CHECK(dereg("a", "n1") == MICRO_NOT_FOUND);
    auto got = events.waitFor(3);
    REQUIRE(got.size() == 3);
    CHECK(got[0].type == MICRO_REGISTRY_CREATED);
    CHECK(got[1].type == MICRO_REGISTRY_UPDATED);
    CHECK(got[2].type == MICRO_REGISTRY_DELETED);
    CHECK(lookup("a") == MICRO_NOT_FOUND);

    CHECK(reg("c", "n1", 0) == MICRO_OK);
    auto start = Clock::now();
    CHECK(reg("a", "ttl", 200) == MICRO_OK);
    CHECK(lookup("a") == MICRO_OK);
    CHECK(services() == std::vector<std::string>{"a", "b", "c"});
    got = events.waitFor(5);  // CREATED, then DELETED on expiry
    REQUIRE(got.size() == 5);
    CHECK(got[4].type == MICRO_REGISTRY_DELETED);
    CHECK(got[4].node == "ttl");
    CHECK(got[4].at - start >= 190ms);
    CHECK(got[4].at - start < 400ms);  // within 2x the TTL
    CHECK(lookup("a") == MICRO_NOT_FOUND);
    CHECK(services() == std::vector<std::string>{"b", "c"});

    r.t().unwatch(r.self(), watch);
    CHECK(reg("a", "late", 0) == MICRO_OK);
    std::this_thread::sleep_for(30ms);
    CHECK(events.waitFor(6, 0ms).size() == 5);
}

// ------------------------------------------------------------------ sync

TEST_CASE("memory sync: fencing tokens, waiting, expiry, elections") {
    Instance<micro_sync_driver> s(drv<micro_sync_driver>(MICRO_KIND_SYNC, "memory"));
    auto lock = [&](const char* id, const char* owner, std::int64_t ttl, std::int64_t wait, Call& c,
                    bool election = false) {
        micro_lock_request r{sizeof(r), str(id), str(owner), ttl, wait};
        (election ? s.t().campaign : s.t().lock)(s.self(), &r, c.done());
    };
    Call a;
    lock("L", "alice", 10000, 0, a);
    REQUIRE(a.wait() == MICRO_OK);
    Call tryOnce;
    lock("L", "bob", 10000, 0, tryOnce);
    CHECK(tryOnce.wait() == MICRO_DEADLINE_EXCEEDED);
    Call timed;
    auto t0 = Clock::now();
    lock("L", "bob", 10000, 80, timed);
    CHECK_FALSE(timed.finished());  // waits without blocking the caller
    CHECK(timed.wait() == MICRO_DEADLINE_EXCEEDED);
    CHECK(Clock::now() - t0 >= 75ms);

    Call forever;
    lock("L", "carol", 100, -1, forever);
    Call unlock;
    s.t().unlock(s.self(), str("L"), a.value(), unlock.done());
    CHECK(unlock.wait() == MICRO_OK);
    REQUIRE(forever.wait() == MICRO_OK);
    CHECK(forever.value() > a.value());
    Call stale;
    s.t().unlock(s.self(), str("L"), a.value(), stale.done());
    CHECK(stale.wait() == MICRO_NOT_FOUND);

    // carol's 100 ms lease runs out and the next waiter gets the lock.
    Call next;
    lock("L", "dave", 10000, 2000, next);
    REQUIRE(next.wait() == MICRO_OK);
    CHECK(next.value() > forever.value());
    Call renew;
    s.t().renew(s.self(), str("L"), forever.value(), 1000, renew.done());
    CHECK(renew.wait() == MICRO_NOT_FOUND);

    // Elections live apart from locks of the same name.
    std::string owner;
    micro_str_sink ownerSink{
        &owner, [](void* ctx, micro_str v) { *static_cast<std::string*>(ctx) = view(v); }};
    Call none;
    s.t().leader(s.self(), str("L"), ownerSink, none.done());
    CHECK(none.wait() == MICRO_NOT_FOUND);
    Call term;
    lock("L", "node-1", 10000, 0, term, true);
    REQUIRE(term.wait() == MICRO_OK);
    Call leader;
    s.t().leader(s.self(), str("L"), ownerSink, leader.done());
    CHECK(leader.wait() == MICRO_OK);
    CHECK(owner == "node-1");
    CHECK(leader.value() == term.value());
    Call resign;
    s.t().resign(s.self(), str("L"), term.value(), resign.done());
    CHECK(resign.wait() == MICRO_OK);

    // Destroy completes whoever still waits with CANCELLED.
    Call pending;
    lock("L", "eve", 10000, -1, pending);  // held by dave
    s.reset();
    CHECK(pending.finished());
    CHECK(pending.wait() == MICRO_CANCELLED);
}

// ------------------------------------------------------------------ auth

TEST_CASE("noop auth: every caller is who it claims") {
    Instance<micro_auth_driver> a(drv<micro_auth_driver>(MICRO_KIND_AUTH, "noop"));
    std::string seen;
    micro_account_sink sink{&seen, [](void* ctx, const micro_account* acc) {
                                *static_cast<std::string*>(ctx) = std::string(view(acc->id)) + "|" +
                                                                  std::string(view(acc->type)) +
                                                                  "|" +
                                                                  std::string(view(acc->issuer));
                            }};
    Call inspect;
    a.t().inspect(a.self(), str("svc-1"), sink, inspect.done());
    CHECK(inspect.wait() == MICRO_OK);
    CHECK(seen == "svc-1|user|micro");
    Call empty;
    a.t().inspect(a.self(), str(""), sink, empty.done());
    CHECK(empty.wait() == MICRO_UNAUTHENTICATED);
    std::string token;
    Call tok;
    a.t().token(a.self(), str("svc-1"), str("secret"), 1000,
                {&token,
                 [](void* ctx, const micro_token* t) {
                     *static_cast<std::string*>(ctx) = std::string(view(t->access_token));
                 }},
                tok.done());
    CHECK(tok.wait() == MICRO_OK);
    CHECK(token == "svc-1");
}

// ------------------------------------------------------------------ inproc

struct Conn {
    std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::string> messages;
    int writable = 0, closes = 0;
    std::function<void(const std::string&)> onMessage;  // runs inside on_message

    micro_connection_events events() {
        return {this,
                [](void* ctx, const micro_transport_message* m) {
                    auto* self = static_cast<Conn*>(ctx);
                    std::string body(view(m->body));
                    if (self->onMessage) self->onMessage(body);
                    std::lock_guard lock(self->mutex);
                    self->messages.push_back(body);
                    self->cv.notify_all();
                },
                [](void* ctx) {
                    auto* self = static_cast<Conn*>(ctx);
                    std::lock_guard lock(self->mutex);
                    ++self->writable;
                    self->cv.notify_all();
                },
                [](void* ctx, micro_code, micro_str) {
                    auto* self = static_cast<Conn*>(ctx);
                    std::lock_guard lock(self->mutex);
                    ++self->closes;
                    self->cv.notify_all();
                }};
    }
    template <typename Pred>
    bool waitUntil(Pred pred) {
        std::unique_lock lock(mutex);
        return cv.wait_for(lock, 2s, pred);
    }
};

micro_code send(const micro_transport_driver& t, void* self, void* conn, const std::string& body) {
    micro_transport_message m{sizeof(m), nullptr, 0, bytes(body), 0};
    micro_error err{};
    return t.send(self, conn, &m, &err);
}

TEST_CASE("inproc transport: echo from on_message, order, close, flow control") {
    auto& t = drv<micro_transport_driver>(MICRO_KIND_TRANSPORT, "inproc");
    // Two instances: the listener table is process-wide.
    Instance<micro_transport_driver> server(t, {{"max_queued", "4"}});
    Instance<micro_transport_driver> client(t);
    struct Accepted {
        const micro_transport_driver* t;
        void* self;
        Conn conn;
        void* handle = nullptr;
        std::mutex gate;  // held by the test to stall the server's on_message
    } accepted{&t, server.self(), {}, nullptr, {}};
    accepted.conn.onMessage = [&](const std::string& body) {
        std::lock_guard hold(accepted.gate);
        send(t, server.self(), accepted.handle, "echo:" + body);  // reply from inside
    };
    std::string bound;
    void* listener = nullptr;
    micro_error err{};
    REQUIRE(t.listen(
                server.self(), str(""),
                {&accepted,
                 [](void* ctx, void* conn, micro_str, micro_connection_events* ev) {
                     auto* a = static_cast<Accepted*>(ctx);
                     a->handle = conn;
                     *ev = a->conn.events();
                 }},
                {&bound, [](void* ctx, micro_str s) { *static_cast<std::string*>(ctx) = view(s); }},
                &listener, &err) == MICRO_OK);
    CHECK(bound.rfind("inproc://", 0) == 0);

    Conn c;
    void* conn = nullptr;
    CHECK(t.dial(client.self(), str("inproc://nobody-here"), 100, c.events(), &conn, &err) ==
          MICRO_UNAVAILABLE);
    REQUIRE(t.dial(client.self(), str(bound), 100, c.events(), &conn, &err) == MICRO_OK);
    for (int i = 0; i < 100; ++i) {
        micro_code code;
        while ((code = send(t, client.self(), conn, std::to_string(i))) ==
               MICRO_RESOURCE_EXHAUSTED) {
            std::this_thread::sleep_for(1ms);
        }
        REQUIRE(code == MICRO_OK);
    }
    REQUIRE(c.waitUntil([&] { return c.messages.size() == 100; }));
    bool ordered = true;
    for (int i = 0; i < 100; ++i) ordered = ordered && c.messages[i] == "echo:" + std::to_string(i);
    CHECK(ordered);

    // Flow control: stall the server; the client's queue (4) fills up.
    {
        std::unique_lock stall(accepted.gate);
        micro_code code = MICRO_OK;
        int queued = 0;
        while (queued < 20 && (code = send(t, client.self(), conn, "fill")) == MICRO_OK) ++queued;
        CHECK(code == MICRO_RESOURCE_EXHAUSTED);
        CHECK(queued <= 5);  // 4 queued + at most 1 taken by the stalled handler
    }
    CHECK(c.waitUntil([&] { return c.writable >= 1; }));

    t.close(client.self(), conn);
    CHECK(c.waitUntil([&] { return c.closes == 1; }));
    CHECK(accepted.conn.waitUntil([&] { return accepted.conn.closes == 1; }));
    CHECK(send(t, client.self(), conn, "late") == MICRO_UNAVAILABLE);
    CHECK(send(t, server.self(), accepted.handle, "late") == MICRO_UNAVAILABLE);
    t.unlisten(server.self(), listener);
    CHECK(t.dial(client.self(), str(bound), 100, c.events(), &conn, &err) == MICRO_UNAVAILABLE);
}

}  // namespace
