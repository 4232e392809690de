// routes.hpp — the gateway's view of the registry: service → endpoint names,
// for resolving `/{service}/{method}` paths.
//
// Entries are cached per service and dropped on any registry watch event for
// that service or after `ttl`. cached() never blocks (the HTTP threads use
// it); fetch() looks the registry up and must run off the HTTP threads.
// Thread-safe.
#pragma once

#include <micro/registry.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace micro::gateway {

struct EndpointRoute {
    std::string name;  ///< "Greeter.Hello"
    bool streaming = false;
    std::string request;   ///< the request type, described ("HelloRequest { name: Text }")
    std::string response;  ///< likewise
};

struct ServiceRoutes {
    std::string service;
    std::size_t nodes = 0;
    std::vector<EndpointRoute> endpoints;  ///< the union over the service's nodes
};

/// The outcome of matching a path segment against a service's endpoints.
struct Resolution {
    const EndpointRoute* endpoint = nullptr;  ///< null: no match, or ambiguous
    std::string ambiguous;  ///< "A.Get, B.Get" when the short form matched several
};

/// `method` as a full name ("Greeter.Hello") or the part after its last dot
/// ("hello"), both case-insensitively; an exact full name wins.
Resolution resolve(const ServiceRoutes& routes, std::string_view method);

class RouteTable {
 public:
    RouteTable(Registry& registry, std::chrono::milliseconds ttl);
    ~RouteTable();
    RouteTable(const RouteTable&) = delete;
    RouteTable& operator=(const RouteTable&) = delete;

    /// The cached entry, or null when absent or stale. Never blocks on the registry.
    std::shared_ptr<const ServiceRoutes> cached(std::string_view service) const;
    /// Looks the service up (and caches it). Throws Error(NOT_FOUND, "service
    /// 'x' not found") when it has no live node; registry errors as they come.
    std::shared_ptr<const ServiceRoutes> fetch(std::string_view service);
    /// Every service with at least one live node, fetched afresh.
    std::vector<std::shared_ptr<const ServiceRoutes>> all();

 private:
    using Clock = std::chrono::steady_clock;
    struct Entry {
        std::shared_ptr<const ServiceRoutes> routes;
        Clock::time_point fetched;
    };
    void invalidate(std::string_view service);

    Registry& registry_;
    std::chrono::milliseconds ttl_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, Entry, std::less<>> cache_;
    Watch watch_;
};

}  // namespace micro::gateway
