// greeter-server — the greeter service: Greeter.Hello (unary, idempotent,
// non-blocking: it runs on the transport's thread), Greeter.Chat (bidi
// stream: one greeting per name received), and a subscriber of the event
// topic "greeter.welcome" (queue group "greeter": each event reaches one
// greeter node), which prints "welcome NAME".
//
//   greeter-server [--manifest FILE] [--address HOST:PORT] [--ttl-ms N]
#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <string_view>

#include "greeter.capnp.h"

using greeter::HelloRequest;
using greeter::HelloResponse;
using greeter::Welcome;

namespace {

// "Hello NAME", written straight into the response: no temporary strings.
void greet(std::string_view name, HelloResponse::Builder out) {
    constexpr std::string_view kHello = "Hello ";
    capnp::Text::Builder greeting = out.initGreeting(kHello.size() + name.size());
    std::copy(name.begin(), name.end(), std::copy(kHello.begin(), kHello.end(), greeting.begin()));
}

}  // namespace

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

    const std::string& node = service.nodeId();
    service.handle<HelloRequest, HelloResponse>(
        "Greeter.Hello",
        [&node](micro::ServerCall& call, HelloRequest::Reader in, HelloResponse::Builder out) {
            std::string_view name = in.getName().cStr();  // a view into the request
            if (name.empty())
                throw micro::Error(micro::Code::kInvalidArgument, "field 'name': empty");
            greet(name, out);
            call.responseMetadata.emplace_back("greeter-node", node);
        },
        // It only builds a string: no reason to hand it to the handler pool.
        {.idempotent = true, .nonBlocking = true});

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
                greet(request.getName().cStr(), reply);
                stream.send(micro::codec::encode<HelloResponse>(type, reply.asReader()));
            }
        });

    // Events need a [broker] slot; a manifest without one serves calls only.
    if (rt.has("broker")) {
        service.subscribe<Welcome>("greeter.welcome",
                                   [](const micro::MessageView& event, Welcome::Reader welcome) {
                                       fmt::print("welcome {} (event {})\n",
                                                  welcome.getName().cStr(), event.id());
                                       std::fflush(stdout);
                                   },
                                   {.group = "greeter"});
    }

    return service.run([&service] {
        // One line for scripts and tests that wait for the server to be ready.
        fmt::print("greeter-server {} listening on {}\n", service.nodeId(), service.address());
        std::fflush(stdout);
    });
} catch (const micro::Error& e) {
    fmt::print(stderr, "greeter-server: {}\n", e.what());
    return 1;
}
