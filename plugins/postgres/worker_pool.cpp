#include "worker_pool.hpp"

namespace micro::postgres {
namespace {
thread_local bool tOnWorker = false;
}

WorkerPool::WorkerPool(std::size_t threads) {
    threads_.reserve(threads);
    try {
        for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
    } catch (...) {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
        throw;
    }
}

WorkerPool::~WorkerPool() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) t.join();
}

bool WorkerPool::onWorkerThread() noexcept { return tOnWorker; }

void WorkerPool::push(std::unique_ptr<TaskBase> task) {
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(task));
    }
    wake_.notify_one();
}

void WorkerPool::loop() noexcept {
    tOnWorker = true;
    for (;;) {
        std::unique_ptr<TaskBase> task;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to run
            task = std::move(queue_.front());
            queue_.pop_front();
        }
        task->run();
    }
}

}  // namespace micro::postgres
