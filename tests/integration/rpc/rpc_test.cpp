// RPC end to end with real processes: greeter nodes and a test service found
// through the SQLite registry and called over tcp; load balancing, retries
// after kill -9, draining on SIGTERM, errors, deadlines, streams.
#include <doctest/doctest.h>
#include <signal.h>
#include <micro/client.hpp>
#include <micro/codec.hpp>
#include <micro/metrics.hpp>
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "child_process.hpp"
#include "greeter.capnp.h"
#include "process.hpp"

using micro::test::ChildProcess;
using micro::test::TempDir;
using namespace std::chrono_literals;

namespace {

const std::string kBin = MICRO_BIN_DIR;

// A private registry and the tcp transport, in a fresh directory.
struct Cluster {
    TempDir dir;
    std::string manifest;
    std::vector<std::unique_ptr<ChildProcess>> nodes;
    std::vector<std::string> nodeIds;

    Cluster() {
        manifest = dir.write("m.toml",
                             "[registry]\nplugin = \"micro-sqlite.so\"\ndriver = \"local\"\n"
                             "path = \"" +
                                 dir.path() +
                                 "/registry.db\"\npoll_ms = 50\n"
                                 "[transport]\nplugin = \"micro-tcp.so\"\ndriver = \"tcp\"\n");
    }

    // Start a node and wait for its "... <node-id> listening on <address>" line.
    ChildProcess& start(std::vector<std::string> argv) {
        argv.insert(argv.end(), {"--manifest", manifest});
        auto log = dir.path() + "/node" + std::to_string(nodes.size()) + ".err";
        nodes.push_back(std::make_unique<ChildProcess>(argv, log));
        auto line = nodes.back()->readLine(10s);
        REQUIRE_MESSAGE(line.has_value(), "node did not start: " << argv[0]);
        auto words = split(*line);
        REQUIRE(words.size() >= 4);
        nodeIds.push_back(words[1]);
        return *nodes.back();
    }
    ChildProcess& greeter(int ttlMs = 10000) {
        return start({kBin + "/greeter-server", "--ttl-ms", std::to_string(ttlMs)});
    }

    static std::vector<std::string> split(const std::string& s) {
        std::vector<std::string> out;
        std::size_t pos = 0;
        while (pos < s.size()) {
            auto next = s.find(' ', pos);
            if (next == std::string::npos) next = s.size();
            if (next > pos) out.push_back(s.substr(pos, next - pos));
            pos = next + 1;
        }
        return out;
    }
};

std::string helloBody(const std::string& name) {
    capnp::MallocMessageBuilder m;
    m.initRoot<greeter::HelloRequest>().setName(name);
    return micro::codec::encode<greeter::HelloRequest>(
        micro::codec::ContentType::kCapnp, m.getRoot<greeter::HelloRequest>().asReader());
}

std::string greetingOf(const micro::Response& r) {
    capnp::MallocMessageBuilder m;
    return micro::codec::decode<greeter::HelloResponse>(micro::codec::ContentType::kCapnp, r.body,
                                                        m)
        .getGreeting()
        .cStr();
}

// Four threads making 500 Greeter.Hello calls each, counting failures.
class Load {
 public:
    Load(micro::Client& client, const std::string& body) {
        for (int t = 0; t < 4; ++t) {
            callers_.emplace_back([this, &client, &body] {
                for (int i = 0; i < 500; ++i) {
                    try {
                        client.call("greeter", "Greeter.Hello", body);
                    } catch (const micro::Error& e) {
                        ++failed;
                        std::lock_guard lock(mutex_);
                        if (firstError_.empty()) firstError_ = e.describe();
                    }
                    ++done;
                }
            });
        }
    }
    ~Load() { join(); }
    void waitFor(int calls) const {
        while (done < calls) std::this_thread::sleep_for(1ms);
    }
    void join() {
        for (auto& t : callers_) {
            if (t.joinable()) t.join();
        }
    }
    std::string firstError() {
        std::lock_guard lock(mutex_);
        return firstError_;
    }

    std::atomic<int> done{0}, failed{0};

