// plugins/redis/worker_pool.hpp — the driver's own threads for blocking I/O.
//
// Store calls are [non-blocking] at the ABI, while hiredis is synchronous:
// the driver queues each call here and a worker does the network round
// trips and completes the call.
//
// Contract
//   Threads: `threads` workers, started by the constructor; each blocks
//     SIGPIPE in its signal mask (see sigpipe.hpp). submit() is thread-safe.
//   Order: tasks start in submission order (FIFO), several at a time.
//   Re-entrancy: a task submitted from one of this pool's own workers (a
//     sink or completion that calls back into the store) runs inline, at
//     once, on that worker, so callbacks that block on a nested call cannot
//     deadlock the pool by waiting for a free worker.
//   Shutdown: the destructor runs every task already queued, then joins the
//     workers; after it returns no worker thread exists.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace micro::redis {

/// A move-only `void()` callable (std::function needs copyable targets, and
/// a task owns a completion that can only be moved).
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
    explicit WorkerPool(std::size_t threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// Run `task` on a worker (inline when called from one of them).
    void submit(Task task);
    /// Queue `task` for a worker, even when called from one (for a hand-off
    /// that must not run on the calling thread).
    void post(Task task);
    /// True on one of this pool's own workers.
    bool onWorkerThread() const noexcept;

 private:
    void loop();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> queue_;
    bool stop_ = false;
    std::vector<std::thread> threads_;  // last: started after the rest exists
};

}  // namespace micro::redis
