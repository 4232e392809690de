#include "worker_pool.hpp"

#include "sigpipe.hpp"

namespace micro::redis {

namespace {
// The pool whose worker is running on this thread, if any.
thread_local const WorkerPool* t_pool = nullptr;
}  // namespace

WorkerPool::WorkerPool(std::size_t threads) {
    threads_.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
    } catch (...) {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
        throw;
    }
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
}

void WorkerPool::submit(Task task) {
    if (t_pool == this) {
        task();
        return;
    }
    post(std::move(task));
}

void WorkerPool::post(Task task) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(task));
    }
    wake_.notify_one();
}

bool WorkerPool::onWorkerThread() const noexcept { return t_pool == this; }

void WorkerPool::loop() {
    t_pool = this;
    blockSigpipeInThisThread();
    for (;;) {
        Task task;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to run
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task();  // tasks complete their own calls and never throw
    }
}

}  // namespace micro::redis
