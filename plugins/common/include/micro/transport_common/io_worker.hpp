// micro/transport_common/io_worker.hpp — one io_context and the thread that
// runs it, with replies flushed once per delivered event.
//
// Contract
//   Threads: the constructor starts the thread; stop() (or the destructor)
//     lets it return once its work is done and joins it. A handler that
//     throws is dropped and the thread keeps serving the other connections.
//   Flushing: deferFlush(c) runs c->flush() (noexcept, on this thread) when
//     the outermost Scope on this thread ends, so every reply written while
//     one event is delivered leaves in one system call; outside any Scope
//     the flush is posted. Both only on this worker's thread.
//   Connection: any type with `void flush() noexcept`; it may be incomplete
//     where the worker is only named.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace micro::transport_common {

template <typename Connection>
class IoWorker {
 public:
    IoWorker() : work_(boost::asio::make_work_guard(context_)) {
        thread_ = std::thread([this] { run(); });
    }
    ~IoWorker() { stop(); }
    IoWorker(const IoWorker&) = delete;
    IoWorker& operator=(const IoWorker&) = delete;

    boost::asio::io_context& context() noexcept { return context_; }
    /// True on the thread that runs this worker.
    bool current() const noexcept { return tCurrent == this; }
    /// Let the thread return once its work is done, and join it.
    void stop() noexcept {
        work_.reset();
        context_.stop();
        if (thread_.joinable()) thread_.join();
    }

    /// Flush `connection` once the event running on this thread returns (or
    /// soon, when none is). Only on this worker's thread.
    void deferFlush(std::shared_ptr<Connection> connection) {
        if (depth_ > 0) {
            deferred_.push_back(std::move(connection));
        } else {
            boost::asio::post(context_, [c = std::move(connection)] { c->flush(); });
        }
    }

    /// Marks the delivery of events on this worker's thread: sends made
    /// meanwhile are flushed when the outermost scope ends.
    class Scope {
     public:
        explicit Scope(IoWorker& worker) noexcept : worker_(worker) { ++worker_.depth_; }
        ~Scope() {
            if (--worker_.depth_ == 0 && !worker_.deferred_.empty()) worker_.runDeferred();
        }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

     private:
        IoWorker& worker_;
    };

 private:
    void run() noexcept {
        tCurrent = this;
        for (;;) {
            try {
                context_.run();
                break;
            } catch (...) {
                // A handler threw: keep serving the other connections.
            }
        }
        tCurrent = nullptr;
    }

    void runDeferred() noexcept {
        // Flushes may run events (on_writable) whose sends defer again: keep
        // the depth up so those land in deferred_ and are picked up here.
        ++depth_;
        while (!deferred_.empty()) {
            running_.swap(deferred_);
            for (auto& c : running_) c->flush();
            running_.clear();
        }
        --depth_;
    }

    // The worker whose io_context this thread runs (null on other threads).
    static inline thread_local const IoWorker* tCurrent = nullptr;

    boost::asio::io_context context_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    int depth_ = 0;
    std::vector<std::shared_ptr<Connection>> deferred_, running_;
    std::thread thread_;
};

/// Told when a connection has delivered on_close (so the transport drops it).
template <typename Connection>
class ConnectionOwner {
 public:
    virtual void forget(Connection& connection) noexcept = 0;

 protected:
    ~ConnectionOwner() = default;
};

}  // namespace micro::transport_common
