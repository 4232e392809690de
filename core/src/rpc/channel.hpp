// channel.hpp — one transport connection as the RPC layer uses it: sending
// with back-pressure. When the transport's buffer is full, a sender waits
// for the connection's writable event (or its deadline) instead of queueing
// without bound.
#pragma once

#include <micro/transport.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>

namespace micro::rpc {

class Channel {
   public:
    using Clock = std::chrono::steady_clock;

    void attach(std::shared_ptr<Connection> connection) {
        std::lock_guard lock(mutex_);
        connection_ = std::move(connection);
    }

    /// Send one frame; waits while the transport is full. Throws UNAVAILABLE
    /// when the connection is gone, DEADLINE_EXCEEDED when it stays full
    /// past `deadline`.
    void send(std::span<const Header> headers, std::string_view body,
              Clock::time_point deadline = Clock::time_point::max()) {
        std::shared_ptr<Connection> c = connection();
        if (!c) throw Error(Code::kUnavailable, "connection is closed");
        while (!c->send(headers, body)) {
            std::unique_lock lock(mutex_);
            if (closed_) throw Error(Code::kUnavailable, "connection is closed");
            if (writable_.wait_until(lock, deadline) == std::cv_status::timeout) {
                throw Error(Code::kDeadlineExceeded, "peer is not reading: send timed out");
            }
        }
    }

    void onWritable() {
        std::lock_guard lock(mutex_);
        writable_.notify_all();
    }
    void onClosed() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        writable_.notify_all();
    }
    bool closed() const {
        std::lock_guard lock(mutex_);
        return closed_;
    }
    std::shared_ptr<Connection> connection() const {
        std::lock_guard lock(mutex_);
        return connection_;
    }
    void close() {
        if (auto c = connection()) c->close();
    }

   private:
    mutable std::mutex mutex_;
    std::condition_variable writable_;
    std::shared_ptr<Connection> connection_;
    bool closed_ = false;
};

}  // namespace micro::rpc
