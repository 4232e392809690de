// service_admin.hpp — what a micro::Service adds for operators: call metrics
// (a server middleware) and the admin HTTP endpoint with its health state.
//
// Threads: the middleware runs on handler threads; setRegistered and
// setDraining may be called from any thread; start and stop from the
// service's lifecycle calls only.
#pragma once

#include <micro/admin.hpp>
#include <micro/metrics.hpp>
#include <micro/rpc/call.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace micro {
class Runtime;
}

namespace micro::admin {

class ServiceAdmin {
 public:
    ServiceAdmin(Runtime& runtime, std::string service);
    ~ServiceAdmin();
    ServiceAdmin(const ServiceAdmin&) = delete;
    ServiceAdmin& operator=(const ServiceAdmin&) = delete;

    /// Counts every call that reaches the middleware chain:
    /// micro_server_calls_total{service,endpoint,code},
    /// micro_server_call_duration_seconds{service,endpoint},
    /// micro_server_in_flight{service}. Install it first, so it is outermost.
    /// Made per endpoint (rpc::Server::usePerEndpoint): each endpoint's
    /// middleware keeps its series once it has found them, so a call does no
    /// label lookup. A series still appears on its first call, as it would
    /// with a lookup per call.
    std::function<ServerMiddleware(std::string_view endpoint)> middleware();

    /// Start the admin endpoint on `address` ($MICRO_ADMIN_ADDRESS, when set,
    /// replaces it; "off" or empty: none). Logs the address on stderr and
    /// returns it ("" when off). Throws micro::Error when it cannot listen.
    std::string start(const std::string& address, const std::string& nodeId);
    void setRegistered(bool registered) noexcept { registered_.store(registered); }
    void setDraining() noexcept { draining_.store(true); }
    void stop() noexcept;

 private:
    HealthStatus health() const;

    Runtime& runtime_;
    std::string service_;
    std::string nodeId_;
    std::atomic<bool> registered_{false};
    std::atomic<bool> draining_{false};
    metrics::Family<metrics::Counter>& calls_;
    metrics::Family<metrics::Histogram>& duration_;
    metrics::Gauge& inFlight_;
    std::unique_ptr<AdminServer> server_;
};

}  // namespace micro::admin
