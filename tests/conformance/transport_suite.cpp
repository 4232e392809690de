// Transport conformance: ordered, bidirectional pipes of {headers, body}.
#include "conformance.hpp"

#include <micro/transport.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;

namespace {

micro::Transport& transport() { return conformance::runtime().transport(); }

using ConnectionPtr = std::shared_ptr<micro::Connection>;

// What one end of a connection saw; shared with its handlers.
struct End {
    conformance::Signal signal;
    std::vector<std::string> bodies;
    std::vector<std::map<std::string, std::string>> headers;
    int writable = 0;
    int closes = 0;
    std::string closeCode;
    std::vector<std::string> errors;  // failures inside handlers
};

std::map<std::string, std::string> headerMap(const micro::TransportMessageView& m) {
    std::map<std::string, std::string> out;
    for (const micro_kv& kv : m.headers)
        out.emplace(std::string(kv.key.data, kv.key.size),
                    std::string(kv.value.data, kv.value.size));
    return out;
}

// Handlers that record into `end`. With `replyTo` set, every message is
// answered on that connection from inside onMessage with "reply:" + body
// and the request's "x-request-id" header.
micro::ConnectionHandlers recordInto(const std::shared_ptr<End>& end,
                                     std::weak_ptr<micro::Connection> replyTo = {}) {
    micro::ConnectionHandlers h;
    h.onMessage = [end, replyTo](const micro::TransportMessageView& m) {
        {
            auto lock = end->signal.lock();
            end->bodies.emplace_back(m.body);
            end->headers.push_back(headerMap(m));
        }
        if (ConnectionPtr c = replyTo.lock()) {
            const std::string id(m.header("x-request-id"));
            const micro::Header reply[] = {{"x-request-id", id}};
            const conformance::Outcome o =
                conformance::outcome([&] { c->send(reply, "reply:" + std::string(m.body)); });
            if (o.code != "OK") {
                auto lock = end->signal.lock();
                end->errors.push_back("reply failed: " + o.code + " " + o.message);
            }
        }
        end->signal.notify();
    };
    h.onWritable = [end] {
        {
            auto lock = end->signal.lock();
            ++end->writable;
        }
        end->signal.notify();
    };
    h.onClose = [end](Code code, std::string_view reason) {
        {
            auto lock = end->signal.lock();
            ++end->closes;
            end->closeCode = micro::codeName(code);
            if (code != Code::kOk) end->errors.push_back("closed: " + std::string(reason));
        }
        end->signal.notify();
    };
    return h;
}

// The accepting side: every accepted connection, each with its own End.
struct Server {
    conformance::Signal signal;
    std::vector<ConnectionPtr> connections;
    std::vector<std::shared_ptr<End>> ends;
    bool reply = false;
};

// Listeners are held by pointer and built in place: moving one would need
// Listener's move constructor, which the SDK header defines inline over an
// incomplete State type.
using ListenerPtr = std::unique_ptr<micro::Listener>;

micro::Transport::AcceptHandler acceptInto(const std::shared_ptr<Server>& server) {
    return [server](ConnectionPtr c) {
        auto end = std::make_shared<End>();
        micro::ConnectionHandlers h =
            recordInto(end, server->reply ? std::weak_ptr<micro::Connection>(c)
                                          : std::weak_ptr<micro::Connection>());
        {
            auto lock = server->signal.lock();
            server->connections.push_back(std::move(c));
            server->ends.push_back(end);
        }
        server->signal.notify();
        return h;
    };
}

// Listen where the user said, else on "127.0.0.1:0", else where the driver
// picks for "". REQUIREs success.
ListenerPtr listen(const std::shared_ptr<Server>& server) {
    std::vector<std::string> candidates;
    if (!conformance::listenAddress().empty())
        candidates.push_back(conformance::listenAddress());
    else
        candidates = {"127.0.0.1:0", ""};
    std::string failures;
    for (const std::string& address : candidates) {
        try {
            return std::make_unique<micro::Listener>(
                transport().listen(address, acceptInto(server)));
        } catch (const micro::Error& e) {
            failures += " listen(" + conformance::printable(address) + "): " + e.describe() + ";";
        }
    }
    FAIL("cannot listen (set --listen-address):", failures);
    return nullptr;
}

// Send, waiting for onWritable while the connection's buffer is full.
void sendAll(micro::Connection& c, End& end, std::span<const micro::Header> headers,
             std::string_view body) {
    for (;;) {
        int writableBefore = 0;
        {
            auto lock = end.signal.lock();
            writableBefore = end.writable;
        }
        if (c.send(headers, body)) return;
        if (!end.signal.waitFor([&] { return end.writable > writableBefore; }))
            throw micro::Error(Code::kDeadlineExceeded, "no onWritable after a full buffer");
    }
}

// A dialled connection with its accepted peer.
struct Pair {
    std::shared_ptr<Server> server = std::make_shared<Server>();
    ListenerPtr listener;
    std::shared_ptr<End> client = std::make_shared<End>();
    ConnectionPtr clientConn;
    ConnectionPtr serverConn;
    std::shared_ptr<End> serverEnd;

