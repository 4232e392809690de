// micro/client.hpp — call a service by name.
//
// A Client looks the service up in the registry (cached; the cache is
// refreshed by a registry watch and served stale while the registry is
// unreachable), selects a node (random by default, round-robin, or hashed by
// a request key for affinity), reuses one multiplexed connection per node,
// sends the deadline along, and retries on another node with backoff and
// jitter, never past the deadline:
//   - always when the request never left (no node reachable, connection
//     refused, the node refused it unprocessed because it is draining);
//   - after it was sent, on UNAVAILABLE or a broken connection only when the
//     call is marked idempotent.
// A node whose connection keeps failing is skipped for a while (circuit
// breaker). Errors from the handler itself are never retried: they throw
// micro::Error with the server's code and detail.
//
// Thread-safe: one Client serves any number of threads. It must not outlive
// the Runtime it was made from.
#pragma once

#include <micro/rpc/call.hpp>
#include <micro/rpc/stream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace micro {

class Runtime;

enum class Selection { kRandom, kRoundRobin, kHash };

struct ClientOptions {
    Selection selection = Selection::kRandom;
    int maxAttempts = 3;                           ///< per call, including the first
    std::chrono::milliseconds dialTimeout{1000};
    std::chrono::milliseconds backoff{10};         ///< base; doubles, with jitter
    int breakerFailures = 3;                       ///< consecutive failures that trip it
    std::chrono::milliseconds breakerCooldown{5000};
    std::chrono::milliseconds cacheTtl{30000};     ///< refetch even without watch events
};

struct CallOptions {
    std::string_view contentType = kContentCapnp;
    std::chrono::milliseconds timeout{5000};
    bool idempotent = false;
    std::string_view key{};       ///< for Selection::kHash
    Metadata metadata{};
    std::string_view address{};   ///< call this node directly, skipping discovery
    int maxAttempts = 0;          ///< 0: the client's default
};

struct Response {
    std::string body;
    std::string contentType;
    Metadata metadata;
};

class Client {
   public:
    explicit Client(Runtime& runtime, ClientOptions options = {});
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    /// One request, one response, body already encoded in options.contentType.
    Response call(std::string_view service, std::string_view endpoint, std::string_view body,
                  const CallOptions& options = {});
    /// The same without blocking: `done` runs once, on a client or transport
    /// thread, with the response or the error.
    void callAsync(std::string_view service, std::string_view endpoint, std::string_view body,
                   const CallOptions& options,
                   std::function<void(Response*, const Error*)> done);
    /// Open a streaming call (client-, server- or bidi-streaming).
    Stream stream(std::string_view service, std::string_view endpoint,
                  const CallOptions& options = {});
    /// Add client middleware (before the first call).
    void use(ClientMiddleware middleware);

    struct Impl;

   private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace micro
