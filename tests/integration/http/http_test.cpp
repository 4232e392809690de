// The http transport end to end: a real greeter-server process on the http
// transport, called by curl (a real HTTP client), by `micro call` and
// greeter-client (the core's client, over WebSocket), and by raw POSIX
// sockets that send malformed requests, oversized headers and bodies,
// headers one byte at a time, and oversized WebSocket frames. Each bad
// connection must get its 4xx answer or WebSocket close, and a connection
// made after it must still be served.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "process.hpp"

using micro::test::ChildProcess;
using micro::test::ProcessResult;
using micro::test::runProcess;
using micro::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kBin = MICRO_BIN_DIR;
const std::string kCurl = "/usr/bin/curl";

bool contains(const std::string& s, std::string_view part) {
    return s.find(part) != std::string::npos;
}

// A greeter-server on the http transport with short limits, a private
// registry so `micro call` and greeter-client find it, and the in-process
// broker its event subscriber needs.
struct Greeter {
    TempDir dir;
    std::string manifest;
    std::unique_ptr<ChildProcess> server;
    std::string address;  // "127.0.0.1:PORT"
    std::uint16_t port = 0;

    Greeter() {
        manifest = dir.write("m.toml",
                             "[registry]\nplugin = \"micro-sqlite.so\"\ndriver = \"local\"\n"
                             "path = \"" +
                                 dir.path() +
                                 "/registry.db\"\n"
                                 "[transport]\nplugin = \"micro-http.so\"\ndriver = \"http\"\n"
                                 "header_timeout_ms = 1500\n"
                                 "max_header_bytes = 16384\n"
                                 "max_body_bytes = 65536\n"
                                 "[broker]\nplugin = \"micro-memory.so\"\ndriver = \"memory\"\n");
        server = std::make_unique<ChildProcess>(
            std::vector<std::string>{kBin + "/greeter-server", "--manifest", manifest, "--address",
                                     "127.0.0.1:0"},
            dir.path() + "/server.err");
        auto line = server->readLine(10s);
        REQUIRE_MESSAGE(line.has_value(), "greeter-server did not start");
        address = line->substr(line->rfind(' ') + 1);
        port = static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
    }

