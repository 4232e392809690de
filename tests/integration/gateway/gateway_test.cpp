// The API gateway and the admin endpoints end to end: greeter-server and
// gateway-test-server found through a private SQLite registry, `micro api` in
// front of them, curl (and raw sockets, for what curl cannot send) as the
// client.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <micro/metrics.hpp>
#include <micro/runtime.hpp>

#include <capnp/serialize.h>

#include <cstring>
#include <memory>
#include <thread>

#include "child_process.hpp"
#include "process.hpp"
#include "service.capnp.h"

using micro::test::ChildProcess;
using micro::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kBin = MICRO_BIN_DIR;
const std::string kCurl = "/usr/bin/curl";

struct HttpResult {
    int status = 0;
    std::string headers;  // the raw header block
    std::string body;
};

// A private registry and the tcp transport; services and the gateway as
// child processes.
struct Cluster {
    TempDir dir;
    std::string manifest;
    std::vector<std::unique_ptr<ChildProcess>> children;
    std::string api;  // "127.0.0.1:port" of `micro api`

    Cluster() {
        manifest = dir.write("m.toml",
                             "[registry]\nplugin = \"micro-sqlite.so\"\ndriver = \"local\"\n"
                             "path = \"" +
                                 dir.path() +
                                 "/registry.db\"\npoll_ms = 50\n"
                                 "[transport]\nplugin = \"micro-tcp.so\"\ndriver = \"tcp\"\n"
                                 "[broker]\nplugin = \"micro-memory.so\"\ndriver = \"memory\"\n");
    }

    // Start a program and return its first stdout line ("... listening on X").
    std::string start(std::vector<std::string> argv) {
        auto log = dir.path() + "/child" + std::to_string(children.size()) + ".err";
        children.push_back(std::make_unique<ChildProcess>(argv, log));
        auto line = children.back()->readLine(15s);
        REQUIRE_MESSAGE(line.has_value(), "did not start: " << argv[0]);
        return *line;
    }
    ChildProcess& greeter() {
        start({kBin + "/greeter-server", "--manifest", manifest});
        return *children.back();
    }
    ChildProcess& testServer() {
        start({kBin + "/gateway-test-server", "--manifest", manifest});
        return *children.back();
    }
    void gateway(std::vector<std::string> flags = {}) {
        std::vector<std::string> argv = {kBin + "/micro", "api",       "--manifest",
                                         manifest,        "--address", "127.0.0.1:0"};
        argv.insert(argv.end(), flags.begin(), flags.end());
        std::string line = start(argv);
        auto at = line.find("http://");
        REQUIRE_MESSAGE(at != std::string::npos, "unexpected first line: " << line);
        api = line.substr(at + 7);
    }

    // The admin address a service published in its registry record.
    std::string adminOf(const std::string& service) {
        micro::Runtime rt = micro::Runtime::load(manifest);
        auto nodes = rt.registry().lookup(service);
        REQUIRE(!nodes.empty());
        const std::string& bytes = nodes[0].record;
        kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / 8);
        std::memcpy(words.begin(), bytes.data(), bytes.size());
        capnp::FlatArrayMessageReader reader(words);
        for (auto e : reader.getRoot<micro::schema::ServiceRecord>().getNode().getMetadata()) {
            if (e.getKey() == "admin") return e.getValue();
        }
        FAIL("no admin address in the record of " << service);
        return {};
    }
};

// curl ARGS... URL; the status, the header block and the body.
HttpResult curl(std::vector<std::string> args, const std::string& url) {
    std::vector<std::string> argv = {kCurl, "-sS", "-i", "--max-time", "20"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url);
    auto r = micro::test::runProcess(argv, {}, 30);
    REQUIRE_MESSAGE(r.exitCode == 0, "curl failed: " << r.err);
    HttpResult out;
    std::string text = r.out;
    // Skip interim responses (100 Continue).
    while (text.starts_with("HTTP/1.1 100")) text = text.substr(text.find("\r\n\r\n") + 4);
    auto end = text.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    out.headers = text.substr(0, end);
    out.body = text.substr(end + 4);
    out.status = std::stoi(out.headers.substr(9, 3));
    return out;
}

