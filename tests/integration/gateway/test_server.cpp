// gateway-test-server — the service the gateway tests need beside the
// greeter: one endpoint that shows the metadata it received, one that fails
// with the code it is asked for, a slow one, a streaming one, and two
// endpoints sharing a method name.
//
//   gateway-test-server --manifest FILE
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <fmt/core.h>

#include <charconv>
#include <thread>

namespace {

// The first unsigned number in `text` (bodies like {"code": 7}), or 0.
int firstNumber(std::string_view text) {
    auto start = text.find_first_of("0123456789");
    if (start == std::string_view::npos) return 0;
    int n = 0;
    std::from_chars(text.data() + start, text.data() + text.size(), n);
    return n;
}

std::string quoted(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

int main(int argc, char** argv) try {
    std::optional<std::filesystem::path> manifest;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::string_view(argv[i]) == "--manifest") manifest = argv[i + 1];
    }
    micro::Runtime rt = micro::Runtime::load(micro::findManifest(manifest));
    micro::Service service(rt, {.name = "gwtest"});
    service.handleRaw("Test.Whoami", [](micro::ServerCall& call) {
        call.response = fmt::format(R"({{"authorization":{},"tenant":{},"contentType":{}}})",
                                    quoted(call.header("authorization")),
                                    quoted(call.header("tenant")), quoted(call.contentType));
        call.responseMetadata.emplace_back("served-by", "gwtest");
    });
    service.handleRaw("Test.Fail", [](micro::ServerCall& call) {
        auto code = static_cast<micro::Code>(firstNumber(call.body));
        throw micro::Error(code, fmt::format("failed on purpose with {}", micro::codeName(code)));
    });
    service.handleRaw("Test.Slow", [](micro::ServerCall& call) {
        std::this_thread::sleep_for(std::chrono::milliseconds(firstNumber(call.body)));
        call.response = R"({"slept":true})";
    });
    service.handleRaw("Other.Fail", [](micro::ServerCall& call) { call.response = "{}"; });
    service.handleStream("Test.Stream", [](micro::ServerCall&, micro::Stream& stream) {
        std::string m;
        while (stream.recv(m)) stream.send(m);
    });
    return service.run([&] {
        fmt::print("gateway-test-server {} listening on {}\n", service.nodeId(), service.address());
        std::fflush(stdout);
    });
} catch (const micro::Error& e) {
    fmt::print(stderr, "gateway-test-server: {}\n", e.what());
    return 1;
}