    // curl POST / with the mapping's headers; returns "STATUS\nBODY".
    ProcessResult curl(const std::string& endpoint, const std::string& json,
                       std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv{kCurl,
                                      "-sS",
                                      "-X",
                                      "POST",
                                      "http://" + address + "/",
                                      "-H",
                                      "Micro-Service: greeter",
                                      "-H",
                                      "Micro-Endpoint: " + endpoint,
                                      "-H",
                                      "Content-Type: application/json",
                                      "-d",
                                      json,
                                      "-w",
                                      "\n%{http_code}"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return runProcess(argv, {}, 30);
    }

    // The check every bad-input case ends with: a new connection is served.
    void stillServes() const {
        auto r = curl("Greeter.Hello", R"({"name":"Again"})");
        CHECK(r.exitCode == 0);
        CHECK(contains(r.out, "Hello Again"));
        CHECK(r.out.ends_with("\n200"));
    }
};

// A raw TCP connection to the server.
class Raw {
 public:
    explicit Raw(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~Raw() { ::close(fd_); }
    Raw(const Raw&) = delete;
    Raw& operator=(const Raw&) = delete;

    // False once the peer stopped taking bytes (it closed).
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Everything until the peer closes (true) or `timeout` passes (false).
    bool readToEnd(std::string& out, std::chrono::milliseconds timeout = 10s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        char buf[65536];
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return true;
            if (n < 0) return errno == ECONNRESET;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    // Read until `marker` appears (or the peer closes, or `timeout`).
    std::string readUntil(std::string_view marker, std::chrono::milliseconds timeout = 10s) {
        std::string out;
        const auto until = std::chrono::steady_clock::now() + timeout;
        char buf[4096];
        while (out.find(marker) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

 private:
    int fd_ = -1;
};

// The WebSocket upgrade the way any client sends it (RFC 6455's sample key).
const std::string kUpgrade =
    "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

// A masked client frame header announcing `length` payload bytes.
std::string frameHead(std::uint8_t opcode, std::uint64_t length) {
    std::string h;
    h.push_back(static_cast<char>(0x80 | opcode));
    if (length < 126) {
        h.push_back(static_cast<char>(0x80 | length));
    } else if (length <= 0xFFFF) {
        h.push_back(static_cast<char>(0x80 | 126));
        h.push_back(static_cast<char>(length >> 8));
        h.push_back(static_cast<char>(length & 0xFF));
    } else {
        h.push_back(static_cast<char>(0x80 | 127));
        for (int i = 7; i >= 0; --i) h.push_back(static_cast<char>((length >> (8 * i)) & 0xFF));
    }
    h.append(4, '\0');  // mask key 0: the payload goes as is
    return h;
}

}  // namespace

TEST_CASE("curl calls Greeter.Hello with JSON and gets the JSON reply") {
    Greeter g;
    auto r = g.curl("Greeter.Hello", R"({"name":"Ada"})", {"-i"});
    REQUIRE(r.exitCode == 0);
    CHECK(contains(r.out, "HTTP/1.1 200 OK"));
    CHECK(contains(r.out, R"("greeting":"Hello Ada")"));
    CHECK(contains(r.out, "Content-Type: application/json"));
    CHECK(contains(r.out, "greeter-node: "));  // reply metadata as a header
    CHECK(contains(r.out, "Micro-Id: "));      // generated when the request had none
    auto withId = g.curl("Greeter.Hello", R"({"name":"Bob"})", {"-i", "-H", "Micro-Id: call-7"});
    CHECK(contains(withId.out, "Micro-Id: call-7"));
    CHECK(contains(withId.out, "Hello Bob"));
}

TEST_CASE("a chunked body after Expect: 100-continue is one call, a bad Micro-Timeout is a 400") {
    Greeter g;
    auto r = g.curl("Greeter.Hello", R"({"name":"Chunk"})",
                    {"-i", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue", "-H",
                     "micro-id: lower-7"});
    REQUIRE(r.exitCode == 0);
    CHECK(contains(r.out, "HTTP/1.1 100 Continue"));
    CHECK(contains(r.out, R"("greeting":"Hello Chunk")"));
    CHECK(contains(r.out, "Micro-Id: lower-7"));  // header names match in any case
    CHECK(r.out.ends_with("\n200"));
    auto bad = g.curl("Greeter.Hello", R"({"name":"Ada"})", {"-H", "Micro-Timeout: soon"});
    CHECK(bad.out.ends_with("\n400"));
    CHECK(contains(bad.out, "Micro-Timeout must be a whole number of milliseconds, got 'soon'"));
    g.stillServes();
}

TEST_CASE("curl gets the error status and the JSON error body") {
    Greeter g;
    auto empty = g.curl("Greeter.Hello", R"({"name":""})");
    CHECK(empty.out.ends_with("\n400"));
    CHECK(contains(empty.out, R"("status":"INVALID_ARGUMENT")"));
    CHECK(contains(empty.out, "field 'name'"));
    auto unknown = g.curl("Greeter.Nope", R"({"name":"Ada"})");
    CHECK(unknown.out.ends_with("\n404"));
    CHECK(contains(unknown.out, R"("status":"NOT_FOUND")"));
    CHECK(contains(unknown.out, "Greeter.Nope"));
    g.stillServes();
}

TEST_CASE("JSON that does not match the schema is a 400 naming the field") {
    Greeter g;
    auto r = g.curl("Greeter.Hello", R"({"nmae":"Ada"})");
    CHECK(r.out.ends_with("\n400"));
    CHECK(contains(r.out, "nmae"));
    auto notJson = g.curl("Greeter.Hello", "{not json");
    CHECK(notJson.out.ends_with("\n400"));
    g.stillServes();
}

TEST_CASE(
    "a request without Micro-Endpoint, another path or method is refused, the connection lives "
    "on") {
    Greeter g;
    Raw c(g.port);
    REQUIRE(
        c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
               "POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
               "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
               "POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Greeter.Hello\r\n"
               "Content-Type: application/json\r\nContent-Length: 14\r\n"
               "Connection: close\r\n\r\n{\"name\":\"Pip\"}"));
    std::string all;
    CHECK(c.readToEnd(all));
    // Pipelined: four answers, in order.
    const auto a = all.find("HTTP/1.1 400"), b = all.find("HTTP/1.1 404"),
               m = all.find("HTTP/1.1 405"), ok = all.find("HTTP/1.1 200");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    REQUIRE(m != std::string::npos);
    REQUIRE(ok != std::string::npos);
    CHECK(a < b);
    CHECK(b < m);
    CHECK(m < ok);
    CHECK(contains(all, "missing header Micro-Endpoint"));
    CHECK(contains(all, "Allow: POST"));
    CHECK(contains(all, "Hello Pip"));
    g.stillServes();
}

TEST_CASE("malformed HTTP gets 400 and is closed, others are served") {
    Greeter g;
    Raw c(g.port);
    REQUIRE(c.send("THIS IS NOT HTTP\r\n\r\n"));
    std::string all;
    CHECK(c.readToEnd(all));
    CHECK(all.starts_with("HTTP/1.1 400"));
    CHECK(contains(all, "malformed HTTP request"));
    Raw bad(g.port);
    REQUIRE(bad.send("POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"));
    std::string second;
    CHECK(bad.readToEnd(second));
    CHECK(second.starts_with("HTTP/1.1 400"));
    g.stillServes();
}

TEST_CASE("a header block over max_header_bytes gets 431") {
    Greeter g;
    Raw c(g.port);
    const std::string big(20000, 'a');  // max_header_bytes = 16384 in the manifest
    c.send("POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
    std::string all;
    CHECK(c.readToEnd(all));
    CHECK(all.starts_with("HTTP/1.1 431"));
    CHECK(contains(all, "max_header_bytes"));
    g.stillServes();
}

TEST_CASE("a body over max_body_bytes gets 413 before it is read") {
    Greeter g;
    Raw c(g.port);
    // Only the header is sent: the answer comes from Content-Length alone.
    REQUIRE(
        c.send("POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Greeter.Hello\r\n"
               "Content-Length: 10000000\r\n\r\n"));
    std::string all;
    CHECK(c.readToEnd(all));
    CHECK(all.starts_with("HTTP/1.1 413"));
    CHECK(contains(all, "max_body_bytes"));
    // curl sending a real oversized body, and a chunked one.
    const std::string body = "{\"name\":\"" + std::string(70000, 'x') + "\"}";
    auto r = g.curl("Greeter.Hello", body);
    CHECK(r.out.ends_with("\n413"));
    Raw chunked(g.port);
    chunked.send(
        "POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Greeter.Hello\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
    const std::string chunk(32768, 'y');
    for (int i = 0; i < 3; ++i) chunked.send("8000\r\n" + chunk + "\r\n");
    std::string third;
    CHECK(chunked.readToEnd(third));
    CHECK(third.starts_with("HTTP/1.1 413"));
    g.stillServes();
}

TEST_CASE("a client sending its header one byte a second is closed by header_timeout_ms") {
    Greeter g;  // header_timeout_ms = 1500
    Raw c(g.port);
    const std::string request = "POST / HTTP/1.1\r\nHost: x\r\nMicro-Endpoint: Greeter.Hello\r\n";
    std::string answer;
    bool closed = false;
    for (char ch : request) {
        if (!c.send(std::string(1, ch))) break;
        // Meanwhile another client is served as usual.
        if (ch == 'P') g.stillServes();
        if (c.readToEnd(answer, 1s)) {
            closed = true;
            break;
        }
    }
    CHECK(closed);
    CHECK(answer.starts_with("HTTP/1.1 408"));
    CHECK(contains(answer, "header_timeout_ms"));
    g.stillServes();
}

TEST_CASE("a WebSocket frame over the limit is closed with 1009 and a reason") {
    Greeter g;
    Raw c(g.port);
    REQUIRE(c.send(kUpgrade));
    const std::string head = c.readUntil("\r\n\r\n");
    REQUIRE(head.starts_with("HTTP/1.1 101"));
    CHECK(contains(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    // Announce a 1 MiB binary message (max_body_bytes = 65536): refused from
    // the frame header, before the payload is sent.
    REQUIRE(c.send(frameHead(0x2, 1u << 20)));
    std::string all;
    CHECK(c.readToEnd(all));
    REQUIRE(all.size() >= 4);
    CHECK(static_cast<unsigned char>(all[0]) == 0x88);  // a final close frame
    const int code = (static_cast<unsigned char>(all[2]) << 8) | static_cast<unsigned char>(all[3]);
    CHECK(code == 1009);
    CHECK(contains(all, "exceeds max_body_bytes"));
    g.stillServes();
}

TEST_CASE("a WebSocket text frame and a malformed envelope are refused") {
    Greeter g;
    {
        Raw c(g.port);
        REQUIRE(c.send(kUpgrade));
        REQUIRE(c.readUntil("\r\n\r\n").starts_with("HTTP/1.1 101"));
        REQUIRE(c.send(frameHead(0x1, 2) + "hi"));
        std::string all;
        CHECK(c.readToEnd(all));
        REQUIRE(all.size() >= 4);
        CHECK(((static_cast<unsigned char>(all[2]) << 8) | static_cast<unsigned char>(all[3])) ==
              1003);
    }
    {
        Raw c(g.port);
        REQUIRE(c.send(kUpgrade));
        REQUIRE(c.readUntil("\r\n\r\n").starts_with("HTTP/1.1 101"));
        // One header announced, none present.
        REQUIRE(c.send(frameHead(0x2, 3) + std::string("\x01\x00\x05", 3)));
        std::string all;
        CHECK(c.readToEnd(all));
        REQUIRE(all.size() >= 4);
        CHECK(((static_cast<unsigned char>(all[2]) << 8) | static_cast<unsigned char>(all[3])) ==
              1007);
        CHECK(contains(all, "malformed message"));
    }
    g.stillServes();
}

TEST_CASE("micro call and greeter-client reach the greeter over the http transport") {
    Greeter g;
    auto unary = runProcess({kBin + "/micro", "call", "--manifest", g.manifest, "greeter",
                             "Greeter.Hello", R"({"name":"Ada"})"});
    CHECK(unary.exitCode == 0);
    CHECK(contains(unary.out, "Hello Ada"));
    auto client = runProcess(
        {kBin + "/greeter-client", "--manifest", g.manifest, "--name", "Lin", "--count", "3"});
    CHECK(client.exitCode == 0);
    CHECK(contains(client.out, "Hello Lin"));
    auto failed = runProcess({kBin + "/micro", "call", "--manifest", g.manifest, "greeter",
                              "Greeter.Hello", R"({"name":""})"});
    CHECK(failed.exitCode != 0);
    CHECK(contains(failed.err, "field 'name'"));
}

TEST_CASE("a bidirectional stream runs over WebSocket through the core's client") {
    Greeter g;
    auto r =
        runProcess({kBin + "/micro", "call", "--manifest", g.manifest, "--stream", "greeter",
                    "Greeter.Chat", R"({"name":"Ada"})", R"({"name":"Bob"})", R"({"name":"Cy"})"});
    CHECK(r.exitCode == 0);
    CHECK(contains(r.out, "Hello Ada"));
    CHECK(contains(r.out, "Hello Bob"));
    CHECK(contains(r.out, "Hello Cy"));
    CHECK(r.out.find("Hello Ada") < r.out.find("Hello Cy"));
    g.stillServes();
}

TEST_CASE("a call to a greeter that is gone fails with UNAVAILABLE, no hang") {
    Greeter g;
    g.server->signal(SIGKILL);
    g.server->wait(5s);
    auto r = runProcess({kBin + "/micro", "call", "--manifest", g.manifest, "--timeout", "2000",
                         "greeter", "Greeter.Hello", R"({"name":"Ada"})"});
    CHECK(r.exitCode != 0);
    CHECK(contains(r.err, "UNAVAILABLE"));
}

TEST_CASE("a bad http transport config is refused naming the key") {
    TempDir dir;
    const std::string manifest =
        dir.write("m.toml",
                  "[transport]\nplugin = \"micro-http.so\"\ndriver = \"http\"\n"
                  "max_body_bytes = 1\nheader_timeot_ms = 5\n");
    auto r =
        runProcess({kBin + "/greeter-server", "--manifest", manifest, "--address", "127.0.0.1:0"});
    CHECK(r.exitCode != 0);
    CHECK((contains(r.err, "header_timeot_ms") || contains(r.err, "max_body_bytes")));
}
