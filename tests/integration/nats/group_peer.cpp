// nats-group-peer — the second process of the JetStream crash test: a group
// member that takes messages and never acks them, until it is SIGKILLed.
//
//   nats-group-peer MANIFEST TOPIC GROUP
//
// Prints "ready" once subscribed, then "received BODY" for the first message
// it gets, and blocks inside that handler for good (so neither that message
// nor the ones queued behind it are ever acked).
#include <micro/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fputs("usage: nats-group-peer MANIFEST TOPIC GROUP\n", stderr);
        return 2;
    }
    try {
        micro::Runtime rt = micro::Runtime::load(argv[1]);
        micro::SubscribeOptions options;
        options.group = argv[3];
        micro::Subscription sub = rt.broker().subscribe(
            argv[2],
            [](const micro::MessageView& m) {
                std::printf("received %.*s\n", static_cast<int>(m.body.size()), m.body.data());
                std::fflush(stdout);
                for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
            },
            options);
        std::puts("ready");
        std::fflush(stdout);
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nats-group-peer: %s\n", e.what());
        return 1;
    }
}
