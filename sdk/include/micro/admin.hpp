// micro/admin.hpp — the HTTP admin endpoint: /health and /metrics.
//
// Every micro::Service starts one (ServiceOptions::adminAddress, by default
// 127.0.0.1 with a picked port; "off" disables it), whatever its transport,
// logs its address on stderr and publishes it in its registry record's node
// metadata under "admin". The API gateway serves the same two paths on its
// own port. A host program may run one for itself with AdminServer.
//
//   GET /health   200 when ready, 503 when not (draining, not registered):
//                 {"status":"ready","live":true,"ready":true,"service":"greeter",
//                  "node":"greeter-1a2b","registered":true,"draining":false,
//                  "inFlight":0,"plugins":[{"slot":"registry","driver":"local",
//                  "plugin":"/usr/lib/micro/plugins/micro-sqlite.so"}, ...]}
//   GET /metrics  the global metrics registry in the Prometheus text format
//                 0.0.4 (see micro/metrics.hpp)
//
// Threads: the server runs one I/O thread of its own; `health` is called on
// it, once per /health request, and must be quick and thread-safe.
#pragma once

#include <micro/runtime.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace micro {

struct HealthStatus {
    std::string service;      ///< the service (or "micro-api" for the gateway)
    std::string node;         ///< node id, when there is one
    bool live = true;         ///< the process answers; false only when it is stopping
    bool registered = false;  ///< the registry holds this node (true where none is needed)
    bool draining = false;    ///< stopping: refusing new calls
    std::int64_t inFlight = 0;
    std::vector<LoadedSlot> plugins;  ///< what the manifest loaded

    bool ready() const noexcept { return live && registered && !draining; }
};

/// The /health body for `status`.
std::string healthJson(const HealthStatus& status);

struct AdminOptions {
    std::string address = "127.0.0.1:0";   ///< host:port; port 0 picks one
    std::function<HealthStatus()> health;  ///< required
};

class AdminServer {
 public:
    /// Listens at once. Throws micro::Error: INVALID_ARGUMENT for a bad
    /// address or a missing health callback, UNAVAILABLE when the address
    /// cannot be bound.
    explicit AdminServer(AdminOptions options);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    /// The bound address, "127.0.0.1:40123".
    const std::string& address() const noexcept;
    /// Stop serving (also done by the destructor).
    void stop() noexcept;

    struct Impl;

 private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro
