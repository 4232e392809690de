// plugins/sqlite/local_registry.hpp — registry driver "local": service
// discovery across the processes of one host through one SQLite database
// file in WAL mode. No server: every process opens the same file.
//
// Contract
//   Config (unknown keys are refused):
//     path             the database file; default $MICRO_REGISTRY_PATH, else
//                      $XDG_RUNTIME_DIR/micro/registry.db, else
//                      /tmp/micro-<uid>/registry.db. Missing folders are
//                      created with mode 0700.
//     poll_ms          how often watchers look for changes and expired nodes
//                      are swept, 1..60000 (default 100).
//     busy_timeout_ms  how long a call waits for another process's write lock
//                      before failing with UNAVAILABLE (default 5000).
//     create() fails naming the path when the file cannot be opened or
//     created (INVALID_ARGUMENT), is not a database or is corrupt
//     (DATA_LOSS), or holds another schema version (FAILED_PRECONDITION).
//   Nodes: as in registry_tables.hpp: a node expires ttl_ms after its last
//     register (wall clock); lookup and list_services never return an
//     expired node; a node registered by a process that died without
//     deregistering disappears when its TTL runs out.
//   Calls run on the caller's thread over two connections per instance, one
//     for writes and one for reads (each guarded by a mutex); each call is
//     one short SQLite transaction. A write may wait up to busy_timeout_ms
//     for another process's write lock; reads never wait for writers.
//     SQLITE_BUSY and I/O errors complete with UNAVAILABLE naming the path.
//   Threads: two per instance, started in the constructor and joined in the
//     destructor. The sweeper removes expired nodes every poll_ms (appending
//     DELETED events; each expiry is reported once however many processes
//     sweep) and trims events older than 60 s. The watcher reads the event
//     log every poll_ms while a watch exists (at once after a change made by
//     this instance) and delivers to each watch the events after the last
//     seq it saw; with no watch it sleeps.
//   Watches: a watch sees the events committed after watch() read the last
//     seq, from every process, in commit order, never concurrently; CREATED
//     and UPDATED carry the record, DELETED the last record. Callbacks run
//     on the watcher thread with no lock held, so they may call back into
//     the registry. A watcher that falls more than 60 s behind misses the
//     trimmed events. unwatch: after it returns the watcher is never called
//     again (it waits for a delivery in progress), except when called from
//     inside a watcher callback, where it does not wait.
//   Sinks (lookup, list_services) run with no lock held.
#pragma once

#include <micro/driver/registry.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>

#include "failure_log.hpp"
#include "registry_tables.hpp"

namespace micro::sqlite {

class LocalRegistry {
 public:
    explicit LocalRegistry(const driver::Context& ctx);
    ~LocalRegistry();
    LocalRegistry(const LocalRegistry&) = delete;
    LocalRegistry& operator=(const LocalRegistry&) = delete;

    void registerNode(const micro_registry_node& node);
    void deregisterNode(std::string_view service, std::string_view node);
    void lookup(std::string_view service, driver::NodeSink& out);
    void listServices(driver::StringSink& out);
    void* watch(std::string_view service, micro_registry_watcher watcher);
    void unwatch(void* watch) noexcept;

    /// Events older than this are trimmed from the log.
    static constexpr std::int64_t kEventRetentionMs = 60'000;

 private:
    struct Watch {
        std::string service;  // empty: every service
        micro_registry_watcher watcher{};
        std::int64_t lastSeen = 0;  // guarded by mutex_
        bool active = true;         // guarded by mutex_
    };

    void sweepLoop(std::stop_token stop);
    void watchLoop(std::stop_token stop);
    /// Wake the watcher now (a change was just committed here).
    void kick();
    std::chrono::milliseconds poll_;

    // Two connections, so that a write waiting for another process's lock
    // does not hold up lookups and watchers of this instance (WAL readers
    // never wait for a writer).
    std::mutex writeMutex_;  // guards writer_
    std::unique_ptr<RegistryTables> writer_;
    std::mutex readMutex_;  // guards reader_
    std::unique_ptr<RegistryTables> reader_;

    std::mutex mutex_;                       // guards everything below
    std::condition_variable_any sweepWake_;  // stop
    std::condition_variable_any watchWake_;  // stop, poke_
    std::condition_variable delivered_;      // unwatch: the current delivery ended
    std::unordered_map<void*, std::shared_ptr<Watch>> watches_;
    const Watch* delivering_ = nullptr;
    bool poke_ = false;

    FailureLog sweepLog_;  // sweeper thread only
    FailureLog watchLog_;  // watcher thread only
    // Last: started after, and joined before, everything they use (the
    // sweeper too when starting the watcher throws).
    std::jthread sweeper_;
    std::jthread watcher_;
};

}  // namespace micro::sqlite
