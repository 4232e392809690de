#include "connection_pool.hpp"

#include <micro/error.hpp>

#include <chrono>

namespace micro::redis {

ConnectionPool::ConnectionPool(ConnectOptions options, std::size_t size)
    : options_(std::move(options)), endpoint_(options_.url.endpoint()), size_(size) {
    idle_.reserve(size_);
}

ConnectionPool::Lease ConnectionPool::borrow() {
    const auto deadline = std::chrono::steady_clock::now() + options_.commandTimeout;
    std::vector<std::unique_ptr<Connection>> stale;  // closed with no lock held
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            while (!idle_.empty()) {
                std::unique_ptr<Connection> c = std::move(idle_.back());
                idle_.pop_back();
                if (c->generation == generation_ && c->idleHealthy()) {
                    lock.unlock();
                    stale.clear();
                    return Lease(*this, std::move(c));
                }
                stale.push_back(std::move(c));
                --open_;
            }
            if (open_ < size_) {
                ++open_;  // reserve the slot, connect unlocked
                break;
            }
            if (returned_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
                open_ >= size_) {
                throw Error(
                    Code::kUnavailable,
                    "redis " + endpoint_ + ": no connection free within " + "command_timeout_ms (" +
                        std::to_string(options_.commandTimeout.count()) + " ms): all pool_size (" +
                        std::to_string(size_) + ") connections are busy");
            }
        }
    }
    stale.clear();
    try {
        std::unique_ptr<Connection> c = Connection::open(options_);
        {
            std::lock_guard lock(mutex_);
            c->generation = generation_;  // alive now, whatever failed before
        }
        return Lease(*this, std::move(c));
    } catch (...) {
        {
            std::lock_guard lock(mutex_);
            --open_;
        }
        returned_.notify_one();
        throw;
    }
}

std::optional<ConnectionPool::Lease> ConnectionPool::tryBorrow() {
    std::vector<std::unique_ptr<Connection>> stale;  // closed with no lock held
    std::unique_lock lock(mutex_);
    while (!idle_.empty()) {
        std::unique_ptr<Connection> c = std::move(idle_.back());
        idle_.pop_back();
        if (c->generation == generation_ && c->idleHealthy()) {
            lock.unlock();
            return std::optional<Lease>(std::in_place, *this, std::move(c));
        }
        stale.push_back(std::move(c));
        --open_;
    }
    lock.unlock();
    if (!stale.empty()) returned_.notify_all();  // their slots are free to connect again
    return std::nullopt;
}

void ConnectionPool::giveBack(std::unique_ptr<Connection> connection) noexcept {
    {
        std::lock_guard lock(mutex_);
        if (connection->broken()) {
            // The others made before this failure are probably dead too.
            generation_ =
                connection->generation + 1 > generation_ ? connection->generation + 1 : generation_;
            latest_.store(generation_, std::memory_order_release);
            --open_;
        } else if (connection->generation == generation_) {
            idle_.push_back(std::move(connection));
        } else {
            --open_;
        }
    }
    returned_.notify_one();
    // A connection not kept is closed here, with no lock held.
}

}  // namespace micro::redis
