#include "latency.hpp"

#include <algorithm>
#include <bit>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace micro::bench {

Window Window::fromNow(double warmupSeconds, double durationSeconds) {
    auto toDuration = [](double s) {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    };
    Clock::time_point now = Clock::now();
    return {now + toDuration(warmupSeconds), now + toDuration(warmupSeconds + durationSeconds)};
}

LatencyHistogram::LatencyHistogram() {
    for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
}

std::size_t LatencyHistogram::bucketOf(std::uint64_t us) noexcept {
    if (us < kExact) return static_cast<std::size_t>(us);
    constexpr std::uint64_t kMax = (std::uint64_t{1} << kMaxBits) - 1;
    us = std::min(us, kMax);
    // msb >= kSubBits + 1; keep the kSubBits bits below the leading one.
    const unsigned msb = static_cast<unsigned>(std::bit_width(us)) - 1;
    const unsigned shift = msb - kSubBits;
    const std::uint64_t sub = (us >> shift) - (std::uint64_t{1} << kSubBits);
    return static_cast<std::size_t>(kExact + (msb - kSubBits - 1) * (std::uint64_t{1} << kSubBits) +
                                    sub);
}

std::uint64_t LatencyHistogram::lowerBoundOf(std::size_t bucket) noexcept {
    if (bucket < kExact) return bucket;
    const std::uint64_t above = bucket - kExact;
    const unsigned msb = static_cast<unsigned>(above >> kSubBits) + kSubBits + 1;
    const std::uint64_t sub = above & ((std::uint64_t{1} << kSubBits) - 1);
    return ((std::uint64_t{1} << kSubBits) + sub) << (msb - kSubBits);
}

std::uint64_t LatencyHistogram::count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
    return n;
}

std::uint64_t LatencyHistogram::percentileMicros(double p) const noexcept {
    const std::uint64_t n = count();
    if (n == 0) return 0;
    // Index of the sample wanted in sorted order, as the baselines pick it.
    const auto rank = std::min<std::uint64_t>(
        n - 1,
        static_cast<std::uint64_t>(std::floor(std::clamp(p, 0.0, 1.0) * static_cast<double>(n))));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
        seen += counts_[b].load(std::memory_order_relaxed);
        if (seen > rank) return lowerBoundOf(b);
    }
    return lowerBoundOf(kBuckets - 1);
}

std::string resultLine(const char* name, const LatencyHistogram& latencies, double durationSeconds,
                       int concurrency, std::size_t payload) {
    const double qps = static_cast<double>(latencies.count()) / durationSeconds;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s qps=%.0f p50_us=%" PRIu64 " p99_us=%" PRIu64 " conc=%d payload=%zu", name,
                  qps, latencies.percentileMicros(0.50), latencies.percentileMicros(0.99),
                  concurrency, payload);
    return line;
}

}  // namespace micro::bench