 private:
    std::mutex mutex_;
    std::string firstError_;
    std::vector<std::thread> callers_;
};

micro::Code codeOf(const std::function<void()>& f, std::string* message = nullptr) {
    try {
        f();
    } catch (const micro::Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    return micro::Code::kOk;
}

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

}  // namespace

TEST_CASE("2000 calls spread over three greeter nodes, each getting at least 20%") {
    Cluster c;
    for (int i = 0; i < 3; ++i) c.greeter();
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    std::string body = helloBody("spread");
    std::map<std::string, int> perNode;
    for (int i = 0; i < 2000; ++i) {
        micro::Response r = client.call("greeter", "Greeter.Hello", body);
        CHECK(greetingOf(r) == "Hello spread");
        ++perNode[std::string(micro::metadataValue(r.metadata, "greeter-node"))];
    }
    REQUIRE(perNode.size() == 3);
    for (const auto& id : c.nodeIds) {
        INFO("node " << id);
        CHECK(perNode[id] >= 400);
    }
}

TEST_CASE("round-robin visits nodes in turn and hashing keeps one key on one node") {
    Cluster c;
    for (int i = 0; i < 3; ++i) c.greeter();
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    std::string body = helloBody("rr");
    {
        micro::Client client(rt, {.selection = micro::Selection::kRoundRobin});
        std::map<std::string, int> perNode;
        for (int i = 0; i < 300; ++i) {
            auto r = client.call("greeter", "Greeter.Hello", body);
            ++perNode[std::string(micro::metadataValue(r.metadata, "greeter-node"))];
        }
        REQUIRE(perNode.size() == 3);
        for (auto& [node, n] : perNode) CHECK(n == 100);
    }
    {
        micro::Client client(rt, {.selection = micro::Selection::kHash});
        std::map<std::string, std::set<std::string>> nodesPerKey;
        for (int i = 0; i < 120; ++i) {
            std::string key = "user-" + std::to_string(i % 6);
            auto r = client.call("greeter", "Greeter.Hello", body, {.key = key});
            nodesPerKey[key].insert(std::string(micro::metadataValue(r.metadata, "greeter-node")));
        }
        for (auto& [key, nodes] : nodesPerKey) {
            INFO("key " << key);
            CHECK(nodes.size() == 1);
        }
    }
}

TEST_CASE("kill -9 of a node mid-run fails no call, and its entry expires with its TTL") {
    Cluster c;
    for (int i = 0; i < 3; ++i) c.greeter(1000);
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    // Live nodes re-register on an interval: after more than a TTL all three
    // are still there.
    std::this_thread::sleep_for(1500ms);
    CHECK(rt.registry().lookup("greeter").size() == 3);
    micro::Client client(rt);
    std::string body = helloBody("survivor");
    Load load(client, body);
    load.waitFor(500);
    c.nodes[1]->signal(SIGKILL);
    auto killedAt = std::chrono::steady_clock::now();
    load.join();
    INFO("first error: " << load.firstError());
    CHECK(load.done == 2000);
    CHECK(load.failed == 0);

    // The dead node's record goes when its 1 s TTL runs out (plus one sweep).
    const std::string dead = c.nodeIds[1];
    bool gone = false;
    while (!gone && std::chrono::steady_clock::now() - killedAt < 10s) {
        gone = true;
        for (const auto& n : rt.registry().lookup("greeter")) gone = gone && n.node != dead;
        if (!gone) std::this_thread::sleep_for(50ms);
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killedAt);
    CHECK(gone);
    CHECK(took < 2500ms);  // TTL 1 s + sweep interval, with room for a loaded machine
}

TEST_CASE("SIGTERM under load: the node deregisters, drains, exits 0, and no call fails") {
    Cluster c;
    for (int i = 0; i < 3; ++i) c.greeter();
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    std::string body = helloBody("drain");
    Load load(client, body);
    load.waitFor(400);
    c.nodes[2]->signal(SIGTERM);
    auto exit = c.nodes[2]->wait(10s);
    load.join();
    INFO("first error: " << load.firstError());
    CHECK(load.failed == 0);
    CHECK(load.done == 2000);
    REQUIRE(exit.has_value());
    CHECK(*exit == 0);
    for (const auto& n : rt.registry().lookup("greeter")) CHECK(n.node != c.nodeIds[2]);
}

TEST_CASE("unknown services and endpoints are NOT_FOUND naming them") {
    Cluster c;
    c.greeter();
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    std::string message;
    CHECK(codeOf([&] { client.call("nosuch", "X.Y", ""); }, &message) == micro::Code::kNotFound);
    CHECK(message.find("'nosuch'") != std::string::npos);
    CHECK(codeOf([&] { client.call("greeter", "Greeter.Nope", helloBody("x")); }, &message) ==
          micro::Code::kNotFound);
    CHECK(message.find("'Greeter.Nope'") != std::string::npos);
}

TEST_CASE("malformed JSON and wrong field types are INVALID_ARGUMENT naming the field") {
    Cluster c;
    c.greeter();
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    micro::CallOptions json{.contentType = micro::kContentJson};
    std::string message;
    CHECK(codeOf([&] { client.call("greeter", "Greeter.Hello", "{\"name\": ", json); }, &message) ==
          micro::Code::kInvalidArgument);
    CHECK(message.find("JSON") != std::string::npos);
    CHECK(codeOf([&] { client.call("greeter", "Greeter.Hello", "{\"name\": 42}", json); },
                 &message) == micro::Code::kInvalidArgument);
    CHECK(message.find("'name'") != std::string::npos);
    CHECK(codeOf([&] { client.call("greeter", "Greeter.Hello", "{\"nam\": \"x\"}", json); },
                 &message) == micro::Code::kInvalidArgument);
    CHECK(message.find("'nam'") != std::string::npos);
    // Garbage in the binary encoding too.
    CHECK(codeOf([&] { client.call("greeter", "Greeter.Hello", "\x01\x02\x03"); }) ==
          micro::Code::kInvalidArgument);
    // And the same node still answers properly.
    auto r = client.call("greeter", "Greeter.Hello", "{\"name\": \"json\"}", json);
    CHECK(r.body == "{\"greeting\":\"Hello json\"}");
}

TEST_CASE("a handler that throws is INTERNAL with its message, and the server lives on") {
    Cluster c;
    c.start({kBin + "/rpc-test-server"});
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    std::string message;
    CHECK(
        codeOf(
            [&] { client.call("rpctest", "Test.Throw", "", {.contentType = micro::kContentRaw}); },
            &message) == micro::Code::kInternal);
    CHECK(message.find("handler failed on purpose") != std::string::npos);
    auto r = client.call("rpctest", "Test.Echo", "still here", {.contentType = micro::kContentRaw});
    CHECK(r.body == "still here");
}

TEST_CASE("server and client middleware see, change and reject calls") {
    Cluster c;
    c.start({kBin + "/rpc-test-server"});
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    std::atomic<int> seen{0};
    client.use([&](micro::ClientCall& call, const micro::ClientHandler& next) {
        ++seen;
        if (call.body == "please reject") call.metadata.emplace_back("x-reject", "yes");
        next(call);
    });
    micro::CallOptions raw{.contentType = micro::kContentRaw};
    auto r = client.call("rpctest", "Test.Echo", "hi", raw);
    CHECK(r.body == "hi");
    CHECK(micro::metadataValue(r.metadata, "x-middleware") == "seen Test.Echo");
    std::string message;
    CHECK(codeOf([&] { client.call("rpctest", "Test.Echo", "please reject", raw); }, &message) ==
          micro::Code::kPermissionDenied);
    CHECK(message == "rejected by middleware");
    CHECK(seen == 2);
}

TEST_CASE("the deadline travels to the server and bounds the call") {
    Cluster c;
    c.start({kBin + "/rpc-test-server"});
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    auto r = client.call("rpctest", "Test.Deadline", "",
                         {.contentType = micro::kContentRaw, .timeout = 700ms});
    int left = std::stoi(r.body);
    CHECK(left > 0);
    CHECK(left <= 700);
    auto start = std::chrono::steady_clock::now();
    CHECK(codeOf([&] {
              client.call("rpctest", "Test.Slow", "3000",
                          {.contentType = micro::kContentRaw, .timeout = 300ms});
          }) == micro::Code::kDeadlineExceeded);
    CHECK(std::chrono::steady_clock::now() - start < 2500ms);
}

TEST_CASE("a bidi stream echoes in order, and a reader that never reads bounds the writer") {
    Cluster c;
    c.start({kBin + "/rpc-test-server"});
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Client client(rt);
    {
        micro::Stream s = client.stream("rpctest", "Test.StreamEcho",
                                        {.contentType = micro::kContentRaw, .timeout = 20s});
        std::vector<std::string> got;
        std::thread reader([&] {
            std::string m;
            while (s.recv(m)) got.push_back(m);
        });
        for (int i = 0; i < 1000; ++i) s.send(std::to_string(i));
        s.closeSend();
        reader.join();
        REQUIRE(got.size() == 1000);
        for (int i = 0; i < 1000; ++i) CHECK(got[i] == std::to_string(i));
    }
    {
        // Nobody reads the echoes: the server's window fills, it stops
        // reading, ours fills, and send gives up at the deadline instead of
        // buffering without bound.
        micro::Stream s = client.stream("rpctest", "Test.StreamEcho",
                                        {.contentType = micro::kContentRaw, .timeout = 800ms});
        int sent = 0;
        auto code = codeOf([&] {
            for (; sent < 100000; ++sent) s.send("x");
        });
        CHECK(code == micro::Code::kDeadlineExceeded);
        CHECK(sent < 1000);
    }
}

TEST_CASE("server metrics: a series per endpoint and code, each from its first call") {
    Cluster c;
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    // Inline handlers and pooled ones take different paths to the middleware.
    for (std::size_t threads : {std::size_t{0}, std::size_t{2}}) {
        // A service per run: the series live in the process-wide registry.
        const std::string name = "metered" + std::to_string(threads);
        CAPTURE(name);
        micro::Service service(rt,
                               {.name = name, .handlerThreads = threads, .adminAddress = "off"});
        service.handleRaw("M.Code", [](micro::ServerCall& call) {
            const int code = std::stoi(std::string(call.body));
            if (code != 0) throw micro::Error(static_cast<micro::Code>(code), "as asked");
            call.response = "ok";
        });
        service.handleRaw("M.Throw",
                          [](micro::ServerCall&) { throw std::runtime_error("on purpose"); });
        service.handleRaw("M.Never", [](micro::ServerCall&) {});
        service.handleStream("M.Stream", [](micro::ServerCall&, micro::Stream& stream) {
            std::string m;
            while (stream.recv(m)) stream.send(m);
        });
        service.start();
        const std::string calls = "micro_server_calls_total{service=\"" + name + "\",";
        const std::string took =
            "micro_server_call_duration_seconds_count{service=\"" + name + "\",";
        auto exposed = [] { return micro::metrics::Registry::global().expose(); };
        CHECK(!contains(exposed(), calls));
        CHECK(!contains(exposed(), took));

        micro::Client client(rt);
        micro::CallOptions raw{.contentType = micro::kContentRaw};
        auto callWith = [&](std::string_view code) {
            return codeOf([&] { client.call(name, "M.Code", code, raw); });
        };
        CHECK(callWith("0") == micro::Code::kOk);
        CHECK(callWith("0") == micro::Code::kOk);
        CHECK(callWith("5") == micro::Code::kNotFound);
        CHECK(callWith("99") != micro::Code::kOk);
        CHECK(callWith("99") != micro::Code::kOk);
        CHECK(codeOf([&] { client.call(name, "M.Throw", "", raw); }) == micro::Code::kInternal);
        {
            micro::Stream s = client.stream(name, "M.Stream", {.contentType = micro::kContentRaw});
            s.send("x");
            s.closeSend();
            std::string m;
            while (s.recv(m)) {
            }
        }

        const std::string text = exposed();
        auto has = [&](const std::string& series, int value) {
            return contains(text, series + " " + std::to_string(value) + "\n");
        };
        CHECK(has(calls + R"(endpoint="M.Code",code="OK"})", 2));
        CHECK(has(calls + R"(endpoint="M.Code",code="NOT_FOUND"})", 1));
        // Outside the canonical codes: looked up on each call, still counted.
        CHECK(has(calls + R"(endpoint="M.Code",code="UNKNOWN"})", 2));
        CHECK(has(calls + R"(endpoint="M.Throw",code="INTERNAL"})", 1));
        CHECK(has(calls + R"(endpoint="M.Stream",code="OK"})", 1));
        CHECK(has(took + R"(endpoint="M.Code"})", 5));
        CHECK(has(took + R"(endpoint="M.Stream"})", 1));
        CHECK(!contains(text, R"(endpoint="M.Never")"));
        CHECK(has("micro_server_in_flight{service=\"" + name + "\"}", 0));
    }
}

TEST_CASE("a nonBlocking endpoint runs on the transport's thread while the pool is busy") {
    Cluster c;
    micro::Runtime rt = micro::Runtime::load(c.manifest);
    micro::Service service(rt, {.name = "inliner", .handlerThreads = 1, .adminAddress = "off"});
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<std::thread::id> poolThread;
    // Holds the pool's only thread until the test lets it go.
    service.handleRaw("M.Hold", [&](micro::ServerCall& call) {
        poolThread.set_value(std::this_thread::get_id());
        released.wait();
        call.response = "held";
    });
    std::thread::id quickThread;
    service.handleRaw("M.Quick",
                      [&](micro::ServerCall& call) {
                          quickThread = std::this_thread::get_id();
                          call.response = "quick";
                      },
                      {.nonBlocking = true});
    service.handleRaw("M.Pooled", [](micro::ServerCall& call) { call.response = "pooled"; });
    service.start();

    micro::Client client(rt);
    micro::CallOptions raw{.contentType = micro::kContentRaw};
    std::string held;
    std::thread holder([&] { held = client.call("inliner", "M.Hold", "", raw).body; });
    const std::thread::id pool = poolThread.get_future().get();
    // With the pool's thread held, only an inline handler can answer.
    CHECK(client.call("inliner", "M.Quick", "", raw).body == "quick");
    CHECK(quickThread != pool);
    // The check bites: an unmarked endpoint queues behind the held one.
    micro::CallOptions brief = raw;
    brief.timeout = 300ms;
    CHECK(codeOf([&] { client.call("inliner", "M.Pooled", "", brief); }) ==
          micro::Code::kDeadlineExceeded);
    release.set_value();
    holder.join();
    CHECK(held == "held");
    CHECK(client.call("inliner", "M.Pooled", "", raw).body == "pooled");
}

// A flag and its change, to wait on from another thread.
struct Gate {
    std::mutex mutex;
    std::condition_variable changed;
    bool open = false;
    void set() {
        {
            std::lock_guard lock(mutex);
            open = true;
        }
        changed.notify_all();
    }
    bool waitFor(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, timeout, [&] { return open; });
    }
};