HttpResult post(const Cluster& c, const std::string& path, const std::string& body,
                std::vector<std::string> headers = {}) {
    std::vector<std::string> args = {
        "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", body};
    for (auto& h : headers) {
        args.push_back("-H");
        args.push_back(h);
    }
    return curl(args, "http://" + c.api + path);
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// A raw TCP connection, for requests curl will not send.
class RawConnection {
 public:
    explicit RawConnection(const std::string& address) {
        auto colon = address.rfind(':');
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(std::stoi(address.substr(colon + 1))));
        inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
        timeval tv{20, 0};  // a hang fails the test instead of stalling it
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    ~RawConnection() { ::close(fd_); }

    // Sends what it can; false once the peer closed.
    bool send(const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }
    // Everything until the peer closes (or the receive timeout passes).
    std::string readToClose(bool* closed = nullptr) {
        std::string out;
        char buf[4096];
        for (;;) {
            ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
            if (n == 0) {
                if (closed) *closed = true;
                return out;
            }
            if (n < 0) {
                if (closed) *closed = errno == ECONNRESET;
                return out;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

 private:
    int fd_ = -1;
};

// A fresh connection is still served: the gateway survived what came before.
void stillServes(const Cluster& c) {
    auto r = post(c, "/greeter/hello", R"({"name":"again"})");
    CHECK(r.status == 200);
    CHECK(r.body == R"({"greeting":"Hello again"})");
}

}  // namespace

TEST_CASE("POST in full and short form reaches Greeter.Hello and GET / lists its endpoints") {
    Cluster c;
    c.greeter();
    c.gateway();
    auto full = post(c, "/greeter/Greeter.Hello", R"({"name":"full"})");
    CHECK(full.status == 200);
    CHECK(full.body == R"({"greeting":"Hello full"})");
    CHECK(contains(full.headers, "Content-Type: application/json"));
    CHECK(contains(full.headers, "Micro-greeter-node: greeter-"));
    auto shortForm = post(c, "/greeter/hello", R"({"name":"short"})");
    CHECK(shortForm.status == 200);
    CHECK(shortForm.body == R"({"greeting":"Hello short"})");
    CHECK(post(c, "/greeter/HELLO", R"({"name":"caps"})").body == R"({"greeting":"Hello caps"})");

    auto list = curl({}, "http://" + c.api + "/");
    CHECK(list.status == 200);
    CHECK(contains(list.body, R"("name":"greeter")"));
    CHECK(contains(list.body, R"("name":"Greeter.Hello","path":"/greeter/Greeter.Hello")"));
    CHECK(contains(list.body, R"("name":"Greeter.Chat")"));
    CHECK(contains(list.body, "HelloRequest { name: Text }"));
}

TEST_CASE(
    "unknown service, unknown endpoint, streaming endpoint, ambiguous method and wrong verb") {
    Cluster c;
    c.greeter();
    c.testServer();
    c.gateway();
    auto noService = post(c, "/nosuch/hello", "{}");
    CHECK(noService.status == 404);
    CHECK(contains(noService.body, "service 'nosuch' not found"));
    CHECK(contains(noService.body, R"("status":"NOT_FOUND")"));
    auto noEndpoint = post(c, "/greeter/goodbye", "{}");
    CHECK(noEndpoint.status == 404);
    CHECK(contains(noEndpoint.body, "service 'greeter' has no endpoint 'goodbye'"));
    auto stream = post(c, "/greeter/chat", "{}");
    CHECK(stream.status == 400);
    CHECK(contains(stream.body, "streaming endpoint"));
    auto ambiguous = post(c, "/gwtest/fail", "{}");
    CHECK(ambiguous.status == 400);
    CHECK(contains(ambiguous.body, "Test.Fail"));
    CHECK(contains(ambiguous.body, "Other.Fail"));
    auto get = curl({}, "http://" + c.api + "/greeter/hello");
    CHECK(get.status == 405);
    CHECK(contains(get.headers, "Allow: POST"));
    auto deep = post(c, "/greeter/hello/extra", "{}");
    CHECK(deep.status == 404);
}

TEST_CASE("schema mismatches and handler errors map to HTTP statuses with the JSON error") {
    Cluster c;
    c.greeter();
    c.testServer();
    c.gateway();
    auto wrongField = post(c, "/greeter/hello", R"({"nmae":"x"})");
    CHECK(wrongField.status == 400);
    CHECK(contains(wrongField.body, "nmae"));
    CHECK(contains(wrongField.body, R"("status":"INVALID_ARGUMENT")"));
    auto wrongType = post(c, "/greeter/hello", R"({"name":42})");
    CHECK(wrongType.status == 400);
    CHECK(contains(wrongType.body, "name"));
    auto malformed = post(c, "/greeter/hello", R"({"name":)");
    CHECK(malformed.status == 400);
    CHECK(contains(malformed.body, "malformed JSON"));
    auto empty = post(c, "/greeter/hello", R"({"name":""})");
    CHECK(empty.status == 400);
    CHECK(contains(empty.body, R"("id":"greeter")"));

    struct Case {
        int code;
        int status;
        const char* name;
    };
    for (Case k :
         {Case{7, 403, "PERMISSION_DENIED"}, Case{16, 401, "UNAUTHENTICATED"},
          Case{14, 503, "UNAVAILABLE"}, Case{5, 404, "NOT_FOUND"}, Case{3, 400, "INVALID_ARGUMENT"},
          Case{13, 500, "INTERNAL"}, Case{9, 500, "FAILED_PRECONDITION"}}) {
        INFO("code " << k.code);
        auto r = post(c, "/gwtest/Test.Fail", "{\"code\":" + std::to_string(k.code) + "}");
        CHECK(r.status == k.status);
        CHECK(contains(r.body, std::string(R"("status":")") + k.name + "\""));
        CHECK(contains(r.body, "failed on purpose"));
    }
    auto late = post(c, "/gwtest/Test.Slow", R"({"ms":3000})", {"Micro-Timeout: 100"});
    CHECK(late.status == 504);
    CHECK(contains(late.body, "DEADLINE_EXCEEDED"));
    auto badTimeout = post(c, "/gwtest/Test.Slow", R"({"ms":1})", {"Micro-Timeout: soon"});
    CHECK(badTimeout.status == 400);
    CHECK(contains(badTimeout.body, "Micro-Timeout"));
}

TEST_CASE("Authorization and Micro- headers reach the handler as metadata") {
    Cluster c;
    c.testServer();
    c.gateway();
    auto r = post(c, "/gwtest/whoami", "{}",
                  {"Authorization: Bearer abc.def", "Micro-Tenant: blue", "X-Other: dropped"});
    CHECK(r.status == 200);
    CHECK(r.body ==
          R"({"authorization":"Bearer abc.def","tenant":"blue","contentType":"application/json"})");
    CHECK(contains(r.headers, "Micro-served-by: gwtest"));
    auto none = post(c, "/gwtest/whoami", "{}");
    CHECK(contains(none.body, R"("authorization":"")"));
}

TEST_CASE("CORS preflight is answered for an allowed origin and refused for another") {
    Cluster c;
    c.greeter();
    c.gateway({"--cors-origin", "https://app.example"});
    auto ok = curl({"-X", "OPTIONS", "-H", "Origin: https://app.example", "-H",
                    "Access-Control-Request-Method: POST", "-H",
                    "Access-Control-Request-Headers: authorization, content-type"},
                   "http://" + c.api + "/greeter/hello");
    CHECK(ok.status == 204);
    CHECK(contains(ok.headers, "Access-Control-Allow-Origin: https://app.example"));
    CHECK(contains(ok.headers, "Access-Control-Allow-Methods: POST"));
    CHECK(contains(ok.headers, "Access-Control-Allow-Headers: authorization, content-type"));
    auto call = post(c, "/greeter/hello", R"({"name":"cors"})", {"Origin: https://app.example"});
    CHECK(call.status == 200);
    CHECK(contains(call.headers, "Access-Control-Allow-Origin: https://app.example"));
    auto other = curl({"-X", "OPTIONS", "-H", "Origin: https://evil.example"},
                      "http://" + c.api + "/greeter/hello");
    CHECK(other.status == 403);
    CHECK(!contains(other.headers, "Access-Control-Allow-Origin"));
}

TEST_CASE("health is 200 on a running service and the gateway, and metrics count calls") {
    Cluster c;
    c.greeter();
    c.gateway();
    std::string admin = c.adminOf("greeter");
    auto health = curl({}, "http://" + admin + "/health");
    CHECK(health.status == 200);
    CHECK(contains(health.body, R"("status":"ready")"));
    CHECK(contains(health.body, R"("registered":true)"));
    CHECK(contains(health.body, R"("draining":false)"));
    CHECK(contains(health.body, R"("slot":"registry","driver":"local")"));
    auto gatewayHealth = curl({}, "http://" + c.api + "/health");
    CHECK(gatewayHealth.status == 200);
    CHECK(contains(gatewayHealth.body, R"("service":"micro-api")"));

    const std::string counter =
        R"(micro_server_calls_total{service="greeter",endpoint="Greeter.Hello",code="OK"} )";
    auto before = curl({}, "http://" + admin + "/metrics");
    CHECK(before.status == 200);
    CHECK(contains(before.headers, "Content-Type: text/plain; version=0.0.4"));
    CHECK(!contains(before.body, counter));
    for (int i = 0; i < 3; ++i) post(c, "/greeter/hello", R"({"name":"m"})");
    post(c, "/greeter/hello", R"({"name":""})");
    auto after = curl({}, "http://" + admin + "/metrics");
    CHECK(contains(after.body, counter + "3\n"));
    CHECK(contains(
        after.body,
        R"(micro_server_calls_total{service="greeter",endpoint="Greeter.Hello",code="INVALID_ARGUMENT"} 1)"));
    CHECK(contains(after.body, "# TYPE micro_server_call_duration_seconds histogram"));
    CHECK(contains(
        after.body,
        R"(micro_server_call_duration_seconds_count{service="greeter",endpoint="Greeter.Hello"} 4)"));
    CHECK(contains(after.body, R"(le="+Inf"} 4)"));
    CHECK(contains(after.body, R"(micro_server_in_flight{service="greeter"} 0)"));
    auto gatewayMetrics = curl({}, "http://" + c.api + "/metrics");
    CHECK(contains(
        gatewayMetrics.body,
        R"(micro_api_requests_total{service="greeter",endpoint="Greeter.Hello",code="OK"} 3)"));
    auto notAdmin = curl({}, "http://" + admin + "/other");
    CHECK(notAdmin.status == 404);
}

TEST_CASE("a draining service answers health with 503") {
    Cluster c;
    ChildProcess& server = c.testServer();
    c.gateway();
    std::string admin = c.adminOf("gwtest");
    // A slow call keeps the service draining for a while after SIGTERM.
    std::thread slow([&] { post(c, "/gwtest/slow", R"({"ms":4000})"); });
    // Wait until the call is in flight.
    for (int i = 0; i < 200; ++i) {
        auto h = curl({}, "http://" + admin + "/health");
        if (contains(h.body, R"("inFlight":1)")) break;
        std::this_thread::sleep_for(20ms);
    }
    server.signal(SIGTERM);
    HttpResult draining;
    for (int i = 0; i < 200; ++i) {
        draining = curl({}, "http://" + admin + "/health");
        if (draining.status != 200) break;
        std::this_thread::sleep_for(10ms);
    }
    CHECK(draining.status == 503);
    CHECK(contains(draining.body, R"("draining":true)"));
    CHECK(contains(draining.body, R"("ready":false)"));
    slow.join();
    CHECK(server.wait(10s) == 0);
}

TEST_CASE(
    "malformed HTTP, oversized headers and bodies get 400, 431 and 413, and serving goes on") {
    Cluster c;
    c.greeter();
    c.gateway();
    {
        RawConnection raw(c.api);
        raw.send("this is not http\r\n\r\n");
        std::string reply = raw.readToClose();
        CHECK(reply.starts_with("HTTP/1.1 400"));
        CHECK(contains(reply, "malformed HTTP request"));
    }
    {
        RawConnection raw(c.api);
        std::string big =
            "POST /greeter/hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') +
            "\r\n\r\n";
        raw.send(big);
        std::string reply = raw.readToClose();
        CHECK(reply.starts_with("HTTP/1.1 431"));
    }
    {
        // curl sends Expect: 100-continue for a large body and gets the 413
        // before sending it.
        std::string body(5 * 1024 * 1024, ' ');
        std::string file = c.dir.write("big.json", "{\"name\":\"x\"}" + body);
        auto r = curl(
            {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@" + file},
            "http://" + c.api + "/greeter/hello");
        CHECK(r.status == 413);
        CHECK(contains(r.body, "request body over 4194304 bytes"));
    }
    {
        // Without Expect, the declared length alone is refused.
        RawConnection raw(c.api);
        raw.send("POST /greeter/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n{");
        CHECK(raw.readToClose().starts_with("HTTP/1.1 413"));
    }
    stillServes(c);
}

TEST_CASE("a slow client is closed by the header timeout while others are served") {
    Cluster c;
    c.greeter();
    c.gateway({"--header-timeout", "300"});
    RawConnection slow(c.api);
    CHECK(slow.send("POST /greeter/hello HTTP/1.1\r\nHost: x\r\n"));
    stillServes(c);
    bool closed = false;
    std::string reply = slow.readToClose(&closed);
    CHECK(closed);
    CHECK(reply.empty());
    stillServes(c);
}

TEST_CASE("keep-alive serves several requests on one connection, pipelined too") {
    Cluster c;
    c.greeter();
    c.gateway();
    RawConnection raw(c.api);
    std::string one =
        "POST /greeter/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n{\"name\":\"k\"}";
    std::string last =
        "POST /greeter/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Length: 12\r\n\r\n{\"name\":\"z\"}";
    raw.send(one + one + last);
    std::string replies = raw.readToClose();
    std::size_t count = 0;
    for (auto at = replies.find("HTTP/1.1 200"); at != std::string::npos;
         at = replies.find("HTTP/1.1 200", at + 1)) {
        ++count;
    }
    CHECK(count == 3);
    CHECK(contains(replies, "Hello k"));
    CHECK(contains(replies, "Hello z"));
}

TEST_CASE("micro api refuses bad flags, a bad config and an address in use with one clear line") {
    Cluster c;
    auto badFlag = micro::test::runProcess({kBin + "/micro", "api", "--threads", "many"});
    CHECK(badFlag.exitCode == 2);
    CHECK(contains(badFlag.err, "--threads needs a positive number, got 'many'"));
    auto unknown = micro::test::runProcess({kBin + "/micro", "api", "--bogus", "1"});
    CHECK(unknown.exitCode == 2);
    CHECK(contains(unknown.err, "unknown argument '--bogus'"));
    std::string config = c.dir.write("api.toml", "[api]\naddress = \"127.0.0.1:0\"\ncors = 1\n");
    auto badConfig = micro::test::runProcess(
        {kBin + "/micro", "api", "--manifest", c.manifest, "--config", config});
    CHECK(badConfig.exitCode == 1);
    CHECK(contains(badConfig.err, "api.toml:3: [api] cors: unknown key"));
    c.gateway();
    auto inUse = micro::test::runProcess(
        {kBin + "/micro", "api", "--manifest", c.manifest, "--address", c.api});
    CHECK(inUse.exitCode == 1);
    CHECK(contains(inUse.err, "cannot listen for HTTP on " + c.api));
}

TEST_CASE("metrics registry: series per label tuple, histogram buckets, escaping") {
    micro::metrics::Registry registry;
    auto& calls = registry.counter("t_calls_total", "Calls.", {"path"});
    calls.with({"/a"}).add();
    calls.with({"/a"}).add(2);
    calls.with({"quote\"back\\slash\nline"}).add();
    for (int i = 0; i < 100; ++i) calls.with({std::to_string(i)}).add();  // grows the table
    CHECK(calls.with({"/a"}).value() == 3);
    CHECK(calls.with({"42"}).value() == 1);
    auto& latency = registry.histogram("t_seconds", "Latency.", {}, {0.1, 1});
    latency.with({}).observe(0.0625);
    latency.with({}).observe(0.5);
    latency.with({}).observe(4);
    registry.gauge("t_depth", "Depth.", {"q"}).with({"x"}).set(-2);
    std::string text = registry.expose();
    CHECK(contains(text, "# HELP t_calls_total Calls.\n# TYPE t_calls_total counter\n"));
    CHECK(contains(text, "t_calls_total{path=\"/a\"} 3\n"));
    CHECK(contains(text, R"(t_calls_total{path="quote\"back\\slash\nline"} 1)"));
    CHECK(contains(text, "t_seconds_bucket{le=\"0.1\"} 1\n"));
    CHECK(contains(text, "t_seconds_bucket{le=\"1\"} 2\n"));
    CHECK(contains(text, "t_seconds_bucket{le=\"+Inf\"} 3\n"));
    CHECK(contains(text, "t_seconds_sum 4.5625\n"));
    CHECK(contains(text, "t_seconds_count 3\n"));
    CHECK(contains(text, "t_depth{q=\"x\"} -2\n"));
    CHECK_THROWS_AS(registry.gauge("t_calls_total", "Other.", {"path"}), micro::Error);
    CHECK_THROWS_AS(registry.counter("bad name", "x", {}), micro::Error);
    CHECK_THROWS_AS(calls.with({"a", "b"}), micro::Error);
}
