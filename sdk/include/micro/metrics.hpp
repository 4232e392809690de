// micro/metrics.hpp — counters, gauges and histograms with labels, exposed in
// the Prometheus text format (0.0.4) on every service's and the gateway's
// `/metrics`.
//
//     auto& calls = micro::metrics::Registry::global().counter(
//         "shop_orders_total", "Orders taken.", {"region", "result"});
//     calls.with({"eu", "ok"}).add();
//
// A Family is one metric name with a fixed list of label names; with() picks
// (and on first use creates) the series for one list of label values.
//
// Hot path: with() is a lock-free hash probe (no allocation, no lock once the
// series exists); Counter::add and Histogram::observe are wait-free atomic
// adds on one of several per-thread shards, so threads do not fight over one
// cache line. Creating a series takes a mutex and allocates, once. Keep label
// values bounded (endpoint names, codes, topics): every distinct tuple is a
// series kept for the life of the registry.
//
// Ownership: a Registry owns its families, a Family its series; references
// returned by counter()/with() stay valid as long as the registry. The
// global() registry lives until the process exits.
//
// Errors: registering a name again with another type, help-less name, or other
// label names throws micro::Error(INVALID_ARGUMENT) naming the metric; so does
// a name or label name that is not a valid Prometheus identifier, and with()
// given the wrong number of values.
//
// The metrics micro records itself (see docs/gateway.md):
//   micro_server_calls_total{service,endpoint,code}            counter
//   micro_server_call_duration_seconds{service,endpoint}       histogram
//   micro_server_in_flight{service}                            gauge
//   micro_api_requests_total{service,endpoint,code}            counter (gateway)
//   micro_api_request_duration_seconds{service,endpoint}       histogram (gateway)
//   micro_api_in_flight                                        gauge (gateway)
//   micro_broker_deliveries_total{topic,result}                counter, see countDelivery
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micro::metrics {

/// Shards per counter and histogram series: threads spread over them.
inline constexpr std::size_t kShards = 8;

/// This thread's shard, fixed for the thread's life.
std::size_t shardIndex() noexcept;

/// A monotonically increasing count.
class Counter {
 public:
    void add(std::uint64_t n = 1) noexcept {
        cells_[shardIndex()].value.fetch_add(n, std::memory_order_relaxed);
    }
    std::uint64_t value() const noexcept;

 private:
    struct alignas(64) Cell {
        std::atomic<std::uint64_t> value{0};
    };
    std::array<Cell, kShards> cells_{};
};

/// A value that goes up and down (in-flight calls, queue depth).
class Gauge {
 public:
    void add(std::int64_t n) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
    void set(std::int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
    std::int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
    std::atomic<std::int64_t> value_{0};
};

/// Observations counted into fixed buckets (upper bounds, ascending), with
/// their sum and count, as Prometheus histograms are.
class Histogram {
 public:
    /// `bounds` must outlive the histogram (its Family owns them).
    explicit Histogram(const std::vector<double>* bounds);
    void observe(double value) noexcept;

    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  ///< one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    Snapshot snapshot() const;
    const std::vector<double>& bounds() const noexcept { return *bounds_; }

 private:
    struct alignas(64) Shard {
        std::unique_ptr<std::atomic<std::uint64_t>[]> counts;  // per bucket, not cumulative
        std::atomic<double> sum{0};
    };
    const std::vector<double>* bounds_;
    std::array<Shard, kShards> shards_;
};

/// Default latency buckets in seconds: 100 µs to 10 s.
const std::vector<double>& defaultLatencyBuckets();

enum class Type { kCounter, kGauge, kHistogram };

class FamilyBase {
 public:
    FamilyBase(std::string name, std::string help, std::vector<std::string> labels, Type type);
    virtual ~FamilyBase();
    FamilyBase(const FamilyBase&) = delete;
    FamilyBase& operator=(const FamilyBase&) = delete;

    const std::string& name() const noexcept { return name_; }
    const std::string& help() const noexcept { return help_; }
    const std::vector<std::string>& labelNames() const noexcept { return labels_; }
    Type type() const noexcept { return type_; }

    /// Appends this family in the text exposition format.
    void expose(std::string& out) const;

 protected:
    struct Series {
        std::uint64_t hash = 0;
        std::vector<std::string> values;
        void* metric = nullptr;
    };
    struct Table;

    // The series for `values`, creating it with `make` on first use.
    void* find(std::span<const std::string_view> values, void* (*make)(FamilyBase&));
    virtual void exposeSeries(std::string& out, const Series& series) const = 0;

    std::deque<Series> series_;  // stable addresses; appended under mutex_

 private:
    std::string name_, help_;
    std::vector<std::string> labels_;
    Type type_;
    mutable std::mutex mutex_;
    std::atomic<const Table*> table_{nullptr};
    std::vector<std::unique_ptr<Table>> tables_;  // every table ever published
};

template <typename Metric>
class Family final : public FamilyBase {
 public:
    Family(std::string name, std::string help, std::vector<std::string> labels,
           std::vector<double> bounds = {});
    ~Family() override;

    /// The series for these label values (as many as label names).
    Metric& with(std::span<const std::string_view> values) {
        return *static_cast<Metric*>(find(values, &Family::make));
    }
    Metric& with(std::initializer_list<std::string_view> values) {
        return with(std::span<const std::string_view>(values.begin(), values.size()));
    }

 private:
    static void* make(FamilyBase& self);
    void exposeSeries(std::string& out, const Series& series) const override;

    std::vector<double> bounds_;
    std::deque<Metric> metrics_;
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

/// A set of families, exposed together.
class Registry {
 public:
    Registry();
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// The process-wide registry every service and the gateway expose.
    static Registry& global();

    /// Get or create a family (the same name again returns the same family).
    Family<Counter>& counter(std::string_view name, std::string_view help,
                             std::vector<std::string> labels);
    Family<Gauge>& gauge(std::string_view name, std::string_view help,
                         std::vector<std::string> labels);
    Family<Histogram>& histogram(std::string_view name, std::string_view help,
                                 std::vector<std::string> labels,
                                 std::vector<double> bounds = defaultLatencyBuckets());

    /// Every family in the text exposition format 0.0.4
    /// (Content-Type: text/plain; version=0.0.4; charset=utf-8).
    std::string expose() const;

 private:
    FamilyBase* lookup(std::string_view name, Type type, const std::vector<std::string>& labels);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<FamilyBase>> families_;
};

/// The content type of expose()'s text.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

/// Count one broker delivery to a subscriber of `topic`:
/// micro_broker_deliveries_total{topic, result} in the global registry.
/// `result` is a short fixed word: "ok" (handled), "dead_letter" (moved to
/// the dead-letter topic after the retries), "error" (nacked). Wait-free
/// after the first delivery of each (topic, result); safe from any thread.
void countDelivery(std::string_view topic, std::string_view result) noexcept;

/// The gRPC name of a code as a static string ("NOT_FOUND"), for labels
/// (micro::canonicalCodeName); "UNKNOWN" outside the canonical set.
std::string_view codeLabel(int code) noexcept;

}  // namespace micro::metrics
