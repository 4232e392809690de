// micro/sync.hpp — leased locks with fencing tokens, and leader election.
//
// Contract: thread-safe; blocking calls. A lease frees itself when its TTL
// passes without renew; its token grows strictly for each id, so a resource
// can refuse a stale holder. lock/campaign throw DEADLINE_EXCEEDED when not
// acquired within `wait`; renew/unlock/resign throw NOT_FOUND when the lease
// was already lost.
#pragma once

#include <micro/driver_handle.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace micro {

struct Lease {
    std::string id{};
    std::uint64_t token = 0;  ///< fencing token
};

struct LockOptions {
    std::chrono::milliseconds ttl{10000};
    /// 0: try once; negative: wait forever.
    std::chrono::milliseconds wait{-1};
    std::string_view owner{};  ///< reported as the leader's identity
};

struct Leader {
    std::string owner{};
    std::uint64_t token = 0;
};

class Sync {
 public:
    explicit Sync(DriverHandle handle);

    Lease lock(std::string_view id, const LockOptions& options = {});
    void renew(const Lease& lease, std::chrono::milliseconds ttl);
    void unlock(const Lease& lease);

    /// Become leader of `election`; the lease's id is the election name.
    Lease campaign(std::string_view election, const LockOptions& options);
    void resign(const Lease& leadership);
    /// The current leader, or nullopt when there is none.
    std::optional<Leader> leader(std::string_view election) const;

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_sync_driver* table_;
};

}  // namespace micro
