#include "pubsub_bench.hpp"

#include <micro/broker.hpp>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <atomic>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <unistd.h>

#include "failure.hpp"
#include "flags.hpp"
#include "latency.hpp"

namespace micro::bench {

const char* const kPubsubUsage =
    "usage: micro-bench pubsub --manifest FILE [--payload P] [--publishers N]\n"
    "                          [--subscribers S] [--group G] [--duration D] [--warmup W]\n"
    "                          [--topic T]\n"
    "\n"
    "N threads publish P-byte messages to one topic, each waiting for its publish to\n"
    "complete; S subscriptions (in queue group G when given) count the deliveries.\n"
    "Latency: publish start to handler entry. Prints one line:\n"
    "pubsub published=... delivered=... p50_us=... p99_us=... pub=N payload=P\n"
    "(published and delivered: messages per second over the measured window)\n"
    "\n"
    "  --manifest FILE   the manifest whose [broker] is measured (required)\n"
    "  --payload P       body bytes (default 64)\n"
    "  --publishers N    publishing threads (default 1)\n"
    "  --subscribers S   subscriptions (default 1)\n"
    "  --group G         put the subscriptions in queue group G (default: none)\n"
    "  --duration D      measured seconds (default 5)\n"
    "  --warmup W        unmeasured seconds before (default 1)\n"
    "  --topic T         topic (default bench.<pid>)\n";

namespace {

constexpr std::string_view kSentHeader = "Bench-Sent-Ns";
constexpr std::int64_t kMaxPayload = std::int64_t{64} << 20;

struct PubsubOptions {
    std::string manifest;
    std::size_t payload = 64;
    int publishers = 1;
    int subscribers = 1;
    std::string group;
    double duration = 5;
    double warmup = 1;
    std::string topic;
};

void publishLoop(Broker& broker, const PubsubOptions& o, const Window& window,
                 const std::atomic<bool>& go, std::atomic<std::uint64_t>& published,
                 Failure& failure) {
    const std::string body(o.payload, 'm');
    char sent[24];
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    try {
        for (;;) {
            const Clock::time_point start = Clock::now();
            if (start >= window.end) return;
            auto [end, ec] =
                std::to_chars(sent, sent + sizeof sent, start.time_since_epoch().count());
            (void)ec;
            const Header headers[] = {{kSentHeader, std::string_view(sent, end - sent)}};
            broker.publish(o.topic, body, headers);
            if (window.contains(Clock::now())) published.fetch_add(1, std::memory_order_relaxed);
        }
    } catch (const std::exception& e) {
        failure.add(describe(e));
    }
}

int run(PubsubOptions o) {
    Runtime runtime = Runtime::load(std::filesystem::path(o.manifest));
    Broker& broker = runtime.broker();
    if (o.topic.empty()) o.topic = "bench." + std::to_string(::getpid());

    auto latencies = std::make_unique<LatencyHistogram>();
    std::atomic<std::uint64_t> delivered{0};
    std::atomic<std::uint64_t> published{0};
    Window window = Window::fromNow(3600, 1);  // closed until the publishers start
    std::atomic<const Window*> measured{&window};
    Failure failure;

    std::vector<Subscription> subscriptions;
    for (int s = 0; s < o.subscribers; ++s) {
        subscriptions.push_back(broker.subscribe(
            o.topic,
            [&](const MessageView& m) {
                const Clock::time_point now = Clock::now();
                const std::string_view sent = m.header(kSentHeader);
                Clock::rep ns = 0;
                std::from_chars(sent.data(), sent.data() + sent.size(), ns);
                const Window& w = *measured.load(std::memory_order_acquire);
                if (!w.contains(now)) return;
                delivered.fetch_add(1, std::memory_order_relaxed);
                latencies->record(now - Clock::time_point(Clock::duration(ns)));
            },
            SubscribeOptions{.group = o.group}));
    }

    std::atomic<bool> go{false};
    {
        std::vector<std::jthread> workers;
        workers.reserve(static_cast<std::size_t>(o.publishers));
        for (int p = 0; p < o.publishers; ++p) {
            workers.emplace_back([&] { publishLoop(broker, o, window, go, published, failure); });
        }
        window = Window::fromNow(o.warmup, o.duration);
        go.store(true, std::memory_order_release);
    }  // joined: every publish of the window has completed
    // Deliveries of the window's last publishes may still be in flight.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    subscriptions.clear();

    std::printf("pubsub published=%.0f delivered=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64
                " pub=%d payload=%zu\n",
                static_cast<double>(published.load()) / o.duration,
                static_cast<double>(delivered.load()) / o.duration,
                latencies->percentileMicros(0.50), latencies->percentileMicros(0.99), o.publishers,
                o.payload);
    std::fflush(stdout);
    if (failure.count > 0) {
        std::fprintf(stderr, "micro-bench pubsub: %llu failed publish(es); the first: %s\n",
                     static_cast<unsigned long long>(failure.count), failure.first.c_str());
        return 1;
    }
    if (delivered.load() == 0) {
        std::fputs("micro-bench pubsub: nothing was delivered in the measured window\n", stderr);
        return 1;
    }
    return 0;
}

}  // namespace

int pubsubMain(std::span<char* const> args) {
    PubsubOptions o;
    FlagParser flags;
    flags.add("--manifest", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs a file");
        o.manifest = v;
    });
    flags.add("--payload", [&](auto name, auto v) {
        o.payload = static_cast<std::size_t>(FlagParser::integer(name, v, 0, kMaxPayload));
    });
    flags.add("--publishers", [&](auto name, auto v) {
        o.publishers = static_cast<int>(FlagParser::integer(name, v, 1, 4096));
    });
    flags.add("--subscribers", [&](auto name, auto v) {
        o.subscribers = static_cast<int>(FlagParser::integer(name, v, 1, 1024));
    });
    flags.add("--group", [&](auto, auto v) { o.group = v; });
    flags.add("--topic", [&](auto, auto v) { o.topic = v; });
    flags.add("--duration",
              [&](auto name, auto v) { o.duration = FlagParser::seconds(name, v, true); });
    flags.add("--warmup",
              [&](auto name, auto v) { o.warmup = FlagParser::seconds(name, v, false); });
    if (!flags.parse(args)) {
        std::fputs(kPubsubUsage, stdout);
        return 0;
    }
    if (o.manifest.empty()) throw UsageError("flag '--manifest' is required");
    if (!std::filesystem::exists(o.manifest)) {
        throw UsageError("flag '--manifest': " + o.manifest + " does not exist");
    }
    try {
        return run(std::move(o));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "micro-bench pubsub: %s\n", describe(e).c_str());
    }
    return 1;
}

}  // namespace micro::bench
