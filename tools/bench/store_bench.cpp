#include "store_bench.hpp"

#include <micro/error.hpp>
#include <micro/runtime.hpp>
#include <micro/store.hpp>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "failure.hpp"
#include "flags.hpp"
#include "latency.hpp"

namespace micro::bench {

const char* const kStoreUsage =
    "usage: micro-bench store --manifest FILE [--op read|write] [--value-size V]\n"
    "                         [--concurrency C] [--duration D] [--warmup W] [--keys K]\n"
    "\n"
    "Closed-loop operations on the store the manifest selects: C threads, each on its\n"
    "own 16-byte keys in the table \"bench\" of the default database. read: Store::scan\n"
    "of one exact key (the keys are written first); write: Store::writeView of V bytes.\n"
    "Prints one line: store op=OP ops=... p50_us=... p99_us=... conc=C value=V\n"
    "(ops: operations per second over the measured window)\n"
    "\n"
    "  --manifest FILE  the manifest whose [store] is measured (required)\n"
    "  --op OP          read (default) or write\n"
    "  --value-size V   value bytes (default 100)\n"
    "  --concurrency C  threads, one operation in flight each (default 1)\n"
    "  --duration D     measured seconds (default 5)\n"
    "  --warmup W       unmeasured seconds before (default 1)\n"
    "  --keys K         keys per thread, used in turn (default 1000)\n";

namespace {

constexpr std::string_view kTable = "bench";
constexpr std::int64_t kMaxValue = std::int64_t{64} << 20;

struct StoreOptions {
    std::string manifest;
    bool write = false;
    std::size_t valueSize = 100;
    int concurrency = 1;
    double duration = 5;
    double warmup = 1;
    std::size_t keys = 1000;
};

/// Key `index` of thread `thread`: 16 bytes, "t" + 4 + "k" + 10 hex digits.
std::string keyOf(int thread, std::size_t index) {
    char key[32];
    std::snprintf(key, sizeof key, "t%04xk%010" PRIx64, static_cast<unsigned>(thread) & 0xffffu,
                  static_cast<std::uint64_t>(index & 0xffffffffffULL));
    return std::string(key, 16);
}

// One thread's loop. Latencies go to a private array of histogram buckets
// (no shared cache lines on the hot path), merged after the run.
void runThread(Store& store, const StoreOptions& o, int thread, const Window& window,
               const std::atomic<bool>& go, std::vector<std::uint64_t>& buckets, Failure& failure) {
    std::vector<std::string> keys;
    keys.reserve(o.keys);
    for (std::size_t i = 0; i < o.keys; ++i) keys.push_back(keyOf(thread, i));
    const std::string value(o.valueSize, 'v');
    const ReadOptions readOptions{.table = kTable};
    const WriteOptions writeOptions{.table = kTable};
    std::size_t seen = 0;
    const std::function<void(const RecordView&)> visit = [&seen](const RecordView& r) {
        seen += r.value.size() + 1;
    };
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();

    std::size_t next = 0;
    try {
        for (;;) {
            const std::string& key = keys[next];
            if (++next == keys.size()) next = 0;
            const Clock::time_point start = Clock::now();
            if (o.write) {
                store.writeView(RecordView{.key = key, .value = value}, writeOptions);
            } else {
                seen = 0;
                store.scan(key, readOptions, visit);
            }
            const Clock::time_point now = Clock::now();
            if (!o.write && seen != o.valueSize + 1) {
                failure.add("key " + key + ": read " + std::to_string(seen) +
                            " bytes (+1 per record), expected " + std::to_string(o.valueSize + 1));
                return;
            }
            if (window.contains(now)) {
                auto us =
                    std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
                ++buckets[LatencyHistogram::bucketOf(us < 0 ? 0 : static_cast<std::uint64_t>(us))];
            }
            if (now >= window.end) return;
        }
    } catch (const std::exception& e) {
        failure.add(describe(e));
    }
}

int run(const StoreOptions& o) {
    Runtime runtime = Runtime::load(std::filesystem::path(o.manifest));
    Store& store = runtime.store();

    // Read: every thread's keys exist before the clock starts.
    if (!o.write) {
        const std::string value(o.valueSize, 'v');
        for (int t = 0; t < o.concurrency; ++t) {
            for (std::size_t i = 0; i < o.keys; ++i) {
                const std::string key = keyOf(t, i);
                store.writeView(RecordView{.key = key, .value = value},
                                WriteOptions{.table = kTable});
            }
        }
    }

    const auto threads = static_cast<std::size_t>(o.concurrency);
    std::vector<std::vector<std::uint64_t>> buckets(
        threads, std::vector<std::uint64_t>(LatencyHistogram::kBuckets, 0));
    Failure failure;
    std::atomic<bool> go{false};
    Window window{};
    {
        std::vector<std::jthread> workers;
        workers.reserve(threads);
        for (std::size_t t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                runThread(store, o, static_cast<int>(t), window, go, buckets[t], failure);
            });
        }
        window = Window::fromNow(o.warmup, o.duration);
        go.store(true, std::memory_order_release);
    }  // joined