TEST_CASE("a pooled reply while another call is in flight is left to the server's io thread") {
    // The server's one io thread is held by a nonBlocking handler that
    // blocks. A pooled handler that returns meanwhile replies with another
    // call in flight: marked more-follows, its reply waits for the io thread
    // instead of being written from the worker, and leaves once it is free.
    Cluster c;
    const std::string oneIo =
        c.dir.write("one-io.toml", micro::test::readFile(c.manifest) + "io_threads = 1\n");
    micro::Runtime serverRt = micro::Runtime::load(oneIo);
    micro::Service service(serverRt,
                           {.name = "batcher", .handlerThreads = 1, .adminAddress = "off"});
    Gate ioHeld, replied, unstall;
    service.handleRaw("M.Reply", [&](micro::ServerCall& call) {
        REQUIRE(ioHeld.waitFor(10s));
        call.response = "reply";
        replied.set();
    });
    service.handleRaw("M.Stall",
                      [&](micro::ServerCall& call) {
                          ioHeld.set();
                          REQUIRE(unstall.waitFor(20s));
                          call.response = "stall";
                      },
                      {.nonBlocking = true});
    service.start();

    micro::Runtime clientRt = micro::Runtime::load(c.manifest);  // io threads of its own
    micro::Client client(clientRt);
    micro::CallOptions raw{.contentType = micro::kContentRaw, .timeout = 30s};
    std::promise<std::string> reply, stall;
    auto answer = [](std::promise<std::string>& to) {
        return [&to](micro::Response* r, const micro::Error* e) {
            to.set_value(r != nullptr ? r->body : std::string("error: ") + e->what());
        };
    };
    client.callAsync("batcher", "M.Reply", "", raw, answer(reply));
    client.callAsync("batcher", "M.Stall", "", raw, answer(stall));
    std::future<std::string> replyDone = reply.get_future();
    REQUIRE(replied.waitFor(10s));
    CHECK(replyDone.wait_for(300ms) == std::future_status::timeout);
    unstall.set();
    REQUIRE(replyDone.wait_for(10s) == std::future_status::ready);
    CHECK(replyDone.get() == "reply");
    CHECK(stall.get_future().get() == "stall");
}