    explicit Pair(bool reply = false) {
        server->reply = reply;
        listener = listen(server);
        REQUIRE(listener);
        clientConn =
            transport().dial(listener->address(), conformance::kTimeout, recordInto(client));
        REQUIRE(clientConn);
        REQUIRE(server->signal.waitFor([&] { return !server->connections.empty(); }));
        auto lock = server->signal.lock();
        serverConn = server->connections.front();
        serverEnd = server->ends.front();
    }

    // Close both ends and wait for both onClose calls, so no handler runs
    // after the test returns.
    ~Pair() {
        if (clientConn) clientConn->close();
        if (serverConn) serverConn->close();
        if (clientConn) client->signal.waitFor([&] { return client->closes > 0; });
        if (serverConn) serverEnd->signal.waitFor([&] { return serverEnd->closes > 0; });
        listener.reset();
        auto lock = server->signal.lock();
        server->connections.clear();
    }
};

std::vector<std::string> numbered(int n) {
    std::vector<std::string> v;
    for (int i = 0; i < n; ++i) v.push_back(std::to_string(i));
    return v;
}

}  // namespace

TEST_SUITE("transport") {
    TEST_CASE("transport: a dialled listener answers a request from inside onMessage") {
        Pair p(/*reply=*/true);
        CHECK_FALSE(p.listener->address().empty());
        const micro::Header headers[] = {{"x-request-id", "42"}};
        CHECK(p.clientConn->send(headers, "ping"));
        CHECK(p.client->signal.waitFor([&] { return !p.client->bodies.empty(); }));

        auto lock = p.client->signal.lock();
        REQUIRE(p.client->bodies.size() == 1);
        CHECK(p.client->bodies[0] == "reply:ping");
        CHECK(p.client->headers[0]["x-request-id"] == "42");
        CHECK(p.serverEnd->errors.empty());
    }

    TEST_CASE("transport: 1000 messages arrive in order, in both directions") {
        Pair p;
        const std::vector<std::string> expected = numbered(1000);
        for (const auto& body : expected) sendAll(*p.clientConn, *p.client, {}, body);
        CHECK(p.serverEnd->signal.waitFor([&] { return p.serverEnd->bodies.size() >= 1000; }));
        for (const auto& body : expected) sendAll(*p.serverConn, *p.serverEnd, {}, body);
        CHECK(p.client->signal.waitFor([&] { return p.client->bodies.size() >= 1000; }));

        {
            auto lock = p.serverEnd->signal.lock();
            CHECK(p.serverEnd->bodies == expected);
        }
        auto lock = p.client->signal.lock();
        CHECK(p.client->bodies == expected);
    }

    TEST_CASE("transport: messages marked more-follows all arrive in order, the last one too") {
        // kMoreFollows is a hint: the driver may batch, never hold. The last
        // message has nothing after it and must still arrive.
        Pair p;
        const std::vector<std::string> expected = numbered(300);
        for (const auto& body : expected) {
            REQUIRE(p.clientConn->send({}, body, micro::SendTiming::kMoreFollows));
        }
        CHECK(p.serverEnd->signal.waitFor([&] { return p.serverEnd->bodies.size() >= 300; }));
        REQUIRE(p.serverConn->send({}, "alone", micro::SendTiming::kMoreFollows));
        CHECK(p.client->signal.waitFor([&] { return !p.client->bodies.empty(); }));

        {
            auto lock = p.serverEnd->signal.lock();
            CHECK(p.serverEnd->bodies == expected);
        }
        auto lock = p.client->signal.lock();
        CHECK(p.client->bodies == std::vector<std::string>{"alone"});
    }

    TEST_CASE("transport: headers and a binary body round trip") {
        Pair p;
        const std::string body = conformance::allBytes();
        const std::string tag = unique("tag");
        const micro::Header headers[] = {{"content-type", "application/octet-stream"},
                                         {"x-conformance-tag", tag},
                                         {"x-empty", ""},
                                         {"x-utf8", "gr\xC3\xBC\xC3\x9F dich \xE2\x9C\x93"}};
        CHECK(p.clientConn->send(headers, body));
        CHECK(p.clientConn->send({}, ""));  // no headers, empty body
        CHECK(p.serverEnd->signal.waitFor([&] { return p.serverEnd->bodies.size() >= 2; }));

        auto lock = p.serverEnd->signal.lock();
        REQUIRE(p.serverEnd->bodies.size() == 2);
        CHECK(p.serverEnd->bodies[0].size() == body.size());
        CHECK(p.serverEnd->bodies[0] == body);
        for (const micro::Header& h : headers) {
            CAPTURE(h.key);
            REQUIRE(p.serverEnd->headers[0].count(std::string(h.key)) == 1);
            CHECK(p.serverEnd->headers[0][std::string(h.key)] == h.value);
        }
        CHECK(p.serverEnd->bodies[1].empty());
    }

    TEST_CASE("transport: closing the dialled side calls onClose once on both sides") {
        Pair p;
        p.clientConn->close();
        p.clientConn->close();  // a second close changes nothing
        CHECK(p.client->signal.waitFor([&] { return p.client->closes > 0; }));
        CHECK(p.serverEnd->signal.waitFor([&] { return p.serverEnd->closes > 0; }));
        CHECK(p.clientConn->closed());
        CHECK(p.serverConn->closed());
        CHECK_CODE(p.clientConn->send({}, "late"), Code::kUnavailable);
        CHECK_CODE(p.serverConn->send({}, "late"), Code::kUnavailable);
        {
            auto lock = p.client->signal.lock();
            CHECK(p.client->closes == 1);
            CHECK(p.client->closeCode == "OK");
        }
        auto lock = p.serverEnd->signal.lock();
        CHECK(p.serverEnd->closes == 1);
        CHECK(p.serverEnd->closeCode == "OK");
    }

    TEST_CASE("transport: closing the accepted side calls onClose once on both sides") {
        Pair p;
        CHECK(p.clientConn->send({}, "before close"));
        CHECK(p.serverEnd->signal.waitFor([&] { return !p.serverEnd->bodies.empty(); }));
        p.serverConn->close();
        CHECK(p.serverEnd->signal.waitFor([&] { return p.serverEnd->closes > 0; }));
        CHECK(p.client->signal.waitFor([&] { return p.client->closes > 0; }));
        CHECK_CODE(p.serverConn->send({}, "late"), Code::kUnavailable);
        CHECK_CODE(p.clientConn->send({}, "late"), Code::kUnavailable);
        {
            auto lock = p.client->signal.lock();
            CHECK(p.client->closes == 1);
        }
        auto lock = p.serverEnd->signal.lock();
        CHECK(p.serverEnd->closes == 1);
    }

    TEST_CASE("transport: a stopped listener refuses dials, accepted connections live on") {
        Pair p(/*reply=*/true);
        const std::string address = p.listener->address();
        p.listener->stop();

        const conformance::Outcome o = conformance::outcome([&] {
            auto c = transport().dial(address, 2s, recordInto(std::make_shared<End>()));
            if (c) c->close();
        });
        INFO("dial to a stopped listener at ", address, ": ", o.code, " ", o.message);
        CHECK((o.code == "UNAVAILABLE" || o.code == "INVALID_ARGUMENT"));

        const micro::Header headers[] = {{"x-request-id", "7"}};
        CHECK(p.clientConn->send(headers, "still there"));
        CHECK(p.client->signal.waitFor([&] { return !p.client->bodies.empty(); }));
        auto lock = p.client->signal.lock();
        CHECK(p.client->bodies == std::vector<std::string>{"reply:still there"});
    }

    TEST_CASE("transport: dialling a bogus address throws UNAVAILABLE or INVALID_ARGUMENT") {
        for (const std::string& address :
             {std::string("\x01 not an address \x02"), unique("no-such-listener") + ".invalid:1"}) {
            CAPTURE(conformance::printable(address));
            const conformance::Outcome o = conformance::outcome([&] {
                auto c = transport().dial(address, 2s, recordInto(std::make_shared<End>()));
                if (c) c->close();
            });
            INFO("message: ", o.message);
            CHECK((o.code == "UNAVAILABLE" || o.code == "INVALID_ARGUMENT"));
        }
    }
}
