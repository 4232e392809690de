// Metric families, lock-free series lookup and the text exposition format
// (see micro/metrics.hpp).
#include <micro/error.hpp>
#include <micro/metrics.hpp>

#include <fmt/core.h>

#include <cmath>
#include <functional>
#include <thread>

namespace micro::metrics {

namespace {

std::uint64_t hashValues(std::span<const std::string_view> values) noexcept {
    std::uint64_t h = 1469598103934665603ULL;
    for (std::string_view v : values) {
        h ^= std::hash<std::string_view>{}(v) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    }
    return h;
}

bool sameValues(const std::vector<std::string>& a, std::span<const std::string_view> b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

bool validName(std::string_view name, bool allowColon) noexcept {
    if (name.empty()) return false;
    for (std::size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (allowColon && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok) return false;
    }
    return true;
}

void appendEscaped(std::string& out, std::string_view v, bool quote) {
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (quote && c == '"') {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

void appendNumber(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
    } else if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
    } else {
        out += fmt::format("{}", v);
    }
}

// `{a="x",b="y"` without the closing brace, so a histogram can add `le`.
void appendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values) {
    out += '{';
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += ',';
        out += names[i];
        out += "=\"";
        appendEscaped(out, values[i], true);
        out += '"';
    }
}

const char* typeName(Type type) noexcept {
    switch (type) {
        case Type::kCounter:
            return "counter";
        case Type::kGauge:
            return "gauge";
        case Type::kHistogram:
            return "histogram";
    }
    return "untyped";
}

}  // namespace

std::size_t shardIndex() noexcept {
    thread_local const std::size_t index =
        std::hash<std::thread::id>{}(std::this_thread::get_id()) % kShards;
    return index;
}

std::uint64_t Counter::value() const noexcept {
    std::uint64_t sum = 0;
    for (const Cell& c : cells_) sum += c.value.load(std::memory_order_relaxed);
    return sum;
}

Histogram::Histogram(const std::vector<double>* bounds) : bounds_(bounds) {
    for (Shard& s : shards_) {
        s.counts = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1);
    }
}

void Histogram::observe(double value) noexcept {
    std::size_t bucket = 0;
    const std::vector<double>& b = *bounds_;
    while (bucket < b.size() && value > b[bucket]) ++bucket;
    Shard& s = shards_[shardIndex()];
    s.counts[bucket].fetch_add(1, std::memory_order_relaxed);
    s.sum.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot snap;
    snap.cumulative.assign(bounds_->size() + 1, 0);
    for (const Shard& s : shards_) {
        for (std::size_t i = 0; i <= bounds_->size(); ++i) {
            snap.cumulative[i] += s.counts[i].load(std::memory_order_relaxed);
        }
        snap.sum += s.sum.load(std::memory_order_relaxed);
    }
    for (std::size_t i = 1; i < snap.cumulative.size(); ++i) {
        snap.cumulative[i] += snap.cumulative[i - 1];
    }
    snap.count = snap.cumulative.back();
    return snap;
}

const std::vector<double>& defaultLatencyBuckets() {
    static const std::vector<double> buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                0.005,  0.01,    0.025,  0.05,  0.1,
                                                0.25,   0.5,     1,      2.5,   10};
    return buckets;
}

// An open-addressing table of series pointers. Readers probe it without a
// lock; a writer fills empty slots (release) or publishes a bigger copy.
struct FamilyBase::Table {
    explicit Table(std::size_t capacity)
        : mask(capacity - 1), slots(std::make_unique<std::atomic<const Series*>[]>(capacity)) {}
    std::size_t mask;
    std::unique_ptr<std::atomic<const Series*>[]> slots;
    std::size_t used = 0;  // written under the family mutex only

    void insert(const Series* s) {
        for (std::size_t i = s->hash & mask;; i = (i + 1) & mask) {
            if (slots[i].load(std::memory_order_relaxed) == nullptr) {
                slots[i].store(s, std::memory_order_release);
                ++used;
                return;
            }
        }
    }
    const Series* probe(std::uint64_t h, std::span<const std::string_view> values) const noexcept {
        for (std::size_t i = h & mask;; i = (i + 1) & mask) {
            const Series* s = slots[i].load(std::memory_order_acquire);
            if (s == nullptr) return nullptr;
            if (s->hash == h && sameValues(s->values, values)) return s;
        }
    }
};

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> labels,
                       Type type)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)), type_(type) {
    if (!validName(name_, true)) {
        throw Error(Code::kInvalidArgument, fmt::format("metric name '{}' is not valid", name_));
    }
    for (const auto& l : labels_) {
        if (!validName(l, false) || l.starts_with("__") || l == "le") {
            throw Error(Code::kInvalidArgument,
                        fmt::format("metric '{}': label name '{}' is not valid", name_, l));
        }
    }
    tables_.push_back(std::make_unique<Table>(16));
    table_.store(tables_.back().get(), std::memory_order_release);
}

FamilyBase::~FamilyBase() = default;

void* FamilyBase::find(std::span<const std::string_view> values, void* (*make)(FamilyBase&)) {
    std::uint64_t h = hashValues(values);
    if (const Series* s = table_.load(std::memory_order_acquire)->probe(h, values)) {
        return s->metric;
    }
    if (values.size() != labels_.size()) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("metric '{}' has {} label(s), given {} value(s)", name_,
                                labels_.size(), values.size()));
    }
    std::lock_guard lock(mutex_);
    Table* table = tables_.back().get();
    if (const Series* s = table->probe(h, values)) return s->metric;
    Series& s = series_.emplace_back();
    s.hash = h;
    s.values.assign(values.begin(), values.end());
    s.metric = make(*this);
    if ((table->used + 1) * 2 > table->mask + 1) {
        // Grow: the old table stays alive for readers still probing it.
        auto bigger = std::make_unique<Table>((table->mask + 1) * 2);
        for (const Series& old : series_) {
            if (&old != &s) bigger->insert(&old);
        }
        tables_.push_back(std::move(bigger));
        table = tables_.back().get();
        table->insert(&s);
        table_.store(table, std::memory_order_release);
    } else {
        table->insert(&s);
    }
    return s.metric;
}

void FamilyBase::expose(std::string& out) const {
    out += "# HELP ";
    out += name_;
    out += ' ';
    appendEscaped(out, help_, false);
    out += "\n# TYPE ";
    out += name_;
    out += ' ';
    out += typeName(type_);
    out += '\n';
    std::lock_guard lock(mutex_);
    for (const Series& s : series_) exposeSeries(out, s);
}

template <typename Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> labels,
                       std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(labels),
                 std::is_same_v<Metric, Counter> ? Type::kCounter
                 : std::is_same_v<Metric, Gauge> ? Type::kGauge
                                                 : Type::kHistogram),
      bounds_(std::move(bounds)) {}

template <typename Metric>
Family<Metric>::~Family() = default;

template <typename Metric>
void* Family<Metric>::make(FamilyBase& base) {
    auto& self = static_cast<Family&>(base);
    if constexpr (std::is_same_v<Metric, Histogram>) {
        return &self.metrics_.emplace_back(&self.bounds_);
    } else {
        return &self.metrics_.emplace_back();
    }
}

