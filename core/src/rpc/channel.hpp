// channel.hpp — one transport connection as the RPC layer uses it: sending
// with back-pressure. When the transport's buffer is full, a sender on an
// ordinary thread waits for the connection's writable event (or its
// deadline) instead of queueing without bound. A sender running inside a
// transport callback must not wait: the writable event it would wait for is
// delivered by that same thread. There a full buffer means the peer is not
// reading at all, and the send fails at once with RESOURCE_EXHAUSTED.
#pragma once

#include <micro/transport.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

namespace micro::rpc {

class Channel {
   public:
    using Clock = std::chrono::steady_clock;

    /// Once, before the channel sends: senders read the connection without
    /// the mutex (see raw_).
    void attach(std::shared_ptr<Connection> connection) {
        std::lock_guard lock(mutex_);
        connection_ = std::move(connection);
        raw_.store(connection_.get(), std::memory_order_release);
    }

    /// Marks the current thread as running a transport callback for as long
    /// as it lives (see the header comment).
    class InCallback {
       public:
        InCallback() noexcept : previous_(inCallback()) { inCallback() = true; }
        ~InCallback() { inCallback() = previous_; }
        InCallback(const InCallback&) = delete;
        InCallback& operator=(const InCallback&) = delete;

       private:
        bool previous_;
    };

    /// Send one frame; waits while the transport is full. Throws UNAVAILABLE
    /// when the connection is gone, DEADLINE_EXCEEDED when it stays full
    /// past `deadline`, RESOURCE_EXHAUSTED when full inside a callback.
    void send(std::span<const Header> headers, std::string_view body,
              Clock::time_point deadline = Clock::time_point::max(),
              SendTiming timing = SendTiming::kNow) {
        sendUntil(headers, body, [deadline] { return deadline; }, timing);
    }

    /// The same, waiting no longer than `maxWait` and never past `deadline`.
    /// The wait is counted from the first full send, so a send that does not
    /// wait (nearly all of them) reads no clock. `timing` goes to the
    /// transport (see SendTiming).
    void send(std::span<const Header> headers, std::string_view body,
              Clock::time_point deadline, Clock::duration maxWait,
              SendTiming timing = SendTiming::kNow) {
        sendUntil(
            headers, body, [&] { return std::min(deadline, Clock::now() + maxWait); }, timing);
    }

    void onWritable() {
        std::lock_guard lock(mutex_);
        writableGeneration_.fetch_add(1, std::memory_order_release);
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
    template <typename DeadlineFn>
    void sendUntil(std::span<const Header> headers, std::string_view body, DeadlineFn deadlineOf,
                   SendTiming timing = SendTiming::kNow) {
        // No copy of the shared_ptr and no lock: attach() published the
        // connection before any send, and connection_ keeps it alive for as
        // long as this channel, which the caller holds.
        Connection* c = raw_.load(std::memory_order_acquire);
        if (c == nullptr) throw Error(Code::kUnavailable, "connection is closed");
        std::optional<Clock::time_point> deadline;
        for (;;) {
            // Read the generation before trying, so a writable event that
            // lands between a full send and the wait is not lost. It only
            // changes under mutex_, so the wait below, which checks it under
            // mutex_, cannot miss an increment made after this read.
            std::uint64_t seen = writableGeneration_.load(std::memory_order_acquire);
            if (c->send(headers, body, timing)) return;
            if (inCallback()) {
                throw Error(Code::kResourceExhausted, "peer is not reading: its buffer is full");
            }
            if (!deadline) deadline = deadlineOf();
            std::unique_lock lock(mutex_);
            if (!writable_.wait_until(lock, *deadline, [&] {
                    return closed_ ||
                           writableGeneration_.load(std::memory_order_relaxed) != seen;
                })) {
                throw Error(Code::kDeadlineExceeded, "peer is not reading: send timed out");
            }
            if (closed_) throw Error(Code::kUnavailable, "connection is closed");
        }
    }

    mutable std::mutex mutex_;
    std::condition_variable writable_;
    static bool& inCallback() noexcept {
        thread_local bool flag = false;
        return flag;
    }

    std::shared_ptr<Connection> connection_;  // written once, by attach()
    std::atomic<Connection*> raw_{nullptr};     // connection_.get(), for senders
    // Written under mutex_; read without it before a send (see sendUntil).
    std::atomic<std::uint64_t> writableGeneration_{0};
    bool closed_ = false;
};

}  // namespace micro::rpc
