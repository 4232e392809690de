// discovery.hpp — the client's view of the registry: service → live nodes.
//
// Lookups are cached per service. A registry watch (all services) drops a
// service's entry on any event for it, and entries older than the cache TTL
// are refetched, so the cache follows the registry closely without a lookup
// per call. When the registry cannot be reached, a stale entry is served
// rather than failing calls (stale-while-unreachable).
#pragma once

#include <micro/registry.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace micro::rpc {

struct NodeInfo {
    std::string id;
    std::string address;
    std::vector<std::string> idempotentEndpoints;  ///< as the node's record marks them
};

/// The node id and address from an encoded ServiceRecord; nullopt when the
/// record is malformed (such a node is skipped, never dialled).
std::optional<NodeInfo> decodeNodeInfo(std::string_view record);

class Discovery {
   public:
    Discovery(Registry& registry, std::chrono::milliseconds ttl);
    ~Discovery();

    /// Live nodes of `service`; NOT_FOUND naming it when there are none.
    std::shared_ptr<const std::vector<NodeInfo>> nodes(std::string_view service);
    /// Whether any live node of `service` marks `endpoint` idempotent (from
    /// the cached records; false when the service is not cached).
    bool idempotent(std::string_view service, std::string_view endpoint);
    /// Forget `service` so the next call looks it up again.
    void invalidate(std::string_view service);

   private:
    using Clock = std::chrono::steady_clock;
    struct Entry {
        std::shared_ptr<const std::vector<NodeInfo>> nodes;
        Clock::time_point fetched;
    };

    Registry& registry_;
    std::chrono::milliseconds ttl_;
    std::shared_mutex mutex_;
    std::map<std::string, Entry, std::less<>> cache_;
    Watch watch_;
};

}  // namespace micro::rpc
