#include "memory_sync.hpp"

#include "common.hpp"

namespace micro::memory {

namespace {

constexpr const char* kLock = "lock";
constexpr const char* kElection = "election";

std::string name(const char* what, std::string_view id) {
    return std::string(what) + " '" + printable(id) + "'";
}

}  // namespace

MemorySync::MemorySync(const driver::Context& ctx) {
    ctx.config.allowOnly({});
    timer_ = std::jthread([this](std::stop_token stop) { timer(stop); });
}

MemorySync::~MemorySync() {
    // Joined first, not as the last member: the waiters below are cancelled
    // with no timer left to settle them.
    timer_.request_stop();
    timer_.join();
    // No other thread touches the maps now ([control] call, timer joined).
    Outcomes outcomes;
    for (Space* space : {&locks_, &elections_}) {
        for (auto& [id, lease] : *space) {
            for (auto& w : lease.waiters) {
                outcomes.push_back(Outcome{std::move(w.done), Code::kCancelled,
                                           "the sync driver is shutting down", 0});
            }
            lease.waiters.clear();
        }
    }
    finish(outcomes);
}

void MemorySync::finish(Outcomes& outcomes) noexcept {
    for (auto& o : outcomes) {
        if (o.code == Code::kOk) {
            o.done.ok(o.value);
        } else {
            o.done.fail(o.code, o.message);
        }
    }
    outcomes.clear();
}

void MemorySync::wakeBy(Clock::time_point when) {
    if (when < timerWakes_) {
        timerWakes_ = when;
        wake_.notify_one();
    }
}

void MemorySync::grant(Lease& lease, std::string owner, std::int64_t ttlMs, Clock::time_point now) {
    lease.held = true;
    lease.owner = std::move(owner);
    lease.token = ++lastToken_;
    lease.expires = now + std::chrono::milliseconds(ttlMs);
    wakeBy(lease.expires);  // so the timer can pass it on, or forget it, when it ends
}

bool MemorySync::settle(Lease& lease, Clock::time_point now, const char* what, std::string_view id,
                        Outcomes& outcomes) {
    if (lease.held && lease.expires <= now) lease.held = false;
    for (auto it = lease.waiters.begin(); it != lease.waiters.end();) {
        if (it->deadline > now) {
            ++it;
            continue;
        }
        std::string message = "timed out waiting for " + name(what, id);
        if (lease.held) message += " (held by '" + printable(lease.owner) + "')";
        outcomes.push_back(
            Outcome{std::move(it->done), Code::kDeadlineExceeded, std::move(message), 0});
        it = lease.waiters.erase(it);
    }
    if (!lease.held && !lease.waiters.empty()) {
        Waiter& next = lease.waiters.front();
        grant(lease, std::move(next.owner), next.ttlMs, now);
        outcomes.push_back(Outcome{std::move(next.done), Code::kOk, {}, lease.token});
        lease.waiters.pop_front();
    }
    return lease.held || !lease.waiters.empty();
}

void MemorySync::acquire(Space& space, const char* what, const driver::LockRequest& request,
                         driver::Done& done) {
    if (request.id.empty())
        throw Error(Code::kInvalidArgument, std::string("empty ") + what + " id");
    if (request.ttlMs <= 0) {
        throw Error(Code::kInvalidArgument, name(what, request.id) + ": ttl_ms must be > 0, got " +
                                                std::to_string(request.ttlMs));
    }
    Outcomes outcomes;
    {
        std::lock_guard lock(mutex_);
        Clock::time_point now = Clock::now();
        auto it = space.find(request.id);
        if (it == space.end()) it = space.emplace(std::string(request.id), Lease{}).first;
        Lease& lease = it->second;
        settle(lease, now, what, request.id, outcomes);
        if (!lease.held) {
            grant(lease, std::string(request.owner), request.ttlMs, now);
            outcomes.push_back(Outcome{std::move(done), Code::kOk, {}, lease.token});
        } else if (request.waitMs == 0) {
            outcomes.push_back(Outcome{
                std::move(done), Code::kDeadlineExceeded,
                name(what, request.id) + " is held by '" + printable(lease.owner) + "'", 0});
        } else {
            Clock::time_point deadline = request.waitMs < 0
                                             ? Clock::time_point::max()
                                             : now + std::chrono::milliseconds(request.waitMs);
            lease.waiters.push_back(
                Waiter{std::string(request.owner), request.ttlMs, deadline, std::move(done)});
            wakeBy(deadline);
        }
    }
    finish(outcomes);
}

void MemorySync::release(Space& space, const char* what, std::string_view id, std::uint64_t token,
                         driver::Done& done) {
    Outcomes outcomes;
    bool released = false;
    {
        std::lock_guard lock(mutex_);
        auto it = space.find(id);
        if (it != space.end()) {
            Lease& lease = it->second;
            settle(lease, Clock::now(), what, id, outcomes);
            if (lease.held && lease.token == token) {
                lease.held = false;
                released = true;
            }
            // Hand it to the next waiter, or forget an idle entry.
            if (!settle(lease, Clock::now(), what, id, outcomes)) space.erase(it);
        }
    }
    finish(outcomes);
    if (released) {
        done.ok();
    } else {
        done.fail(Code::kNotFound,
                  name(what, id) + " is not held with token " + std::to_string(token));
    }
}

void MemorySync::lock(const driver::LockRequest& request, driver::Done& done) {
    acquire(locks_, kLock, request, done);
}

void MemorySync::unlock(std::string_view id, std::uint64_t token, driver::Done& done) {
    release(locks_, kLock, id, token, done);
}

void MemorySync::campaign(const driver::LockRequest& request, driver::Done& done) {
    acquire(elections_, kElection, request, done);
}

void MemorySync::resign(std::string_view election, std::uint64_t token, driver::Done& done) {
    release(elections_, kElection, election, token, done);
}

void MemorySync::renew(std::string_view id, std::uint64_t token, std::int64_t ttlMs,
                       driver::Done& done) {
    if (ttlMs <= 0) {
        throw Error(Code::kInvalidArgument,
                    name(kLock, id) + ": ttl_ms must be > 0, got " + std::to_string(ttlMs));
    }
    Outcomes outcomes;
    bool renewed = false;
    {
        std::lock_guard lock(mutex_);
        auto it = locks_.find(id);
        if (it != locks_.end()) {
            Lease& lease = it->second;
            Clock::time_point now = Clock::now();
            bool alive = settle(lease, now, kLock, id, outcomes);
            if (lease.held && lease.token == token) {
                lease.expires = now + std::chrono::milliseconds(ttlMs);
                wakeBy(lease.expires);
                renewed = true;
            } else if (!alive) {
                locks_.erase(it);
            }
        }
    }
    finish(outcomes);
    if (renewed) {
        done.ok();
    } else {
        done.fail(Code::kNotFound,
                  name(kLock, id) + " is not held with token " + std::to_string(token));
    }
}

void MemorySync::leader(std::string_view election, driver::StringSink& out, driver::Done& done) {
    Outcomes outcomes;
    std::string owner;
    std::uint64_t token = 0;
    {
        std::lock_guard lock(mutex_);
        auto it = elections_.find(election);
        if (it != elections_.end()) {
            Lease& lease = it->second;
            if (settle(lease, Clock::now(), kElection, election, outcomes) && lease.held) {
                owner = lease.owner;
                token = lease.token;
            } else if (!lease.held && lease.waiters.empty()) {
                elections_.erase(it);
            }
        }
    }
    finish(outcomes);
    if (token == 0) {
        done.fail(Code::kNotFound, name(kElection, election) + " has no leader");
        return;
    }
    out.emit(owner);
    done.ok(token);
}

void MemorySync::timer(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    Outcomes outcomes;
    while (!stop.stop_requested()) {
        Clock::time_point now = Clock::now();
        Clock::time_point next = Clock::time_point::max();
        for (auto [space, what] : {std::pair{&locks_, kLock}, std::pair{&elections_, kElection}}) {
            for (auto it = space->begin(); it != space->end();) {
                Lease& lease = it->second;
                if (!settle(lease, now, what, it->first, outcomes)) {
                    it = space->erase(it);  // expired and nobody waits: forget it
                    continue;
                }
                if (lease.held && lease.expires < next) next = lease.expires;
                for (const auto& w : lease.waiters) {
                    if (w.deadline < next) next = w.deadline;
                }
                ++it;
            }
        }
        timerWakes_ = next;
        if (!outcomes.empty()) {
            lock.unlock();
            finish(outcomes);
            lock.lock();
            continue;
        }
        // Only wakeBy notifies, and only when it moves timerWakes_ earlier.
        auto moved = [&] { return timerWakes_ != next; };
        if (next == Clock::time_point::max()) {
            wake_.wait(lock, stop, moved);
        } else {
            wake_.wait_until(lock, stop, next, moved);
        }
    }
}

}  // namespace micro::memory
