// micro/gateway.hpp — the API gateway: HTTP/1.1 + JSON in front of every
// service in the registry (`micro api` runs one; a host program may embed one).
//
//     micro::Runtime rt = micro::Runtime::load(micro::findManifest(std::nullopt));
//     micro::ApiGateway api(rt, {.address = "127.0.0.1:8080"});
//     api.start();   // serves until stop() or destruction
//
// Routes (docs/gateway.md has the details):
//   POST /{service}/{Service.Method}   a unary call through micro::Client
//   POST /{service}/{method}           the same, the method matched
//                                      case-insensitively against the last
//                                      part of the service's endpoint names
//   GET  /                             every service and its endpoints (JSON)
//   GET  /health, GET /metrics         as a service's admin endpoint
//   OPTIONS *                          CORS preflight, when origins are set
// The body is JSON (application/capnp and application/octet-stream bodies
// pass through as they are); the reply is the endpoint's JSON with 200, or
// the JSON error {"id","code","detail","status"} with a status mapped from
// its code: NOT_FOUND 404, INVALID_ARGUMENT 400, UNAUTHENTICATED 401,
// PERMISSION_DENIED 403, DEADLINE_EXCEEDED 504, UNAVAILABLE 503, others 500.
// `Authorization` is passed on as call metadata "authorization"; every
// `Micro-<Name>` header as metadata "<name>" (lower case), except
// `Micro-Timeout` (milliseconds), which sets the call's deadline. Response
// metadata comes back as `Micro-<key>` headers.
//
// Threads: `threads` I/O threads serve HTTP; calls run asynchronously
// through the client; registry lookups (on a cache miss and for GET /) run on
// two threads of their own. start/stop are not thread-safe with each other.
// The gateway must not outlive the Runtime.
#pragma once

#include <micro/client.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace micro {

class Runtime;

struct ApiOptions {
    std::string address = "127.0.0.1:8080";  ///< host:port; port 0 picks one
    std::size_t threads = 0;                 ///< I/O threads; 0: one per usable CPU (driver::usableCpus)
    /// Origins allowed to call from a browser ("*": any). Empty: no CORS
    /// headers, and OPTIONS is 405.
    std::vector<std::string> corsOrigins{};
    std::chrono::milliseconds timeout{5000};      ///< a call's deadline unless Micro-Timeout says
    std::chrono::milliseconds maxTimeout{60000};  ///< the most Micro-Timeout may ask for
    std::size_t maxHeaderBytes = 64 * 1024;       ///< larger: 431
    std::size_t maxBodyBytes = 4 * 1024 * 1024;   ///< larger: 413
    std::chrono::milliseconds headerTimeout{10000};  ///< a slower header block: closed
    std::chrono::milliseconds idleTimeout{60000};    ///< an idle keep-alive connection: closed
    ClientOptions client{};

    /// Reads the [api] table of a TOML file over `base`: address, threads,
    /// cors_origins (array of strings), timeout_ms, max_timeout_ms,
    /// header_timeout_ms, idle_timeout_ms, max_header_bytes, max_body_bytes.
    /// Throws micro::Error(INVALID_ARGUMENT) naming the file, line and key
    /// for an unknown key or a value of the wrong type; NOT_FOUND when the
    /// file cannot be read. A file without [api] leaves `base` as it is.
    static ApiOptions load(const std::filesystem::path& file, ApiOptions base);
};

class ApiGateway {
 public:
    ApiGateway(Runtime& runtime, ApiOptions options);
    ~ApiGateway();
    ApiGateway(const ApiGateway&) = delete;
    ApiGateway& operator=(const ApiGateway&) = delete;

    /// Listen and serve. Throws micro::Error: INVALID_ARGUMENT for a bad
    /// address, UNAVAILABLE naming it when it cannot be bound.
    void start();
    /// Stop listening, close every connection; calls still running are
    /// abandoned (their replies are dropped). Idempotent.
    void stop() noexcept;
    /// The bound address, once started.
    const std::string& address() const noexcept;

    struct Impl;

 private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro
