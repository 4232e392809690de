#include "service_admin.hpp"

#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace micro::admin {

namespace {

using Clock = std::chrono::steady_clock;

// Codes OK..UNAUTHENTICATED keep their series; any other code (labelled
// UNKNOWN) is looked up on each call, as every code used to be.
constexpr std::size_t kKeptCodes = static_cast<std::size_t>(Code::kUnauthenticated) + 1;

// One endpoint's series, each found on its first use and kept. Two first
// calls may both look a series up: they find the same one, so either store
// is right. Release/acquire hand the series' construction to later readers.
class EndpointSeries {
 public:
    EndpointSeries(metrics::Family<metrics::Counter>& calls,
                   metrics::Family<metrics::Histogram>& duration, metrics::Gauge& inFlight,
                   std::string service, std::string endpoint)
        : inFlight(inFlight),
          callsFamily_(calls),
          durationFamily_(duration),
          service_(std::move(service)),
          endpoint_(std::move(endpoint)) {}

    metrics::Gauge& inFlight;

    metrics::Histogram& duration() {
        metrics::Histogram* h = duration_.load(std::memory_order_acquire);
        if (h == nullptr) {
            h = &durationFamily_.with({service_, endpoint_});
            duration_.store(h, std::memory_order_release);
        }
        return *h;
    }

    metrics::Counter& calls(Code code) {
        const auto i = static_cast<std::uint32_t>(code);
        if (i >= kKeptCodes) return lookup(code);
        metrics::Counter* c = calls_[i].load(std::memory_order_acquire);
        if (c == nullptr) {
            c = &lookup(code);
            calls_[i].store(c, std::memory_order_release);
        }
        return *c;
    }

 private:
    metrics::Counter& lookup(Code code) {
        return callsFamily_.with({service_, endpoint_, metrics::codeLabel(static_cast<int>(code))});
    }

    metrics::Family<metrics::Counter>& callsFamily_;
    metrics::Family<metrics::Histogram>& durationFamily_;
    const std::string service_;
    const std::string endpoint_;
    std::atomic<metrics::Histogram*> duration_{nullptr};
    std::array<std::atomic<metrics::Counter*>, kKeptCodes> calls_{};
};

// Records one call when the middleware chain returns or throws.
struct CallRecord {
    EndpointSeries& series;
    Clock::time_point start = Clock::now();
    Code code = Code::kOk;

    ~CallRecord() {
        series.inFlight.add(-1);
        try {
            std::chrono::duration<double> took = Clock::now() - start;
            series.duration().observe(took.count());
            series.calls(code).add();
        } catch (...) {
            // Only a first call of a new (endpoint, code) allocates; losing
            // that one count beats failing the call.
        }
    }
};

}  // namespace

ServiceAdmin::ServiceAdmin(Runtime& runtime, std::string service)
    : runtime_(runtime),
      service_(std::move(service)),
      calls_(metrics::Registry::global().counter(
          "micro_server_calls_total", "Calls a service handled, by endpoint and result code.",
          {"service", "endpoint", "code"})),
      duration_(metrics::Registry::global().histogram("micro_server_call_duration_seconds",
                                                      "Time a service took to handle a call.",
                                                      {"service", "endpoint"})),
      inFlight_(
          metrics::Registry::global()
              .gauge("micro_server_in_flight", "Calls a service is handling now.", {"service"})
              .with({service_})) {}

ServiceAdmin::~ServiceAdmin() { stop(); }

std::function<ServerMiddleware(std::string_view endpoint)> ServiceAdmin::middleware() {
    // Captures only what lives as long as the global registry (and what the
    // middleware owns), so a call finishing late never touches a destroyed
    // service.
    return [calls = &calls_, duration = &duration_, inFlight = &inFlight_,
            service = service_](std::string_view endpoint) -> ServerMiddleware {
        auto series = std::make_shared<EndpointSeries>(*calls, *duration, *inFlight, service,
                                                       std::string(endpoint));
        return [series](ServerCall& call, const ServerHandler& next) {
            series->inFlight.add(1);
            CallRecord record{*series};
            try {
                next(call);
            } catch (const Error& e) {
                record.code = e.code();
                throw;
            } catch (const std::bad_alloc&) {
                record.code = Code::kResourceExhausted;
                throw;
            } catch (...) {
                record.code = Code::kInternal;
                throw;
            }
        };
    };
}

std::string ServiceAdmin::start(const std::string& address, const std::string& nodeId) {
    nodeId_ = nodeId;
    std::string where = address;
    if (const char* env = std::getenv("MICRO_ADMIN_ADDRESS"); env != nullptr) where = env;
    if (where.empty() || where == "off") return {};
    AdminOptions options;
    options.address = where;
    options.health = [this] { return health(); };
    try {
        server_ = std::make_unique<AdminServer>(std::move(options));
    } catch (const Error& e) {
        throw Error(e.code(), fmt::format("{}: admin endpoint: {}", service_, e.what()));
    }
    std::fprintf(stderr, "micro: %s: admin on http://%s (/health, /metrics)\n", service_.c_str(),
                 server_->address().c_str());
    return server_->address();
}

void ServiceAdmin::stop() noexcept {
    if (server_) server_->stop();
}

HealthStatus ServiceAdmin::health() const {
    HealthStatus s;
    s.service = service_;
    s.node = nodeId_;
    s.registered = registered_.load();
    s.draining = draining_.load();
    s.inFlight = inFlight_.value();
    s.plugins = runtime_.loaded();
    return s;
}

}  // namespace micro::admin
