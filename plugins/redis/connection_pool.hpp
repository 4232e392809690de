// plugins/redis/connection_pool.hpp — a bounded pool of Redis connections
// that heals itself.
//
// Contract
//   Size: at most `size` connections exist at once (idle, lent or being
//     opened). Connections are opened lazily, on a borrow that finds none
//     idle: a pool is created without touching the network, so a service may
//     start before its Redis.
//   borrow(): an idle connection (most recently returned first) or a new one;
//     when `size` are lent it waits at most command_timeout for one to come
//     back, then fails with UNAVAILABLE naming the pool size. Connecting
//     fails as Connection::open does (UNAVAILABLE while the server is down,
//     within connect_timeout).
//   tryBorrow(): an idle, healthy connection or nothing; never waits and
//     never connects (for running a call on its caller's thread only when
//     that costs no wait).
//   Healing: a connection that broke (I/O error, timeout) is closed when it
//     comes back, and every connection opened before the failure is closed
//     instead of being lent again (the server probably restarted, so they
//     are dead too); an idle connection whose socket shows the server
//     closed it is closed at borrow. The next borrow connects afresh, so
//     calls succeed again as soon as the server is back.
//   Threads: borrow() and the Lease are thread-safe; a Lease is used by one
//     thread. No lock is held while connecting or while a lease is out.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"

namespace micro::redis {

class ConnectionPool {
 public:
    ConnectionPool(ConnectOptions options, std::size_t size);
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    /// A borrowed connection; goes back to the pool (or is closed, if it
    /// broke) when the lease ends.
    class Lease {
     public:
        Lease(ConnectionPool& pool, std::unique_ptr<Connection> connection) noexcept
            : pool_(&pool), connection_(std::move(connection)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        ~Lease() {
            if (connection_) pool_->giveBack(std::move(connection_));
        }
        Connection* operator->() const noexcept { return connection_.get(); }
        Connection& operator*() const noexcept { return *connection_; }

     private:
        ConnectionPool* pool_;
        std::unique_ptr<Connection> connection_;
    };

    Lease borrow();
    /// An idle connection at once, or nullopt (see the contract).
    std::optional<Lease> tryBorrow();
    /// True when `c` was opened before the last failure the pool saw, so it
    /// is probably dead too (for a connection held across several round
    /// trips). Lock-free.
    bool stale(const Connection& c) const noexcept {
        return c.generation != latest_.load(std::memory_order_acquire);
    }
    /// "host:port", for messages.
    const std::string& endpoint() const noexcept { return endpoint_; }
    std::size_t size() const noexcept { return size_; }

 private:
    void giveBack(std::unique_ptr<Connection> connection) noexcept;

    const ConnectOptions options_;
    const std::string endpoint_;
    const std::size_t size_;

    std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
    std::size_t open_ = 0;                           // idle + lent + opening
    std::uint64_t generation_ = 0;                   // grows on every failure
    std::atomic<std::uint64_t> latest_{0};           // generation_, for stale()
};

}  // namespace micro::redis