template <typename Metric>
void Family<Metric>::exposeSeries(std::string& out, const Series& series) const {
    const auto& metric = *static_cast<const Metric*>(series.metric);
    if constexpr (std::is_same_v<Metric, Histogram>) {
        Histogram::Snapshot snap = metric.snapshot();
        for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
            out += name();
            out += "_bucket";
            appendLabels(out, labelNames(), series.values);
            if (!labelNames().empty()) out += ',';
            out += "le=\"";
            if (i < bounds_.size()) {
                appendNumber(out, bounds_[i]);
            } else {
                out += "+Inf";
            }
            out += "\"} ";
            out += std::to_string(snap.cumulative[i]);
            out += '\n';
        }
        for (std::string_view suffix : {"_sum", "_count"}) {
            out += name();
            out += suffix;
            if (!labelNames().empty()) {
                appendLabels(out, labelNames(), series.values);
                out += '}';
            }
            out += ' ';
            if (suffix == "_sum") {
                appendNumber(out, snap.sum);
            } else {
                out += std::to_string(snap.count);
            }
            out += '\n';
        }
    } else {
        out += name();
        if (!labelNames().empty()) {
            appendLabels(out, labelNames(), series.values);
            out += '}';
        }
        out += ' ';
        out += std::to_string(metric.value());
        out += '\n';
    }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry::Registry() = default;
Registry::~Registry() = default;

Registry& Registry::global() {
    static Registry registry;
    return registry;
}

FamilyBase* Registry::lookup(std::string_view name, Type type,
                             const std::vector<std::string>& labels) {
    for (auto& f : families_) {
        if (f->name() != name) continue;
        if (f->type() != type || f->labelNames() != labels) {
            throw Error(Code::kInvalidArgument,
                        fmt::format("metric '{}' is already registered as a {} with other labels "
                                    "or type",
                                    name, typeName(f->type())));
        }
        return f.get();
    }
    return nullptr;
}

Family<Counter>& Registry::counter(std::string_view name, std::string_view help,
                                   std::vector<std::string> labels) {
    std::lock_guard lock(mutex_);
    if (auto* f = lookup(name, Type::kCounter, labels)) return static_cast<Family<Counter>&>(*f);
    auto f =
        std::make_unique<Family<Counter>>(std::string(name), std::string(help), std::move(labels));
    auto& ref = *f;
    families_.push_back(std::move(f));
    return ref;
}

Family<Gauge>& Registry::gauge(std::string_view name, std::string_view help,
                               std::vector<std::string> labels) {
    std::lock_guard lock(mutex_);
    if (auto* f = lookup(name, Type::kGauge, labels)) return static_cast<Family<Gauge>&>(*f);
    auto f =
        std::make_unique<Family<Gauge>>(std::string(name), std::string(help), std::move(labels));
    auto& ref = *f;
    families_.push_back(std::move(f));
    return ref;
}

Family<Histogram>& Registry::histogram(std::string_view name, std::string_view help,
                                       std::vector<std::string> labels,
                                       std::vector<double> bounds) {
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (std::isnan(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
            throw Error(Code::kInvalidArgument,
                        fmt::format("histogram '{}': bucket bounds must ascend", name));
        }
    }
    std::lock_guard lock(mutex_);
    if (auto* f = lookup(name, Type::kHistogram, labels)) {
        return static_cast<Family<Histogram>&>(*f);
    }
    auto f = std::make_unique<Family<Histogram>>(std::string(name), std::string(help),
                                                 std::move(labels), std::move(bounds));
    auto& ref = *f;
    families_.push_back(std::move(f));
    return ref;
}

std::string Registry::expose() const {
    std::string out;
    std::lock_guard lock(mutex_);
    for (const auto& f : families_) f->expose(out);
    return out;
}

void countDelivery(std::string_view topic, std::string_view result) noexcept {
    static Family<Counter>& deliveries = Registry::global().counter(
        "micro_broker_deliveries_total", "Broker deliveries to subscribers, by topic and result.",
        {"topic", "result"});
    try {
        deliveries.with({topic, result}).add();
    } catch (...) {
        // Only the first delivery of a (topic, result) allocates; out of
        // memory there loses one count, never the delivery.
    }
}

std::string_view codeLabel(int code) noexcept {
    const std::string_view name = canonicalCodeName(static_cast<Code>(code));
    return name.empty() ? std::string_view("UNKNOWN") : name;
}

}  // namespace micro::metrics
