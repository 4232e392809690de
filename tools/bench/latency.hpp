// tools/bench/latency.hpp — latency recording and the result line shared by
// the micro-bench subcommands.
//
// A LatencyHistogram counts latencies in whole microseconds (truncated, as
// the baseline clients do): exactly below 2048 µs, and with 1024 linear
// sub-buckets per power of two above (relative error under 0.1%), up to
// about 12 days. record() is thread-safe and lock-free (relaxed atomic
// increments), so completions on any thread record into one histogram.
//
// Percentiles use the baselines' rank: sort the n samples and take the one
// at index min(n - 1, floor(p * n)).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace micro::bench {

using Clock = std::chrono::steady_clock;

/// The measured window [begin, end): only calls completing inside it count.
struct Window {
    Clock::time_point begin;
    Clock::time_point end;

    /// A window that opens `warmup` seconds from now and lasts `duration`.
    static Window fromNow(double warmupSeconds, double durationSeconds);
    bool contains(Clock::time_point t) const noexcept { return t >= begin && t < end; }
};

class LatencyHistogram {
 public:
    LatencyHistogram();
    LatencyHistogram(const LatencyHistogram&) = delete;
    LatencyHistogram& operator=(const LatencyHistogram&) = delete;

    /// [thread-safe] Count one latency.
    void record(Clock::duration latency) noexcept {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
        counts_[bucketOf(us < 0 ? 0 : static_cast<std::uint64_t>(us))].fetch_add(
            1, std::memory_order_relaxed);
    }

    /// Samples recorded so far.
    std::uint64_t count() const noexcept;
    /// The p-quantile (0 <= p <= 1) in microseconds; 0 when empty. Exact
    /// below 2048 µs, else the lower bound of its bucket.
    std::uint64_t percentileMicros(double p) const noexcept;

    static std::size_t bucketOf(std::uint64_t us) noexcept;
    static std::uint64_t lowerBoundOf(std::size_t bucket) noexcept;

    static constexpr unsigned kSubBits = 10;                 // 1024 sub-buckets
    static constexpr std::uint64_t kExact = 2u << kSubBits;  // exact below 2048 µs
    static constexpr unsigned kMaxBits = 40;                 // values clamp below 2^40 µs
    static constexpr std::size_t kBuckets =
        kExact + (kMaxBits - kSubBits - 1) * (std::size_t{1} << kSubBits);

 private:
    std::array<std::atomic<std::uint64_t>, kBuckets> counts_;
};

/// The one result line every case prints, in the baselines' shape:
/// "<name> qps=... p50_us=... p99_us=... conc=C payload=P".
std::string resultLine(const char* name, const LatencyHistogram& latencies, double durationSeconds,
                       int concurrency, std::size_t payload);

}  // namespace micro::bench
