// plugins/memory/memory_registry.hpp — registry driver "memory": nodes in
// this instance's memory (not shared with other instances or processes).
//
// Contract
//   Threads: every method may be called concurrently from any thread. One
//     plugin thread per instance (the dispatcher) expires nodes and delivers
//     watch events; it starts in the constructor and is joined in the
//     destructor, after which no watcher is called.
//   Nodes: (service, node) -> opaque record bytes with a TTL; ttl_ms 0 =
//     forever. A node expires ttl_ms after its last register_node. Expired
//     nodes are invisible to lookup/list_services at once (checked on
//     access) and are removed by the dispatcher within a few ms of expiry,
//     which emits MICRO_REGISTRY_DELETED for them.
//   Events: register of an absent node -> CREATED, of a live one -> UPDATED,
//     deregister or expiry -> DELETED (with the last record). Events are
//     queued in the order the changes happened and delivered by the
//     dispatcher thread, so the events of one watch are never concurrent and
//     a watcher may call back into the registry. A watch sees only changes
//     made after watch() returned.
//   unwatch: after it returns the watcher is never called again (it waits
//     for an event being delivered to that watch). It should not be called
//     from inside the watcher; if it is, it does not wait (that would
//     deadlock) and the watcher is not called again after it returns.
//   Sinks (lookup, list_services) run with no lock held.
//   Config: none.
#pragma once

#include <micro/driver/registry.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace micro::memory {

class MemoryRegistry {
 public:
    explicit MemoryRegistry(const driver::Context& ctx);
    ~MemoryRegistry();
    MemoryRegistry(const MemoryRegistry&) = delete;
    MemoryRegistry& operator=(const MemoryRegistry&) = delete;

    void registerNode(const micro_registry_node& node);
    void deregisterNode(std::string_view service, std::string_view node);
    void lookup(std::string_view service, driver::NodeSink& out);
    void listServices(driver::StringSink& out);
    void* watch(std::string_view service, micro_registry_watcher watcher);
    void unwatch(void* watch) noexcept;

 private:
    using Clock = std::chrono::steady_clock;

    struct Node {
        std::string record;
        std::int64_t ttlMs = 0;
        Clock::time_point expires = Clock::time_point::max();

        bool liveAt(Clock::time_point now) const noexcept { return expires > now; }
    };
    struct Watch {
        std::string service;  // empty: every service
        micro_registry_watcher watcher{};
        bool active = true;  // guarded by mutex_
    };
    struct Event {
        std::int32_t type = 0;
        std::string service;
        std::string node;
        std::string record;
        std::int64_t ttlMs = 0;
        std::vector<std::shared_ptr<Watch>> targets;
    };

    /// Queue an event for the watches interested now. Needs mutex_.
    void enqueue(std::int32_t type, const std::string& service, const std::string& node,
                 const Node& value);
    /// Remove every node expired at `now`, queueing DELETED. Needs mutex_.
    void sweep(Clock::time_point now);
    void dispatch(std::stop_token stop);

    std::mutex mutex_;                   // guards everything below
    std::condition_variable_any wake_;   // dispatcher: events queued, deadline moved
    std::condition_variable delivered_;  // unwatch: the current delivery ended
    std::map<std::string, std::map<std::string, Node, std::less<>>, std::less<>> services_;
    Clock::time_point nextExpiry_ = Clock::time_point::max();  // a lower bound
    std::unordered_map<void*, std::shared_ptr<Watch>> watches_;
    std::deque<Event> events_;
    const Watch* delivering_ = nullptr;  // the watch whose callback is running
    std::jthread dispatcher_;  // last: started after, and joined before, everything it uses
};

}  // namespace micro::memory
