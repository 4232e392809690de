#include "service_admin.hpp"

#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace micro::admin {

namespace {

using Clock = std::chrono::steady_clock;

// Records one call when the middleware chain returns or throws.
struct CallRecord {
    metrics::Family<metrics::Counter>& calls;
    metrics::Family<metrics::Histogram>& duration;
    metrics::Gauge& inFlight;
    std::string_view service;
    std::string_view endpoint;
    Clock::time_point start = Clock::now();
    Code code = Code::kOk;

    ~CallRecord() {
        inFlight.add(-1);
        try {
            std::chrono::duration<double> took = Clock::now() - start;
            duration.with({service, endpoint}).observe(took.count());
            calls.with({service, endpoint, metrics::codeLabel(static_cast<int>(code))}).add();
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

ServerMiddleware ServiceAdmin::middleware() {
    // Captures only what lives as long as the global registry, so a call
    // finishing late never touches a destroyed service.
    return [calls = &calls_, duration = &duration_, inFlight = &inFlight_, service = service_](
               ServerCall& call, const ServerHandler& next) {
        inFlight->add(1);
        CallRecord record{*calls, *duration, *inFlight, service, call.endpoint};
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
