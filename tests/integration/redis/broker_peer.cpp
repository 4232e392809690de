// redis-broker-peer — a second process for the Redis broker tests: a member
// of a consumer group that receives and never acks, to be killed.
//
//   redis-broker-peer MANIFEST TOPIC GROUP
//
// Loads MANIFEST into its own micro::Runtime, subscribes to TOPIC in GROUP
// with manual ack, prints "ready", then "got BODY" for every delivery
// (flushed at once), never acking, until it is killed.
// Exit codes: 1 a micro::Error (printed on stderr), 2 bad usage.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fputs("usage: redis-broker-peer MANIFEST TOPIC GROUP\n", stderr);
        return 2;
    }
    try {
        micro::Runtime runtime = micro::Runtime::load(argv[1]);
        micro::SubscribeOptions options;
        options.group = argv[3];
        options.manualAck = true;
        micro::Subscription sub = runtime.broker().subscribe(
            argv[2],
            [](const micro::MessageView& m) {
                const std::string line = "got " + std::string(m.body) + "\n";
                std::fwrite(line.data(), 1, line.size(), stdout);
                std::fflush(stdout);
            },
            options);
        std::fputs("ready\n", stdout);
        std::fflush(stdout);
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "redis-broker-peer: %s\n", e.describe().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redis-broker-peer: %s\n", e.what());
        return 2;
    }
}
