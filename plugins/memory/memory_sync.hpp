// plugins/memory/memory_sync.hpp — sync driver "memory": leased locks and
// leader election in this instance's memory.
//
// Contract
//   Threads: every method may be called concurrently from any thread and
//     returns at once (the ABI tags them [non-blocking]): a lock that must
//     wait keeps its completion in a queue, completed later by unlock,
//     resign, lease expiry or the wait deadline. One plugin thread per
//     instance (the timer) runs expiries and deadlines; it is joined in the
//     destructor, which first completes every waiter with MICRO_CANCELLED.
//     Completions always run with no lock held, so they may call back in.
//   Leases: lock(id, owner, ttl_ms, wait_ms) grants a lease that ends ttl_ms
//     after acquisition or the last renew (ttl_ms must be > 0). Fencing
//     tokens come from one counter per instance, so they grow strictly per
//     id (and across ids). wait_ms 0: try once; > 0: wait up to that long;
//     < 0: wait forever; not acquired in time -> MICRO_DEADLINE_EXCEEDED.
//     Waiters are served first come, first served. renew/unlock with a token
//     that no longer holds the lease (expired, released, superseded) ->
//     MICRO_NOT_FOUND.
//   Elections: campaign/resign are lock/unlock in a namespace of their own
//     (an election "x" and a lock "x" are unrelated); leader(election) emits
//     the holder's owner string and completes with its token, NOT_FOUND when
//     nobody holds it.
//   Config: none.
#pragma once

#include <micro/driver/sync.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace micro::memory {

class MemorySync {
 public:
    explicit MemorySync(const driver::Context& ctx);
    ~MemorySync();
    MemorySync(const MemorySync&) = delete;
    MemorySync& operator=(const MemorySync&) = delete;

    void lock(const driver::LockRequest& request, driver::Done& done);
    void renew(std::string_view id, std::uint64_t token, std::int64_t ttlMs, driver::Done& done);
    void unlock(std::string_view id, std::uint64_t token, driver::Done& done);
    void campaign(const driver::LockRequest& request, driver::Done& done);
    void resign(std::string_view election, std::uint64_t token, driver::Done& done);
    void leader(std::string_view election, driver::StringSink& out, driver::Done& done);

 private:
    using Clock = std::chrono::steady_clock;

    struct Waiter {
        std::string owner;
        std::int64_t ttlMs = 0;
        Clock::time_point deadline;  // max(): wait forever
        driver::Done done;
    };
    struct Lease {
        bool held = false;
        std::string owner;
        std::uint64_t token = 0;
        Clock::time_point expires;
        std::list<Waiter> waiters;  // a list: a Done cannot be move-assigned
    };
    using Space = std::map<std::string, Lease, std::less<>>;

    /// A completion decided under the lock and run after it is released.
    struct Outcome {
        driver::Done done;
        Code code = Code::kOk;
        std::string message;
        std::uint64_t value = 0;
    };
    using Outcomes = std::vector<Outcome>;
    static void finish(Outcomes& outcomes) noexcept;

    void acquire(Space& space, const char* what, const driver::LockRequest& request,
                 driver::Done& done);
    void release(Space& space, const char* what, std::string_view id, std::uint64_t token,
                 driver::Done& done);
    /// Bring `lease` up to date at `now`: end an expired lease, fail waiters
    /// past their deadline, hand a free lease to the first waiter. Returns
    /// false when the entry is free with no waiters (the caller may erase it).
    bool settle(Lease& lease, Clock::time_point now, const char* what, std::string_view id,
                Outcomes& outcomes);
    void grant(Lease& lease, std::string owner, std::int64_t ttlMs, Clock::time_point now);
    /// Make sure the timer looks again no later than `when`. Needs mutex_.
    void wakeBy(Clock::time_point when);
    void timer(std::stop_token stop);

    std::mutex mutex_;  // guards everything below
    std::condition_variable_any wake_;
    Space locks_;
    Space elections_;
    std::uint64_t lastToken_ = 0;
    Clock::time_point timerWakes_ = Clock::time_point::max();  // when the timer next looks
    std::jthread timer_;  // last: started after, and joined before, everything it uses
};

}  // namespace micro::memory
