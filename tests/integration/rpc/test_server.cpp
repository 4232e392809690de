// rpc-test-server — a service with the endpoints RPC tests need and the
// greeter example does not have: one that throws, one that is slow, one that
// reports the deadline it saw, a streaming echo.
//
//   rpc-test-server --manifest FILE [--name NAME]
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <fmt/core.h>

#include <charconv>
#include <stdexcept>
#include <string_view>
#include <thread>

int main(int argc, char** argv) try {
    std::optional<std::filesystem::path> manifest;
    micro::ServiceOptions options{.name = "rpctest"};
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view arg = argv[i];
        if (arg == "--manifest") manifest = argv[i + 1];
        if (arg == "--name") options.name = argv[i + 1];
    }
    micro::Runtime rt = micro::Runtime::load(micro::findManifest(manifest));
    micro::Service service(rt, options);
    // Middleware sees every call: it can reject, and it can add metadata.
    service.use([](micro::ServerCall& call, const micro::ServerHandler& next) {
        if (call.header("x-reject") == "yes") {
            throw micro::Error(micro::Code::kPermissionDenied, "rejected by middleware");
        }
        next(call);
        call.responseMetadata.emplace_back("x-middleware", "seen " + std::string(call.endpoint));
    });
    service.handleRaw("Test.Echo", [](micro::ServerCall& call) { call.response = call.body; },
                      {.idempotent = true});
    service.handleRaw("Test.Throw", [](micro::ServerCall&) {
        throw std::runtime_error("handler failed on purpose");
    });
    service.handleRaw("Test.Slow", [](micro::ServerCall& call) {
        int ms = 0;
        std::from_chars(call.body.data(), call.body.data() + call.body.size(), ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        call.response = "slept";
    });
    service.handleRaw("Test.Deadline", [](micro::ServerCall& call) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            call.deadline - std::chrono::steady_clock::now());
        call.response = std::to_string(left.count());
    });
    service.handleStream("Test.StreamEcho", [](micro::ServerCall&, micro::Stream& stream) {
        std::string m;
        while (stream.recv(m)) stream.send(m);
    });
    return service.run([&] {
        fmt::print("rpc-test-server {} listening on {}\n", service.nodeId(), service.address());
        std::fflush(stdout);
    });
} catch (const micro::Error& e) {
    fmt::print(stderr, "rpc-test-server: {}\n", e.what());
    return 1;
}
