// direct-subscriber — the second process of the direct broker tests: it loads
// a manifest into its own micro::Runtime, subscribes, and prints what arrives.
//
//   direct-subscriber MANIFEST SPEC...
//       SPEC is TOPIC (a plain subscription) or TOPIC@GROUP (a queue group
//       member). Prints "ready" once every subscription is in place, then one
//       line per message: "<spec index> <body as hex> <x-test header as hex>".
//       Runs until SIGTERM or SIGINT (unsubscribes, exits 0) or SIGKILL.
//
// Exit codes: 0 stopped by a signal, 1 a micro::Error (printed on stderr),
// 2 bad usage.
#include <micro/broker.hpp>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <pthread.h>

namespace {

std::string hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    return out.empty() ? "-" : out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fputs("usage: direct-subscriber MANIFEST TOPIC[@GROUP]...\n", stderr);
        return 2;
    }
    // Block the stop signals before any runtime thread exists, so every
    // thread inherits the mask and sigwait below receives them.
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    try {
        micro::Runtime runtime = micro::Runtime::load(argv[1]);
        std::mutex out;
        std::vector<micro::Subscription> subs;
        for (int i = 2; i < argc; ++i) {
            std::string spec = argv[i];
            micro::SubscribeOptions options;
            auto at = spec.find('@');
            std::string topic = spec.substr(0, at);
            if (at != std::string::npos) options.group = spec.substr(at + 1);
            int index = i - 2;
            subs.push_back(runtime.broker().subscribe(
                topic,
                [&out, index](const micro::MessageView& m) {
                    std::lock_guard lock(out);
                    std::printf("%d %s %s\n", index, hex(m.body).c_str(),
                                hex(m.header("x-test")).c_str());
                    std::fflush(stdout);
                },
                options));
        }
        {
            std::lock_guard lock(out);
            std::puts("ready");
            std::fflush(stdout);
        }
        int sig = 0;
        sigwait(&stop, &sig);
        subs.clear();
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "direct-subscriber: %s\n", e.describe().c_str());
        return 1;
    }
    return 0;
}
