#include "rpc_bench.hpp"

#include <micro/client.hpp>
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "flags.hpp"
#include "latency.hpp"
#include "process.hpp"

namespace micro::bench {

const char* const kRpcUsage =
    "usage: micro-bench rpc --concurrency C --payload P --duration D [--warmup W]\n"
    "                       [--address HOST:PORT] [--manifest FILE]\n"
    "\n"
    "Unary echo over the tcp transport: C calls in flight (closed loop, Client::callAsync),\n"
    "P bytes of application/octet-stream each way, to \"Echo.Echo\" of the service \"bench\".\n"
    "Prints one line: rpc qps=... p50_us=... p99_us=... conc=C payload=P\n"
    "\n"
    "  --concurrency C  calls in flight (default 1)\n"
    "  --payload P      request and response body in bytes (default 64)\n"
    "  --duration D     measured seconds (default 5)\n"
    "  --warmup W       unmeasured seconds before (default 1)\n"
    "  --address A      call the server at A (already running: `micro-bench rpc-server`)\n"
    "                   instead of starting one and finding it through the registry\n"
    "  --manifest FILE  the manifest for the client and the server it starts (default: a\n"
    "                   temporary one: registry micro-sqlite.so \"local\" in a temporary\n"
    "                   directory, transport micro-tcp.so \"tcp\" with io_threads = 2)\n";

const char* const kRpcServerUsage =
    "usage: micro-bench rpc-server [--manifest FILE] [--address HOST:PORT]\n"
    "                              [--handler-threads N]\n"
    "\n"
    "The echo service \"bench\" (raw endpoint \"Echo.Echo\" returns the body). Prints its\n"
    "bound address on a line, serves until SIGINT or SIGTERM.\n"
    "\n"
    "  --manifest FILE      default: $MICRO_MANIFEST, ./plugins.toml, the installed one\n"
    "  --address A          where to listen (default 127.0.0.1:0, a free port)\n"
    "  --handler-threads N  handler worker threads; 0 (default) runs the handler inline\n"
    "                       on the transport's I/O threads\n";

namespace {

using namespace std::chrono_literals;

constexpr std::string_view kService = "bench";
constexpr std::string_view kEndpoint = "Echo.Echo";
constexpr std::int64_t kMaxPayload = std::int64_t{64} << 20;

struct RpcOptions {
    int concurrency = 1;
    std::size_t payload = 64;
    double duration = 5;
    double warmup = 1;
    std::string address;
    std::string manifest;
};

std::string tomlString(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::filesystem::path writeManifest(const std::filesystem::path& dir) {
    auto path = dir / "plugins.toml";
    std::ofstream out(path);
    out << "# micro-bench rpc: a private registry and the tcp transport.\n"
           "[registry]\n"
           "plugin = \"micro-sqlite.so\"\n"
           "driver = \"local\"\n"
           "path = "
        << tomlString((dir / "registry.db").string())
        << "\n\n"
           "[transport]\n"
           "plugin = \"micro-tcp.so\"\n"
           "driver = \"tcp\"\n"
           "io_threads = 2\n";
    out.close();
    if (!out) throw std::runtime_error("cannot write " + path.string());
    return path;
}

// The closed loop: one Slot per call in flight, re-issued from its own
// completion until the window ends. Everything here outlives the Runtime,
// so a completion that runs while the transport shuts down finds it alive.
struct Load;

struct Slot {
    Load* load = nullptr;
    Clock::time_point start;
};

struct Load {
    Client* client = nullptr;
    CallOptions options;
    std::string body;
    Window window;
    LatencyHistogram latencies;
    std::vector<Slot> slots;

    std::mutex mutex;
    std::condition_variable finished;
    int running = 0;           // slots still issuing; guarded by mutex
    std::uint64_t errors = 0;  // guarded by mutex
    std::string firstError;    // guarded by mutex

    void issue(Slot& slot) noexcept {
        slot.start = Clock::now();
        try {
            client->callAsync(
                kService, kEndpoint, body, options,
                [&slot](Response* r, const Error* e) { slot.load->complete(slot, r, e); });
        } catch (const std::exception& e) {
            retire(e.what());
        }
    }

    void complete(Slot& slot, Response* response, const Error* error) noexcept {
        const Clock::time_point now = Clock::now();
        if (error != nullptr || response == nullptr || response->body.size() != body.size()) {
            retire(error != nullptr      ? error->describe()
                   : response == nullptr ? std::string("no response")
                                         : "the echo has " + std::to_string(response->body.size()) +
                                               " bytes, not " + std::to_string(body.size()));
            return;
        }
        if (window.contains(now)) latencies.record(now - slot.start);
        if (now < window.end) {
            issue(slot);
        } else {
            retire({});
        }
    }

    /// The slot stops issuing (the window ended, or its call failed).
    void retire(std::string error) noexcept {
        std::lock_guard lock(mutex);
        if (!error.empty()) {
            if (errors++ == 0) firstError = std::move(error);
        }
        if (--running == 0) finished.notify_all();
    }
};

// Runs the loop against `address` (empty: found through the registry).
// Returns the exit status; prints the result line.
int runClient(const std::filesystem::path& manifest, const RpcOptions& o, Load& load) {
    Runtime runtime = Runtime::load(manifest);
    Client client(runtime);
    load.client = &client;
    load.body.assign(o.payload, 'x');
    load.options.contentType = kContentRaw;
    load.options.timeout = 5000ms;
    load.options.address = o.address;

    // One call first: the service is reachable, echoes faithfully, and the
    // discovery cache and the connection are warm before the clock starts.
    // A server given by --address must answer at once; one just started
    // gets a moment.
    for (auto until = Clock::now() + (o.address.empty() ? 5s : 0s);;) {
        try {
            Response r = client.call(kService, kEndpoint, load.body, load.options);
            if (r.body != load.body) {
                std::fprintf(stderr, "micro-bench rpc: the echo differs from the request\n");
                return 1;
            }
            break;
        } catch (const Error& e) {
            bool transient = e.code() == Code::kNotFound || e.code() == Code::kUnavailable;
            if (!transient || Clock::now() >= until) throw;
            std::this_thread::sleep_for(20ms);
        }
    }

    load.slots.assign(static_cast<std::size_t>(o.concurrency), Slot{&load, {}});
    load.running = o.concurrency;
    load.window = Window::fromNow(o.warmup, o.duration);
    for (Slot& slot : load.slots) load.issue(slot);

    std::unique_lock lock(load.mutex);
    const auto limit = std::chrono::duration<double>(o.warmup + o.duration) + 30s;
    if (!load.finished.wait_for(lock, limit, [&] { return load.running == 0; })) {
        std::fprintf(stderr, "micro-bench rpc: %d call(s) still in flight 30 s after the end\n",
                     load.running);
        return 1;
    }
    std::string line = resultLine("rpc", load.latencies, o.duration, o.concurrency, o.payload);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (load.errors > 0) {
        std::fprintf(stderr, "micro-bench rpc: %llu failed call(s); the first: %s\n",
                     static_cast<unsigned long long>(load.errors), load.firstError.c_str());
        return 1;
    }
    return 0;
    // The client, then the runtime, go away here; `load` lives on.
}

}  // namespace

int rpcMain(std::span<char* const> args) {
    RpcOptions o;
    FlagParser flags;
    flags.add("--concurrency", [&](auto name, auto v) {
        o.concurrency = static_cast<int>(FlagParser::integer(name, v, 1, 100000));
    });
    flags.add("--payload", [&](auto name, auto v) {
        o.payload = static_cast<std::size_t>(FlagParser::integer(name, v, 0, kMaxPayload));
    });
    flags.add("--duration",
              [&](auto name, auto v) { o.duration = FlagParser::seconds(name, v, true); });
    flags.add("--warmup",
              [&](auto name, auto v) { o.warmup = FlagParser::seconds(name, v, false); });
    flags.add("--address", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs HOST:PORT");
        o.address = v;
    });
    flags.add("--manifest", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs a file");
        o.manifest = v;
    });
    if (!flags.parse(args)) {
        std::fputs(kRpcUsage, stdout);
        return 0;
    }

