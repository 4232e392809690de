// The direct broker across real processes: subscriber processes
// (direct-subscriber) and this test as the publisher share one local registry
// database in a fresh folder and talk over the tcp transport.
#include <doctest/doctest.h>

#include <micro/broker.hpp>
#include <micro/error.hpp>
#include <micro/registry.hpp>
#include <micro/runtime.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "child_process.hpp"
#include "process.hpp"
#include "record.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::ChildProcess;
using micro::test::TempDir;

namespace {

constexpr auto kLineTimeout = 20s;

std::string hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    return out.empty() ? "-" : out;
}

/// A registry folder and a manifest: local registry, tcp, the direct broker.
struct World {
    TempDir dir;
    std::string manifest;

    explicit World(int ttlMs = 3000, int timeoutMs = 3000) {
        manifest = dir.write("m.toml", "[registry]\nplugin = \"" MICRO_SQLITE_PLUGIN
                                       "\"\ndriver = \"local\"\npath = \"" +
                                           dir.path() +
                                           "/registry.db\"\npoll_ms = 50\n\n"
                                           "[transport]\nplugin = \"" MICRO_TCP_PLUGIN
                                           "\"\ndriver = \"tcp\"\n\n"
                                           "[broker]\nplugin = \"" MICRO_DIRECT_PLUGIN
                                           "\"\ndriver = \"direct\"\nttl_ms = " +
                                           std::to_string(ttlMs) + "\ntimeout_ms = " +
                                           std::to_string(timeoutMs) + "\n");
    }
};

/// A running direct-subscriber, ready once constructed.
struct Subscriber {
    ChildProcess process;

    Subscriber(const World& world, const std::vector<std::string>& specs)
        : process(argv(world, specs)) {
        auto line = process.readLine(kLineTimeout);
        REQUIRE(line.has_value());
        REQUIRE(*line == "ready");
    }
    static std::vector<std::string> argv(const World& world,
                                         const std::vector<std::string>& specs) {
        std::vector<std::string> out{MICRO_DIRECT_SUBSCRIBER, world.manifest};
        out.insert(out.end(), specs.begin(), specs.end());
        return out;
    }
    /// The next delivery: (spec index, body hex, header hex).
    struct Got {
        int index = -1;
        std::string body;
        std::string header;
    };
    std::optional<Got> next() {
        auto line = process.readLine(kLineTimeout);
        if (!line) return std::nullopt;
        Got g;
        auto a = line->find(' ');
        auto b = line->find(' ', a + 1);
        if (a == std::string::npos || b == std::string::npos) return std::nullopt;
        g.index = std::stoi(line->substr(0, a));
        g.body = line->substr(a + 1, b - a - 1);
        g.header = line->substr(b + 1);
        return g;
    }
};

// "prefix" + i, spelled so GCC 12 raises no false -Wrestrict at -O3.
std::string numbered(std::string_view prefix, int i) {
    std::string out(prefix);
    out += std::to_string(i);
    return out;
}

/// Wait (up to 2 s) until process `pid` is stopped: kill(2) returns before
/// SIGSTOP has taken effect.
bool waitStopped(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'T') {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

Code publishCode(micro::Runtime& rt, const std::string& topic, const std::string& body) {
    try {
        rt.broker().publish(topic, body);
        return Code::kOk;
    } catch (const micro::Error& e) {
        INFO("publish: ", e.describe());
        return e.code();
    }
}

// ---- raw TCP against the broker's listener ---------------------------------

/// The listener address of the one broker node registered in `rt`'s registry.
std::string brokerAddress(micro::Runtime& rt) {
    auto nodes = rt.registry().lookup("micro.broker");
    REQUIRE(nodes.size() == 1);
    auto record = micro::direct::decodeRecord(nodes[0].record);
    REQUIRE(record.has_value());
    return record->address;
}

int connectTo(const std::string& address) {
    auto colon = address.rfind(':');
    REQUIRE(colon != std::string::npos);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    REQUIRE(inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr) == 1);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    return fd;
}

void sendAll(int fd, const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        REQUIRE(n > 0);
        off += static_cast<std::size_t>(n);
    }
}

/// Everything the peer sends until it closes (or 10 s pass: then nullopt).
std::optional<std::string> readUntilClosed(int fd) {
    std::string got;
    auto until = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return got;  // closed (or reset)
        got.append(buf, static_cast<std::size_t>(n));
    }
}

