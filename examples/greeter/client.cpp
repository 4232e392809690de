// greeter-client — calls greeter's Greeter.Hello through discovery, load
// balancing and retries, and prints each greeting with the node that sent it.
//
//   greeter-client [--manifest FILE] [--name NAME] [--count N]
#include <micro/client.hpp>
#include <micro/codec.hpp>
#include <micro/runtime.hpp>

#include <capnp/message.h>
#include <fmt/core.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "greeter.capnp.h"

int main(int argc, char** argv) try {
    std::optional<std::filesystem::path> manifest;
    std::string name = "world";
    int count = 1;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--manifest" && i + 1 < argc) {
            manifest = argv[++i];
        } else if (arg == "--name" && i + 1 < argc) {
            name = argv[++i];
        } else if (arg == "--count" && i + 1 < argc) {
            count = std::atoi(argv[++i]);
        } else {
            fmt::print(stderr, "usage: greeter-client [--manifest FILE] [--name NAME] [--count N]\n");
            return 2;
        }
    }
    micro::Runtime rt = micro::Runtime::load(micro::findManifest(manifest));
    micro::Client client(rt);

    capnp::MallocMessageBuilder request;
    request.initRoot<greeter::HelloRequest>().setName(name);
    std::string body = micro::codec::encode<greeter::HelloRequest>(
        micro::codec::ContentType::kCapnp, request.getRoot<greeter::HelloRequest>().asReader());

    for (int i = 0; i < count; ++i) {
        micro::Response response = client.call("greeter", "Greeter.Hello", body);
        capnp::MallocMessageBuilder reply;
        auto greeting = micro::codec::decode<greeter::HelloResponse>(
            micro::codec::ContentType::kCapnp, response.body, reply);
        fmt::print("{} (from {})\n", greeting.getGreeting().cStr(),
                   micro::metadataValue(response.metadata, "greeter-node"));
    }
    return 0;
} catch (const micro::Error& e) {
    fmt::print(stderr, "greeter-client: {}\n", e.describe());
    return 1;
}