    try {
        TempDir dir("micro-bench-rpc");
        std::filesystem::path manifest =
            o.manifest.empty() ? writeManifest(dir.path()) : std::filesystem::path(o.manifest);
        if (!std::filesystem::exists(manifest)) {
            std::fprintf(stderr, "micro-bench rpc: %s: manifest does not exist\n",
                         manifest.c_str());
            return 1;
        }
        std::unique_ptr<ChildProcess> server;
        if (o.address.empty()) {
            server = std::make_unique<ChildProcess>(
                std::vector<std::string>{selfExecutable().string(), "rpc-server", "--manifest",
                                         manifest.string(), "--address", "127.0.0.1:0"});
            try {
                server->readLine(15s);  // its address: registered and listening
            } catch (const std::exception& e) {
                std::fprintf(stderr, "micro-bench rpc: rpc-server: %s\n", e.what());
                return 1;
            }
        }
        auto load = std::make_unique<Load>();
        int status = runClient(manifest, o, *load);
        if (server) {
            int serverStatus = server->stop();
            if (serverStatus != 0) {
                std::fprintf(stderr, "micro-bench rpc: rpc-server exited with status %d\n",
                             serverStatus);
                if (status == 0) status = 1;
            }
        }
        return status;
    } catch (const Error& e) {
        std::fprintf(stderr, "micro-bench rpc: %s\n", e.describe().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "micro-bench rpc: %s\n", e.what());
    }
    return 1;
}

int rpcServerMain(std::span<char* const> args) {
    std::optional<std::filesystem::path> manifest;
    std::string address = "127.0.0.1:0";
    std::size_t handlerThreads = 0;
    FlagParser flags;
    flags.add("--manifest", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs a file");
        manifest = std::filesystem::path(v);
    });
    flags.add("--address", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs HOST:PORT");
        address = v;
    });
    flags.add("--handler-threads", [&](auto name, auto v) {
        handlerThreads = static_cast<std::size_t>(FlagParser::integer(name, v, 0, 1024));
    });
    if (!flags.parse(args)) {
        std::fputs(kRpcServerUsage, stdout);
        return 0;
    }

    try {
        Runtime runtime = Runtime::load(findManifest(manifest));
        Service service(runtime, ServiceOptions{.name = std::string(kService),
                                                .address = address,
                                                .handlerThreads = handlerThreads});
        service.handleRaw(std::string(kEndpoint),
                          [](ServerCall& call) { call.response.assign(call.body); });
        return service.run([&service] {
            std::printf("%s\n", service.address().c_str());
            std::fflush(stdout);
        });
    } catch (const Error& e) {
        std::fprintf(stderr, "micro-bench rpc-server: %s\n", e.describe().c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "micro-bench rpc-server: %s\n", e.what());
    }
    return 1;
}

}  // namespace micro::bench