/// One tcp-transport frame (plugins/tcp/README.md): u32 length, u16 count,
/// (u16 key length, u32 value length, key, value)*, body; little-endian.
std::string frame(const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) {
    std::string payload;
    auto put = [&](std::uint64_t v, int bytes) {
        for (int i = 0; i < bytes; ++i) payload.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    put(headers.size(), 2);
    for (const auto& [k, v] : headers) {
        put(k.size(), 2);
        put(v.size(), 4);
        payload += k;
        payload += v;
    }
    payload += body;
    std::string out;
    for (int i = 0; i < 4; ++i)
        out.push_back(static_cast<char>((payload.size() >> (8 * i)) & 0xff));
    return out + payload;
}

/// The headers of the first whole frame in `bytes`.
std::map<std::string, std::string> firstFrameHeaders(const std::string& bytes) {
    std::map<std::string, std::string> out;
    auto get = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = 0; i < n; ++i)
            v |= std::uint64_t{static_cast<unsigned char>(bytes[at + i])} << (8 * i);
        return v;
    };
    if (bytes.size() < 6) return out;
    std::size_t length = get(0, 4);
    if (bytes.size() < 4 + length) return out;
    std::size_t count = get(4, 2);
    std::size_t at = 6;
    for (std::size_t i = 0; i < count && at + 6 <= 4 + length; ++i) {
        std::size_t k = get(at, 2), v = get(at + 2, 4);
        at += 6;
        if (at + k + v > 4 + length) break;
        out[bytes.substr(at, k)] = bytes.substr(at + k, v);
        at += k + v;
    }
    return out;
}

}  // namespace

TEST_CASE(
    "direct: messages published here arrive in a subscriber process, headers and body intact") {
    World world;
    Subscriber sub(world, {"orders"});
    auto rt = micro::Runtime::load(world.manifest);
    std::string body("\x00\x01\xff binary", 10);
    std::vector<micro::Header> headers{{"x-test", "v\xC3\xBC"}};
    for (int i = 0; i < 3; ++i) {
        CHECK_NOTHROW(rt.broker().publish("orders", body + std::to_string(i), headers));
    }
    for (int i = 0; i < 3; ++i) {
        auto got = sub.next();
        REQUIRE(got.has_value());
        CHECK(got->index == 0);
        CHECK(got->body == hex(body + std::to_string(i)));
        CHECK(got->header == hex("v\xC3\xBC"));
    }
}

TEST_CASE("direct: group members in two processes share the messages, plain subscribers get all") {
    World world;
    // Each process: spec 0 is a member of group "workers", spec 1 is plain.
    Subscriber a(world, {"jobs@workers", "jobs"});
    Subscriber b(world, {"jobs@workers", "jobs"});
    auto rt = micro::Runtime::load(world.manifest);
    constexpr int kMessages = 20;
    for (int i = 0; i < kMessages; ++i) {
        CHECK(publishCode(rt, "jobs", numbered("job-", i)) == Code::kOk);
    }
    // Each process gets all kMessages on its plain subscription; the group
    // members' shares add up to kMessages. The two processes' lines are read
    // in turns until everything is in (or 20 s pass).
    std::map<std::string, int> groupCount;  // body -> times the group got it
    int group[2] = {0, 0}, plain[2] = {0, 0};
    Subscriber* subs[2] = {&a, &b};
    auto until = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < until &&
           (plain[0] < kMessages || plain[1] < kMessages || group[0] + group[1] < kMessages)) {
        for (int s = 0; s < 2; ++s) {
            auto line = subs[s]->process.readLine(100ms);
            if (!line) continue;
            if (line->rfind("0 ", 0) == 0) {
                ++group[s];
                ++groupCount[line->substr(2, line->find(' ', 2) - 2)];
            } else {
                ++plain[s];
            }
        }
    }
    const int plainA = plain[0], plainB = plain[1], groupA = group[0], groupB = group[1];
    CHECK(plainA == kMessages);
    CHECK(plainB == kMessages);
    CHECK(groupA + groupB == kMessages);
    CHECK(groupA > 0);
    CHECK(groupB > 0);
    CHECK(groupCount.size() == static_cast<std::size_t>(kMessages));  // none twice, none lost
}

TEST_CASE("direct: a publish to a killed subscriber process fails with UNAVAILABLE or NOT_FOUND") {
    World world;
    auto sub = std::make_unique<Subscriber>(world, std::vector<std::string>{"alerts"});
    auto rt = micro::Runtime::load(world.manifest);
    CHECK(publishCode(rt, "alerts", "first") == Code::kOk);
    auto got = sub->next();
    REQUIRE(got.has_value());
    CHECK(got->body == hex("first"));

    sub->process.signal(SIGKILL);
    REQUIRE(sub->process.wait(10s).has_value());
    // Its node stays in the registry until the TTL runs out; meanwhile it
    // cannot be reached.
    Code code = publishCode(rt, "alerts", "after");
    CHECK((code == Code::kUnavailable || code == Code::kNotFound));
    code = publishCode(rt, "alerts", "again");
    CHECK((code == Code::kUnavailable || code == Code::kNotFound));
}

