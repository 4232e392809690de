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
//   Wake-ups: a queued task never waits behind a running one while a worker
//     sleeps, but workers are woken one at a time (each one that takes a
//     task with more left wakes the next), so a burst that an awake worker
//     drains costs no wake-up per task.
//   Load: queued() counts the tasks not yet started, without the lock.
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

#include <atomic>
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
        bool wake = false;
        {
            std::lock_guard lock(mutex_);
            queue_.emplace_back(std::forward<F>(task));
            queued_.store(queue_.size(), std::memory_order_relaxed);
            wake = claimWake();
        }
        if (wake) wake_.notify_one();
    }

    /// True on one of this pool's own workers.
    bool onWorkerThread() const noexcept { return current() == this; }

    /// Tasks queued and not yet started, as of a moment ago: a hint of load
    /// (more work follows), read without the lock.
    std::size_t queued() const noexcept { return queued_.load(std::memory_order_relaxed); }

 private:
    static const WorkerPool*& current() noexcept {
        static thread_local const WorkerPool* pool = nullptr;
        return pool;
    }

    // One worker woken at a time: a burst of posts wakes one sleeper, and
    // each worker that takes a task with more left behind wakes the next.
    // Every queued task still finds a worker without waiting for a running
    // one (a handler may block), but a burst that one awake worker drains
    // costs no wake-up per task: on few CPUs those context switches, not
    // the tasks, were the pool's cost. Under mutex_.
    bool claimWake() noexcept {
        if (sleeping_ == 0 || wakePending_ || queue_.empty()) return false;
        wakePending_ = true;
        return true;
    }

    void loop(std::stop_token stop) noexcept {
        current() = this;
        if (onStart_) onStart_();
        for (;;) {
            Task task;
            bool wakeNext = false;
            {
                std::unique_lock lock(mutex_);
                if (queue_.empty()) {
                    ++sleeping_;
                    wake_.wait(lock, stop, [this] {
                        // Whoever is notified wakes here, and may find the
                        // task taken by a running worker: the wake is spent
                        // either way, and the next post must wake again.
                        wakePending_ = false;
                        return !queue_.empty();
                    });
                    --sleeping_;
                }
                if (queue_.empty()) return;  // stopping, and nothing left to run
                task = std::move(queue_.front());
                queue_.pop_front();
                queued_.store(queue_.size(), std::memory_order_relaxed);
                wakeNext = claimWake();
            }
            if (wakeNext) wake_.notify_one();
            task();
        }
    }

    const std::function<void()> onStart_;
    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<Task> queue_;              // guarded by mutex_
    std::atomic<std::size_t> queued_{0};  // queue_.size(), written under mutex_
    std::size_t sleeping_ = 0;            // workers waiting on wake_; under mutex_
    bool wakePending_ = false;  // notified, and no sleeper has returned since; under mutex_
    std::vector<std::jthread> threads_;  // last: started once the rest exists
};

}  // namespace micro::driver
