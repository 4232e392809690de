// greeter-server — the greeter service: Greeter.Hello (unary, idempotent)
// and Greeter.Chat (bidi stream: one greeting per name received).
//
//   greeter-server [--manifest FILE] [--address HOST:PORT] [--ttl-ms N]
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <fmt/core.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "greeter.capnp.h"

using greeter::HelloRequest;
using greeter::HelloResponse;

int main(int argc, char** argv) try {
    std::optional<std::filesystem::path> manifest;
    micro::ServiceOptions options{.name = "greeter", .version = "1.0.0"};
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--manifest" && i + 1 < argc) {
            manifest = argv[++i];
        } else if (arg == "--address" && i + 1 < argc) {
            options.address = argv[++i];
        } else if (arg == "--ttl-ms" && i + 1 < argc) {
            options.registerTtl = std::chrono::milliseconds(std::atoll(argv[++i]));
        } else {
            fmt::print(stderr,
                       "usage: greeter-server [--manifest FILE] [--address HOST:PORT] "
                       "[--ttl-ms N]\n");
            return 2;
        }
    }
    micro::Runtime rt = micro::Runtime::load(micro::findManifest(manifest));
    micro::Service service(rt, options);

    service.handle<HelloRequest, HelloResponse>(
        "Greeter.Hello",
        [&service](micro::ServerCall& call, HelloRequest::Reader in, HelloResponse::Builder out) {
            std::string name = in.getName();
            if (name.empty()) throw micro::Error(micro::Code::kInvalidArgument, "field 'name': empty");
            out.setGreeting("Hello " + name);
            call.responseMetadata.emplace_back("greeter-node", service.nodeId());
        },
        {.idempotent = true});

    service.handleStream<HelloRequest, HelloResponse>(
        "Greeter.Chat", [](micro::ServerCall& call, micro::Stream& stream) {
            auto type = micro::codec::parseContentType(call.contentType);
            if (type == micro::codec::ContentType::kRaw) type = micro::codec::ContentType::kCapnp;
            std::string message;
            while (stream.recv(message)) {
                capnp::MallocMessageBuilder in;
                auto request = micro::codec::decode<HelloRequest>(type, message, in);
                capnp::MallocMessageBuilder out;
                auto reply = out.initRoot<HelloResponse>();
                reply.setGreeting("Hello " + std::string(request.getName().cStr()));
                stream.send(micro::codec::encode<HelloResponse>(type, reply.asReader()));
            }
        });

    return service.run([&service] {
        // One line for scripts and tests that wait for the server to be ready.
        fmt::print("greeter-server {} listening on {}\n", service.nodeId(), service.address());
        std::fflush(stdout);
    });
} catch (const micro::Error& e) {
    fmt::print(stderr, "greeter-server: {}\n", e.what());
    return 1;
}
