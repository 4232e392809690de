// server.hpp — the RPC server: routes `Service.Method` endpoints to
// handlers over any transport.
//
// Threads: frames arrive on transport threads. Unary handlers run on a
// worker pool, or inline on the transport thread for endpoints marked
// `nonBlocking` and for every endpoint when handlerThreads is 0 (handlers
// that never block); each streaming call gets a thread of
// its own, since its handler blocks on recv. Every handler failure reaches
// the caller as an `x` frame with a code and detail; the connection lives on.
//
// Lifecycle: listen, then stopAccepting + drain (new calls are refused with
// "not processed", in-flight ones finish within the grace period), then
// destruction closes every connection and waits for stream threads.
#pragma once

#include <micro/rpc/call.hpp>
#include <micro/rpc/stream.hpp>
#include <micro/transport.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace micro::rpc {

struct Endpoint {
    std::string name;
    ServerHandler unary;                                  // set for unary endpoints
    std::function<void(ServerCall&, Stream&)> streaming;  // set for streaming ones
    bool nonBlocking = false;  // unary only: run inline even when there is a pool
};

/// Makes the middleware for the calls of one endpoint, once per endpoint at
/// listen: state that depends only on the endpoint (a metric series, say)
/// is then found once, not on every call.
using EndpointMiddleware = std::function<ServerMiddleware(std::string_view endpoint)>;

struct ServerOptions {
    std::size_t handlerThreads = 8;  ///< 0: run unary handlers inline
};

class Server {
   public:
    Server(Transport& transport, std::string serviceName, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    void add(Endpoint endpoint);  ///< before listen
    void use(ServerMiddleware middleware);  ///< before listen
    void usePerEndpoint(EndpointMiddleware make);  ///< before listen; in order with use()
    /// Listen; returns the bound address.
    std::string listen(std::string_view address);
    void stopAccepting();
    /// Refuse new calls; wait up to `grace` for in-flight ones.
    /// Returns true when everything finished in time.
    bool drain(std::chrono::milliseconds grace);
    std::uint64_t inFlight() const noexcept;

    struct Shared;

   private:
    std::shared_ptr<Shared> shared_;
    Transport* transport_ = nullptr;
    Listener listener_;
};

}  // namespace micro::rpc
