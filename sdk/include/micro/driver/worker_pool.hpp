// micro/driver/worker_pool.hpp — a fixed set of threads that run queued
// tasks, for drivers whose client library blocks (hiredis, libpq) behind
// the [non-blocking] calls of the ABI, and for the core's handler threads.
//
// Contract
//   Threads: the constructor starts `threads` workers (at least one); each
//     runs `onStart` (if given) before its first task, for per-thread set-up
//     such as a signal mask. post() and submit() are thread-safe.
//   Order: tasks start in the order they were queued (FIFO), several at a
//     time when there are several workers.
//   Tasks: any move-only `void()` callable, run exactly once. A task must
//     not throw: one that does ends the process (std::terminate), as a
//     std::jthread body would.
//   Re-entrancy: submit() from one of this pool's own workers runs the task
//     inline, at once, so a callback that blocks on a nested call cannot
//     deadlock the pool by waiting for the worker it occupies. post() always
//     queues.
//   Shutdown: the destructor lets the workers finish every task already
//     queued, then joins them; after it returns no worker thread exists.
//     Tasks queued by running tasks during shutdown are run too.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace micro::driver {

/// A move-only `void()` callable (std::function needs copyable targets, and
/// a task often owns a completion that can only be moved).
class Task {
 public:
    Task() = default;
    template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, Task>) explicit Task(F&& f)
        : body_(std::make_unique<Model<std::decay_t<F>>>(std::forward<F>(f))) {}
    void operator()() { body_->run(); }
    explicit operator bool() const noexcept { return body_ != nullptr; }

 private:
    struct Concept {
        virtual ~Concept() = default;
        virtual void run() = 0;
    };
    template <typename F>
    struct Model final : Concept {
        explicit Model(F&& f) : fn(std::move(f)) {}
        void run() override { fn(); }
        F fn;
    };
    std::unique_ptr<Concept> body_;
};

class WorkerPool {
 public:
    explicit WorkerPool(std::size_t threads, std::function<void()> onStart = {})
        : onStart_(std::move(onStart)) {
        if (threads == 0) threads = 1;
        threads_.reserve(threads);
        // A thread that fails to start leaves the ones already started to
        // the jthreads' destructors: they stop and join.
        for (std::size_t i = 0; i < threads; ++i) {
            threads_.emplace_back([this](std::stop_token stop) { loop(stop); });
        }
    }
    ~WorkerPool() {
        for (auto& t : threads_) t.request_stop();
        threads_.clear();  // joins, once the queue is empty
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Run `task` on a worker; inline when called from one of this pool's.
    template <typename F>
    void submit(F&& task) {
        if (onWorkerThread()) {
            task();
            return;
        }
        post(std::forward<F>(task));
    }

    /// Queue `task` for a worker, even when called from one (a hand-off that
    /// must not run on the calling thread).
    template <typename F>
    void post(F&& task) {
        {
            std::lock_guard lock(mutex_);
            queue_.emplace_back(std::forward<F>(task));
        }
        wake_.notify_one();
    }

    /// True on one of this pool's own workers.
    bool onWorkerThread() const noexcept { return current() == this; }

 private:
    static const WorkerPool*& current() noexcept {
        static thread_local const WorkerPool* pool = nullptr;
        return pool;
    }

    void loop(std::stop_token stop) noexcept {
        current() = this;
        if (onStart_) onStart_();
        for (;;) {
            Task task;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, stop, [this] { return !queue_.empty(); });
                if (queue_.empty()) return;  // stopping, and nothing left to run
                task = std::move(queue_.front());
                queue_.pop_front();
            }
            task();
        }
    }

    const std::function<void()> onStart_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<Task> queue_;             // guarded by mutex_
    std::vector<std::jthread> threads_;  // last: started once the rest exists
};

}  // namespace micro::driver