TEST_CASE("direct: a publish nobody answers fails at its timeout_ms, not at the next refresh") {
    // The node is refreshed every 20 s; a publish gives up after 300 ms.
    World world(60000, 300);
    Subscriber sub(world, {"alerts"});
    auto rt = micro::Runtime::load(world.manifest);
    CHECK(publishCode(rt, "alerts", "first") == Code::kOk);
    REQUIRE(sub.next().has_value());

    sub.process.signal(SIGSTOP);  // still connected, but answers nothing
    REQUIRE(waitStopped(sub.process.pid()));
    const auto start = std::chrono::steady_clock::now();
    CHECK(publishCode(rt, "alerts", "held") == Code::kUnavailable);
    // Well under the 20 s a wait for the next refresh would take.
    CHECK(std::chrono::steady_clock::now() - start < 5s);
    sub.process.signal(SIGCONT);
}

TEST_CASE("direct: a group member that was killed is skipped for the other member") {
    World world;
    Subscriber alive(world, {"tasks@g"});
    auto dead = std::make_unique<Subscriber>(world, std::vector<std::string>{"tasks@g"});
    dead->process.signal(SIGKILL);
    REQUIRE(dead->process.wait(10s).has_value());
    auto rt = micro::Runtime::load(world.manifest);
    for (int i = 0; i < 4; ++i) CHECK(publishCode(rt, "tasks", numbered("t", i)) == Code::kOk);
    for (int i = 0; i < 4; ++i) {
        auto got = alive.next();
        REQUIRE(got.has_value());
        CHECK(got->body == hex(numbered("t", i)));
    }
}

TEST_CASE("direct: a subscriber process that stops cleanly leaves no subscriber behind") {
    World world;
    auto sub = std::make_unique<Subscriber>(world, std::vector<std::string>{"leaving"});
    auto rt = micro::Runtime::load(world.manifest);
    CHECK(publishCode(rt, "leaving", "one") == Code::kOk);
    sub->process.signal(SIGTERM);
    auto status = sub->process.wait(10s);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    // Deregistered on unsubscribe: nobody is left, so the registry says so
    // (at once, or once the watch has seen the deregistration).
    CHECK_THROWS_AS(rt.registry().lookup("micro.broker"), micro::Error);
    Code code = publishCode(rt, "leaving", "two");
    CHECK((code == Code::kNotFound || code == Code::kUnavailable));
}

TEST_CASE("direct: a subscriber outlives its TTL because its node is refreshed") {
    World world(300);  // refreshed every 100 ms
    Subscriber sub(world, {"long"});
    std::this_thread::sleep_for(1s);  // several TTLs
    auto rt = micro::Runtime::load(world.manifest);
    CHECK(publishCode(rt, "long", "still") == Code::kOk);
    auto got = sub.next();
    REQUIRE(got.has_value());
    CHECK(got->body == hex("still"));
}

TEST_CASE("direct: publish with no subscriber anywhere is NOT_FOUND") {
    World world;
    auto rt = micro::Runtime::load(world.manifest);
    CHECK(publishCode(rt, "nobody-listens", "x") == Code::kNotFound);
}

