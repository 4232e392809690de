// Sync conformance: leased locks with fencing tokens, and leader election.
#include "conformance.hpp"

#include <micro/sync.hpp>

#include <atomic>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;

namespace {

micro::Sync& locks() { return conformance::runtime().sync(); }

micro::LockOptions opts(std::chrono::milliseconds ttl, std::chrono::milliseconds wait,
                        std::string_view owner = "conformance") {
    micro::LockOptions o;
    o.ttl = ttl;
    o.wait = wait;
    o.owner = owner;
    return o;
}

// Waits long enough for any test, yet never forever: a broken driver fails
// the test instead of hanging the run.
constexpr std::chrono::milliseconds kLongWait = 30s;

}  // namespace

TEST_SUITE("sync") {
    TEST_CASE("sync: a lock excludes every other holder (8 threads, no lost increment)") {
        constexpr int kThreads = 8;
        constexpr int kRounds = 200;
        const std::string id = unique("mutex");
        int counter = 0;  // deliberately not atomic: the lock protects it
        std::atomic<bool> inside{false};
        std::atomic<int> overlaps{0};
        // Tokens in acquisition order. Slots are claimed atomically so that a
        // driver that breaks exclusion fails the checks instead of crashing.
        std::vector<std::uint64_t> tokens(kThreads * kRounds);
        std::atomic<std::size_t> nextToken{0};
        std::vector<std::string> errors(kThreads);
        std::latch start(kThreads);  // all threads contend from the first round
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                const std::string owner = "thread-" + std::to_string(t);
                start.arrive_and_wait();
                try {
                    for (int i = 0; i < kRounds; ++i) {
                        const micro::Lease lease = locks().lock(id, opts(30s, kLongWait, owner));
                        if (inside.exchange(true)) ++overlaps;
                        const int seen = counter;
                        std::this_thread::yield();  // widen the window for a second holder
                        counter = seen + 1;
                        const std::size_t slot = nextToken.fetch_add(1);
                        if (slot < tokens.size()) tokens[slot] = lease.token;
                        inside.store(false);
                        locks().unlock(lease);
                    }
                } catch (const micro::Error& e) {
                    errors[t] = e.describe();
                } catch (const std::exception& e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto& th : threads) th.join();
        for (const auto& e : errors) CHECK(e == "");
        CHECK(overlaps.load() == 0);
        CHECK(counter == kThreads * kRounds);
        REQUIRE(nextToken.load() == tokens.size());
        bool increasing = true;
        for (std::size_t i = 1; i < tokens.size(); ++i)
            if (tokens[i] <= tokens[i - 1]) increasing = false;
        CHECK_MESSAGE(increasing, "fencing tokens must grow strictly with every acquisition");
    }

    TEST_CASE("sync: lock, unlock and lease report the id, unlocking twice is NOT_FOUND") {
        const std::string id = unique("basic");
        const micro::Lease lease = locks().lock(id, opts(10s, 0ms));
        CHECK(lease.id == id);
        CHECK(lease.token > 0);
        CHECK_CODE(locks().unlock(lease), Code::kOk);
        CHECK_CODE(locks().unlock(lease), Code::kNotFound);
        const micro::Lease again = locks().lock(id, opts(10s, 0ms));
        CHECK(again.token > lease.token);
        locks().unlock(again);
    }

    TEST_CASE("sync: trying a held lock with wait 0 is DEADLINE_EXCEEDED") {
        const std::string id = unique("trylock");
        const micro::Lease held = locks().lock(id, opts(10s, 0ms, "holder"));
        CHECK_CODE(locks().lock(id, opts(10s, 0ms, "other")), Code::kDeadlineExceeded);
        locks().unlock(held);
    }

    TEST_CASE("sync: waiting for a held lock with a timeout is DEADLINE_EXCEEDED when it ends") {
        const std::string id = unique("timeout");
        const micro::Lease held = locks().lock(id, opts(10s, 0ms, "holder"));
        const auto start = std::chrono::steady_clock::now();
        CHECK_CODE(locks().lock(id, opts(10s, 200ms, "other")), Code::kDeadlineExceeded);
        CHECK(std::chrono::steady_clock::now() - start < 5s);  // generous upper bound
        locks().unlock(held);
    }

    TEST_CASE("sync: a waiting locker gets the lock once it is unlocked, with a larger token") {
        const std::string id = unique("handoff");
        const micro::Lease first = locks().lock(id, opts(10s, 0ms, "first"));
        std::future<micro::Lease> second = std::async(
            std::launch::async, [&] { return locks().lock(id, opts(10s, kLongWait, "second")); });
        // It must not get the lock while the first holds it.
        CHECK(second.wait_for(200ms) == std::future_status::timeout);
        locks().unlock(first);
        REQUIRE(second.wait_for(conformance::kTimeout) == std::future_status::ready);
        const micro::Lease lease = second.get();
        CHECK(lease.token > first.token);
        locks().unlock(lease);
    }

    TEST_CASE("sync: a lease not renewed within its TTL frees the lock for another locker") {
        const std::string id = unique("lease-expiry");
        const micro::Lease lost = locks().lock(id, opts(200ms, 0ms, "lost"));
        const auto start = std::chrono::steady_clock::now();
        micro::Lease next;
        CHECK_CODE(next = locks().lock(id, opts(10s, 2s, "next")), Code::kOk);
        CHECK(std::chrono::steady_clock::now() - start < 3s);  // generous upper bound
        CHECK(next.token > lost.token);

        // The expired lease is gone: renew and unlock say NOT_FOUND, and the
        // new holder keeps the lock.
        CHECK_CODE(locks().renew(lost, 10s), Code::kNotFound);
        CHECK_CODE(locks().unlock(lost), Code::kNotFound);
        CHECK_CODE(locks().lock(id, opts(10s, 0ms, "third")), Code::kDeadlineExceeded);
        if (next.token != 0) locks().unlock(next);
    }

    TEST_CASE("sync: renewing a lease keeps the lock past its original TTL") {
        const std::string id = unique("renew");
        const micro::Lease lease = locks().lock(id, opts(300ms, 0ms, "renewer"));
        for (int i = 0; i < 7; ++i) {  // 700 ms in all, over twice the TTL
            std::this_thread::sleep_for(100ms);
            CHECK_CODE(locks().renew(lease, 300ms), Code::kOk);
        }
        CHECK_CODE(locks().lock(id, opts(10s, 0ms, "other")), Code::kDeadlineExceeded);
        CHECK_CODE(locks().unlock(lease), Code::kOk);
    }

    TEST_CASE("sync: unlocking with a stale lease is NOT_FOUND and leaves the holder alone") {
        const std::string id = unique("stale");
        const micro::Lease old = locks().lock(id, opts(10s, 0ms, "old"));
        locks().unlock(old);
        const micro::Lease current = locks().lock(id, opts(10s, 0ms, "current"));
        CHECK_CODE(locks().unlock(old), Code::kNotFound);
        CHECK_CODE(locks().renew(old, 10s), Code::kNotFound);
        CHECK_CODE(locks().lock(id, opts(10s, 0ms, "other")), Code::kDeadlineExceeded);
        CHECK_CODE(locks().unlock(current), Code::kOk);
    }

    TEST_CASE("sync: one candidate leads, after it resigns the waiting one wins") {
        const std::string election = unique("election");
        CHECK_FALSE(locks().leader(election).has_value());

        const micro::Lease a = locks().campaign(election, opts(10s, 0ms, "candidate-a"));
        CHECK(a.id == election);
        std::optional<micro::Leader> leader = locks().leader(election);
        REQUIRE(leader.has_value());
        CHECK(leader->owner == "candidate-a");
        CHECK(leader->token == a.token);

        CHECK_CODE(locks().campaign(election, opts(10s, 0ms, "candidate-b")),
                   Code::kDeadlineExceeded);
        std::future<micro::Lease> b = std::async(std::launch::async, [&] {
            return locks().campaign(election, opts(10s, kLongWait, "candidate-b"));
        });
        CHECK(b.wait_for(200ms) == std::future_status::timeout);  // a still leads
        leader = locks().leader(election);
        REQUIRE(leader.has_value());
        CHECK(leader->owner == "candidate-a");

        CHECK_CODE(locks().resign(a), Code::kOk);
        REQUIRE(b.wait_for(conformance::kTimeout) == std::future_status::ready);
        const micro::Lease bLease = b.get();
        CHECK(bLease.token > a.token);
        leader = locks().leader(election);
        REQUIRE(leader.has_value());
        CHECK(leader->owner == "candidate-b");
        CHECK(leader->token == bLease.token);

        CHECK_CODE(locks().resign(bLease), Code::kOk);
        CHECK_FALSE(locks().leader(election).has_value());
    }
}
