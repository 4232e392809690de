// micro::driver::WorkerPool: FIFO order, inline re-entry from its own
// workers, the per-thread start hook, and a destructor that runs what is
// queued (even what queued tasks queue while it waits) before it returns;
// one-at-a-time wake-ups that still give every task of a burst a worker,
// and the queued() hint.
#include <micro/driver/worker_pool.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using micro::driver::WorkerPool;

TEST_CASE("worker pool: one worker runs tasks in the order they were queued") {
    std::vector<int> order;
    {
        WorkerPool pool(1);
        std::promise<void> gate;
        auto opened = gate.get_future().share();
        pool.post([opened] { opened.wait(); });  // hold the worker while the rest queue
        for (int i = 0; i < 100; ++i) pool.post([&order, i] { order.push_back(i); });
        gate.set_value();
    }
    REQUIRE(order.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("worker pool: submit from its own worker runs inline, post queues") {
    WorkerPool pool(1);
    std::promise<std::thread::id> inner;
    std::promise<bool> insideWorker;
    pool.post([&] {
        insideWorker.set_value(pool.onWorkerThread());
        // With a single worker, a queued task could only run after this one:
        // inline is the only way this completes.
        std::promise<void> ran;
        pool.submit([&] {
            inner.set_value(std::this_thread::get_id());
            ran.set_value();
        });
        ran.get_future().wait();
    });
    CHECK(insideWorker.get_future().get());
    CHECK(inner.get_future().get() != std::this_thread::get_id());
    CHECK_FALSE(pool.onWorkerThread());
}

TEST_CASE("worker pool: another pool's worker is not this pool's") {
    WorkerPool a(1), b(1);
    std::promise<std::pair<bool, bool>> seen;
    a.post([&] { seen.set_value({a.onWorkerThread(), b.onWorkerThread()}); });
    auto [onA, onB] = seen.get_future().get();
    CHECK(onA);
    CHECK_FALSE(onB);
}

TEST_CASE("worker pool: the start hook runs once on each worker before its tasks") {
    std::mutex m;
    std::vector<std::thread::id> started;
    std::atomic<int> tasksBeforeStart{0};
    {
        WorkerPool pool(3, [&] {
            std::lock_guard lock(m);
            started.push_back(std::this_thread::get_id());
        });
        for (int i = 0; i < 30; ++i) {
            pool.post([&] {
                std::lock_guard lock(m);
                bool known = false;
                for (auto id : started) known = known || id == std::this_thread::get_id();
                if (!known) ++tasksBeforeStart;
            });
        }
    }
    CHECK(started.size() == 3);
    CHECK(tasksBeforeStart == 0);
}

TEST_CASE("worker pool: the destructor runs every queued task, and what they queue") {
    auto count = std::make_shared<std::atomic<int>>(0);
    {
        WorkerPool pool(2);
        for (int i = 0; i < 50; ++i) {
            pool.post([count, &pool] {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                ++*count;
                pool.post([count] { ++*count; });
            });
        }
    }
    CHECK(*count == 100);
}

TEST_CASE("worker pool: every task of a burst gets a worker while the others block") {
    // Each task waits until all kThreads of its round have started: a round
    // completes only if no task waits behind a running one. Bursts of posts
    // from this thread race workers that finish and take the next task
    // themselves, which must never leave a queued task without a worker.
    constexpr int kThreads = 4;
    constexpr int kRounds = 300;
    WorkerPool pool(kThreads);
    for (int round = 0; round < kRounds; ++round) {
        CAPTURE(round);
        auto started = std::make_shared<std::atomic<int>>(0);
        std::vector<std::future<void>> done;
        for (int i = 0; i < kThreads; ++i) {
            auto finished = std::make_shared<std::promise<void>>();
            done.push_back(finished->get_future());
            pool.post([started, finished] {
                started->fetch_add(1);
                const auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(10);
                while (started->load() < kThreads && std::chrono::steady_clock::now() < giveUp) {
                    std::this_thread::yield();
                }
                finished->set_value();
            });
        }
        for (auto& f : done)
            REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
        REQUIRE(started->load() == kThreads);
    }
}

TEST_CASE("worker pool: queued() counts the tasks not yet started") {
    WorkerPool pool(1);
    std::promise<void> gate;
    auto opened = gate.get_future().share();
    std::promise<void> running;
    pool.post([&running, opened] {
        running.set_value();
        opened.wait();
    });
    running.get_future().wait();
    CHECK(pool.queued() == 0);
    std::promise<void> last;
    pool.post([] {});
    pool.post([] {});
    pool.post([&last] { last.set_value(); });
    CHECK(pool.queued() == 3);
    gate.set_value();
    last.get_future().wait();
    CHECK(pool.queued() == 0);
}