TEST_CASE("direct: garbage on the broker's listener is refused and the broker keeps working") {
    World world;
    Subscriber sub(world, {"events"});
    auto rt = micro::Runtime::load(world.manifest);
    const std::string address = brokerAddress(rt);

    SUBCASE("raw bytes") {
        int fd = connectTo(address);
        sendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(readUntilClosed(fd).has_value());  // the transport hangs up
        ::close(fd);
    }
    SUBCASE("a transport frame without the broker's headers") {
        int fd = connectTo(address);
        sendAll(fd, frame({{"x-other", "1"}}, "body"));
        auto reply = readUntilClosed(fd);
        REQUIRE(reply.has_value());
        auto headers = firstFrameHeaders(*reply);
        CHECK(headers["Micro-Broker-Status"] == std::to_string(MICRO_INVALID_ARGUMENT));
        ::close(fd);
    }
    SUBCASE("a control count past the headers, a bad id, an empty topic") {
        for (const auto& bad : std::vector<std::vector<std::pair<std::string, std::string>>>{
                 {{"Micro-Broker-Control", "9"}},
                 {{"Micro-Broker-Control", "-1"}},
                 {{"Micro-Broker-Control", "3"},
                  {"Micro-Broker-Id", "x"},
                  {"Micro-Broker-Node", "n"},
                  {"Micro-Broker-Topic", "events"}},
                 {{"Micro-Broker-Control", "3"},
                  {"Micro-Broker-Id", "1"},
                  {"Micro-Broker-Node", "n"},
                  {"Micro-Broker-Topic", ""}},
                 {{"Micro-Broker-Control", "2"},
                  {"Micro-Broker-Id", "1"},
                  {"Micro-Broker-Id", "2"}}}) {
            int fd = connectTo(address);
            sendAll(fd, frame(bad, ""));
            auto reply = readUntilClosed(fd);
            REQUIRE(reply.has_value());
            CHECK(firstFrameHeaders(*reply)["Micro-Broker-Status"] ==
                  std::to_string(MICRO_INVALID_ARGUMENT));
            ::close(fd);
        }
    }
    SUBCASE("a well-formed request for another node") {
        int fd = connectTo(address);
        sendAll(fd, frame({{"Micro-Broker-Control", "3"},
                           {"Micro-Broker-Id", "42"},
                           {"Micro-Broker-Node", "not-this-node"},
                           {"Micro-Broker-Topic", "events"}},
                          "x"));
        ::shutdown(fd, SHUT_WR);
        auto reply = readUntilClosed(fd);
        REQUIRE(reply.has_value());
        auto headers = firstFrameHeaders(*reply);
        CHECK(headers["Micro-Broker-Reply"] == "42");
        CHECK(headers["Micro-Broker-Status"] == std::to_string(MICRO_NOT_FOUND));
        ::close(fd);
    }

    // The subscriber process still works.
    CHECK(publishCode(rt, "events", "still-here") == Code::kOk);
    auto got = sub.next();
    REQUIRE(got.has_value());
    CHECK(got->body == hex("still-here"));
}

TEST_CASE("direct: a foreign record under the broker's service name is ignored") {
    World world;
    Subscriber sub(world, {"news"});
    auto rt = micro::Runtime::load(world.manifest);
    rt.registry().registerNode({"micro.broker", "junk-node", "not a capnp record", 10s});
    CHECK(publishCode(rt, "news", "n1") == Code::kOk);
    auto got = sub.next();
    REQUIRE(got.has_value());
    CHECK(got->body == hex("n1"));
}

TEST_CASE(
    "direct: bad config and a missing registry or transport fail at load, naming the problem") {
    TempDir dir;
    auto load = [&](const std::string& text) -> micro::Error {
        std::string path = dir.write("bad.toml", text);
        try {
            micro::Runtime::load(path);
        } catch (const micro::Error& e) {
            return e;
        }
        return micro::Error(Code::kOk, "loaded");
    };
    const std::string registry = "[registry]\nplugin = \"" MICRO_SQLITE_PLUGIN
                                 "\"\ndriver = \"local\"\npath = \"" +
                                 dir.path() + "/r.db\"\n";
    const std::string transport =
        "[transport]\nplugin = \"" MICRO_TCP_PLUGIN "\"\ndriver = \"tcp\"\n";
    const std::string broker =
        "[broker]\nplugin = \"" MICRO_DIRECT_PLUGIN "\"\ndriver = \"direct\"\n";

    auto e = load(broker);
    CHECK(e.code() == Code::kFailedPrecondition);
    CHECK(std::string(e.what()).find("[registry]") != std::string::npos);
    e = load(registry + broker);
    CHECK(e.code() == Code::kFailedPrecondition);
    CHECK(std::string(e.what()).find("[transport]") != std::string::npos);
    e = load(registry + transport + broker + "ttl_ms = \"soon\"\n");
    CHECK(e.code() == Code::kInvalidArgument);
    CHECK(std::string(e.what()).find("ttl_ms") != std::string::npos);
    e = load(registry + transport + broker + "timeout_ms = 0\n");
    CHECK(e.code() == Code::kInvalidArgument);
    CHECK(std::string(e.what()).find("timeout_ms") != std::string::npos);
    e = load(registry + transport + broker + "adress = \"x\"\n");
    CHECK(e.code() == Code::kInvalidArgument);
    CHECK(std::string(e.what()).find("adress") != std::string::npos);

    // A listen address that cannot be used fails the first subscribe.
    std::string path =
        dir.write("listen.toml", registry + transport + broker + "address = \"not an address\"\n");
    auto rt = micro::Runtime::load(path);
    try {
        auto s = rt.broker().subscribe("t", [](const micro::MessageView&) {});
        FAIL("subscribe should have failed");
    } catch (const micro::Error& err) {
        CHECK(err.code() == Code::kInvalidArgument);
        CHECK(std::string(err.what()).find("address") != std::string::npos);
    }
}
