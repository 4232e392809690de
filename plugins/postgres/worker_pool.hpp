// plugins/postgres/worker_pool.hpp — the driver's own threads, on which
// the blocking database work of the [non-blocking] store calls runs.
//
// Contract
//   submit(f) queues `f` (a move-only callable, run exactly once) and
//     returns at once; one of `threads` workers runs it in FIFO order.
//     `f` must not throw (the store wraps each call so it completes its
//     Done whatever happens).
//   onWorkerThread() is true on a worker of any WorkerPool: the store runs
//     calls made from its own workers (a sink or completion calling back
//     into the store) inline instead of queueing them, so a callback that
//     blocks on a nested call can never wait for a worker it occupies.
//   The destructor runs every task already queued, then joins the workers:
//     after it returns no worker thread exists.
//   Threads: submit() is thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace micro::postgres {

class WorkerPool {
 public:
    explicit WorkerPool(std::size_t threads);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    template <typename F>
    void submit(F f) {
        push(std::make_unique<Task<F>>(std::move(f)));
    }

    static bool onWorkerThread() noexcept;

 private:
    struct TaskBase {
        virtual ~TaskBase() = default;
        virtual void run() noexcept = 0;
    };
    template <typename F>
    struct Task final : TaskBase {
        explicit Task(F f) : fn(std::move(f)) {}
        void run() noexcept override { fn(); }
        F fn;
    };

    void push(std::unique_ptr<TaskBase> task);
    void loop() noexcept;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::unique_ptr<TaskBase>> queue_;  // guarded by mutex_
    bool stopping_ = false;                        // guarded by mutex_
    std::vector<std::thread> threads_;
};

}  // namespace micro::postgres