    auto latencies = std::make_unique<LatencyHistogram>();
    for (const auto& counts : buckets) {
        for (std::size_t b = 0; b < counts.size(); ++b) {
            const auto latency = std::chrono::microseconds(LatencyHistogram::lowerBoundOf(b));
            for (std::uint64_t n = counts[b]; n > 0; --n) latencies->record(latency);
        }
    }
    const double ops = static_cast<double>(latencies->count()) / o.duration;
    std::printf("store op=%s ops=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " conc=%d value=%zu\n",
                o.write ? "write" : "read", ops, latencies->percentileMicros(0.50),
                latencies->percentileMicros(0.99), o.concurrency, o.valueSize);
    std::fflush(stdout);
    if (failure.count > 0) {
        std::fprintf(stderr, "micro-bench store: %llu failed operation(s); the first: %s\n",
                     static_cast<unsigned long long>(failure.count), failure.first.c_str());
        return 1;
    }
    return 0;
}

}  // namespace

int storeMain(std::span<char* const> args) {
    StoreOptions o;
    FlagParser flags;
    flags.add("--manifest", [&](auto name, auto v) {
        if (v.empty()) throw UsageError("flag '" + std::string(name) + "' needs a file");
        o.manifest = v;
    });
    flags.add("--op", [&](auto name, auto v) {
        if (v == "read") {
            o.write = false;
        } else if (v == "write") {
            o.write = true;
        } else {
            throw UsageError("flag '" + std::string(name) + "' must be read or write, not '" +
                             std::string(v) + "'");
        }
    });
    flags.add("--value-size", [&](auto name, auto v) {
        o.valueSize = static_cast<std::size_t>(FlagParser::integer(name, v, 0, kMaxValue));
    });
    flags.add("--concurrency", [&](auto name, auto v) {
        o.concurrency = static_cast<int>(FlagParser::integer(name, v, 1, 4096));
    });
    flags.add("--duration",
              [&](auto name, auto v) { o.duration = FlagParser::seconds(name, v, true); });
    flags.add("--warmup",
              [&](auto name, auto v) { o.warmup = FlagParser::seconds(name, v, false); });
    flags.add("--keys", [&](auto name, auto v) {
        o.keys = static_cast<std::size_t>(FlagParser::integer(name, v, 1, 10000000));
    });
    if (!flags.parse(args)) {
        std::fputs(kStoreUsage, stdout);
        return 0;
    }
    if (o.manifest.empty()) throw UsageError("flag '--manifest' is required");
    if (!std::filesystem::exists(o.manifest)) {
        throw UsageError("flag '--manifest': " + o.manifest + " does not exist");
    }

    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "micro-bench store: %s\n", describe(e).c_str());
    }
    return 1;
}

}  // namespace micro::bench