TEST_CASE("a request sent while another to the node is pending is left to the client's io thread") {
    // The client's one io thread is held by a completion that blocks. A
    // request made meanwhile, with another call pending, is marked
    // more-follows: it waits for that io thread instead of being written by
    // the caller, and leaves once it is free.
    Cluster c;
    micro::Runtime serverRt = micro::Runtime::load(c.manifest);
    micro::Service service(serverRt, {.name = "counted", .adminAddress = "off"});
    std::atomic<int> fastArrived{0};
    Gate slowGo;
    service.handleRaw("M.Fast", [&](micro::ServerCall& call) {
        fastArrived.fetch_add(1);
        call.response = "fast";
    });
    service.handleRaw("M.Slow", [&](micro::ServerCall& call) {
        REQUIRE(slowGo.waitFor(20s));
        call.response = "slow";
    });
    service.start();

    const std::string oneIo =
        c.dir.write("one-io.toml", micro::test::readFile(c.manifest) + "io_threads = 1\n");
    micro::Runtime clientRt = micro::Runtime::load(oneIo);
    micro::Client client(clientRt);
    micro::CallOptions raw{.contentType = micro::kContentRaw, .timeout = 30s};
    Gate clientHeld, unblock;
    // Its completion runs on the client's io thread, which read the reply.
    client.callAsync("counted", "M.Fast", "", raw, [&](micro::Response*, const micro::Error*) {
        clientHeld.set();
        unblock.waitFor(20s);
    });
    REQUIRE(clientHeld.waitFor(10s));
    REQUIRE(fastArrived.load() == 1);
    std::promise<std::string> slow, fast;
    auto answer = [](std::promise<std::string>& to) {
        return [&to](micro::Response* r, const micro::Error* e) {
            to.set_value(r != nullptr ? r->body : std::string("error: ") + e->what());
        };
    };
    client.callAsync("counted", "M.Slow", "", raw, answer(slow));  // alone: written at once
    client.callAsync("counted", "M.Fast", "", raw, answer(fast));  // behind it
    std::this_thread::sleep_for(300ms);
    CHECK(fastArrived.load() == 1);
    unblock.set();
    std::future<std::string> fastDone = fast.get_future();
    REQUIRE(fastDone.wait_for(10s) == std::future_status::ready);
    CHECK(fastDone.get() == "fast");
    CHECK(fastArrived.load() == 2);
    slowGo.set();
    CHECK(slow.get_future().get() == "slow");
}

TEST_CASE("micro call prints JSON, and an error with its code and exit status 1") {
    Cluster c;
    c.greeter();
    auto ok = micro::test::runProcess({kBin + "/micro", "call", "greeter", "Greeter.Hello",
                                       "{\"name\":\"cli\"}", "--manifest", c.manifest});
    INFO(ok.err);
    CHECK(ok.exitCode == 0);
    CHECK(ok.out == "{\"greeting\":\"Hello cli\"}\n");
    auto bad = micro::test::runProcess({kBin + "/micro", "call", "greeter", "Greeter.Hello",
                                        "{\"name\":1}", "--manifest", c.manifest});
    CHECK(bad.exitCode == 1);
    CHECK(bad.err.find("INVALID_ARGUMENT") != std::string::npos);
    CHECK(bad.err.find("'name'") != std::string::npos);
    auto described =
        micro::test::runProcess({kBin + "/micro", "describe", "greeter", "--manifest", c.manifest});
    CHECK(described.exitCode == 0);
    CHECK(described.out.find("HelloRequest { name: Text }") != std::string::npos);
    auto services =
        micro::test::runProcess({kBin + "/micro", "services", "--manifest", c.manifest});
    CHECK(services.out == "greeter\n");
}
