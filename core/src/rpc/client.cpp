#include <micro/client.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>

#include "discovery.hpp"
#include "peer.hpp"

namespace micro {

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t randomIndex(std::uint64_t n) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng);
}

// One call in progress across its attempts.
struct Attempts {
    ClientCall call;
    CallOptions options;
    std::string contentType;
    std::string body;
    std::string key;
    std::string address;
    int maxAttempts = 1;
    int attempt = 0;
    std::vector<std::string> tried;
    std::function<void(Response*, const Error*)> done;
};

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Client::Impl> {
    Transport& transport;
    ClientOptions options;
    std::unique_ptr<rpc::Discovery> discovery;
    std::vector<ClientMiddleware> middleware;
    std::atomic<std::uint64_t> roundRobin{0};

    std::mutex peersMutex;
    std::unordered_map<std::string, std::shared_ptr<rpc::Peer>> peers;

    struct Health {
        int failures = 0;
        Clock::time_point trippedUntil{};
    };
    std::mutex healthMutex;
    std::unordered_map<std::string, Health> health;

    // The timer thread: expires calls past their deadline and runs delayed
    // retries (backoff) off the transport's threads.
    std::mutex timerMutex;
    std::condition_variable timerWake;
    using Delayed = std::pair<Clock::time_point, std::function<void()>>;
    struct Later {
        bool operator()(const Delayed& a, const Delayed& b) const { return a.first > b.first; }
    };
    std::priority_queue<Delayed, std::vector<Delayed>, Later> delayed;
    bool stopping = false;
    std::thread timer;

    Impl(Runtime& rt, ClientOptions o) : transport(rt.transport()), options(o) {
        if (rt.has("registry")) {
            discovery = std::make_unique<rpc::Discovery>(rt.registry(), options.cacheTtl);
        }
        timer = std::thread([this] { timerLoop(); });
    }

    ~Impl() {
        {
            std::lock_guard lock(timerMutex);
            stopping = true;
        }
        timerWake.notify_all();
        // The last reference may be dropped by a completion running on the
        // timer thread itself; it cannot join itself, and it exits right after.
        if (timer.get_id() == std::this_thread::get_id()) {
            timer.detach();
        } else {
            timer.join();
        }
        std::unordered_map<std::string, std::shared_ptr<rpc::Peer>> open;
        {
            std::lock_guard lock(peersMutex);
            open.swap(peers);
        }
        for (auto& [address, peer] : open) peer->close();
    }

    void timerLoop() {
        std::unique_lock lock(timerMutex);
        while (!stopping) {
            timerWake.wait_for(lock, std::chrono::milliseconds(5));
            Clock::time_point now = Clock::now();
            std::vector<std::function<void()>> due;
            while (!delayed.empty() && delayed.top().first <= now) {
                due.push_back(std::move(const_cast<Delayed&>(delayed.top()).second));
                delayed.pop();
            }
            lock.unlock();
            for (auto& f : due) f();
            std::vector<std::shared_ptr<rpc::Peer>> snapshot;
            {
                std::lock_guard peersLock(peersMutex);
                for (auto& [address, peer] : peers) snapshot.push_back(peer);
            }
            for (auto& p : snapshot) p->expire(now);
            lock.lock();
        }
        // Whatever is still delayed fails now rather than never.
        while (!delayed.empty()) {
            auto f = std::move(const_cast<Delayed&>(delayed.top()).second);
            delayed.pop();
            lock.unlock();
            f();
            lock.lock();
        }
    }

    void later(Clock::time_point when, std::function<void()> f) {
        {
            std::lock_guard lock(timerMutex);
            if (!stopping) {
                delayed.emplace(when, std::move(f));
                return;
            }
        }
        f();
    }

    bool tripped(const std::string& address, Clock::time_point now) {
        std::lock_guard lock(healthMutex);
        auto it = health.find(address);
        return it != health.end() && it->second.trippedUntil > now;
    }
    void recordFailure(const std::string& address) {
        std::lock_guard lock(healthMutex);
        Health& h = health[address];
        if (++h.failures >= options.breakerFailures) {
            h.trippedUntil = Clock::now() + options.breakerCooldown;
        }
    }
    void recordSuccess(const std::string& address) {
        std::lock_guard lock(healthMutex);
        auto it = health.find(address);
        if (it != health.end()) health.erase(it);
    }

    std::shared_ptr<rpc::Peer> peer(const std::string& address) {
        {
            std::lock_guard lock(peersMutex);
            auto it = peers.find(address);
            if (it != peers.end() && !it->second->closed()) return it->second;
        }
        // Dial outside the lock: a slow node must not stall calls to others.
        auto fresh = rpc::Peer::dial(transport, address, options.dialTimeout);
        std::lock_guard lock(peersMutex);
        auto& slot = peers[address];
        if (slot && !slot->closed()) {
            fresh->close();
            return slot;
        }
        slot = fresh;
        return fresh;
    }

    std::string select(Attempts& a) {
        if (!a.address.empty()) return a.address;
        if (!discovery) {
            throw Error(Code::kFailedPrecondition,
                        "no [registry] in the manifest: pass CallOptions::address");
        }
        auto nodes = discovery->nodes(a.call.service);
        Clock::time_point now = Clock::now();
        std::vector<const rpc::NodeInfo*> candidates;
        auto gather = [&](bool skipTripped, bool skipTried) {
            candidates.clear();
            for (const auto& n : *nodes) {
                if (skipTried && std::find(a.tried.begin(), a.tried.end(), n.address) != a.tried.end())
                    continue;
                if (skipTripped && tripped(n.address, now)) continue;
                candidates.push_back(&n);
            }
        };
        gather(true, true);
        if (candidates.empty()) gather(false, true);
        if (candidates.empty()) gather(false, false);
        switch (options.selection) {
            case Selection::kRoundRobin:
                return candidates[roundRobin.fetch_add(1, std::memory_order_relaxed) %
                                  candidates.size()]
                    ->address;
            case Selection::kHash: {
                std::sort(candidates.begin(), candidates.end(),
                          [](auto* x, auto* y) { return x->id < y->id; });
                return candidates[std::hash<std::string>{}(a.key) % candidates.size()]->address;
            }
            case Selection::kRandom:
            default: return candidates[randomIndex(candidates.size())]->address;
        }
    }

    void finish(const std::shared_ptr<Attempts>& a, Response* r, const Error* e) {
        auto done = std::move(a->done);
        if (done) done(r, e);
    }

    // One attempt; on a retryable failure, schedules the next.
    void attempt(std::shared_ptr<Attempts> a) {
        ++a->attempt;
        std::string address;
        try {
            address = select(*a);
        } catch (const Error& e) {
            finish(a, nullptr, &e);
            return;
        }
        std::shared_ptr<rpc::Peer> p;
        try {
            p = peer(address);
        } catch (const Error& e) {
            rpc::Outcome o;
            o.code = Code::kUnavailable;
            o.detail = e.what();
            o.sent = false;
            onOutcome(a, address, std::move(o));
            return;
        }
        auto self = shared_from_this();
        p->call(a->call, [self, a, address](rpc::Outcome&& o) {
            self->onOutcome(a, address, std::move(o));
        });
    }

    void onOutcome(const std::shared_ptr<Attempts>& a, const std::string& address, rpc::Outcome&& o) {
        if (o.code == Code::kOk) {
            recordSuccess(address);
            finish(a, &o.response, nullptr);
            return;
        }
        bool transportFailure = !o.sent || o.notProcessed || o.connectionLost ||
                                (o.code == Code::kUnavailable && o.sent);
        if (transportFailure && !o.notProcessed) recordFailure(address);
        bool idempotent = a->options.idempotent ||
                          (discovery && discovery->idempotent(a->call.service, a->call.endpoint));
        bool retryable = !o.sent || o.notProcessed ||
                         (idempotent &&
                          (o.code == Code::kUnavailable || o.connectionLost));
        Clock::time_point now = Clock::now();
        if (retryable && a->attempt < a->maxAttempts && now < a->call.deadline &&
            o.code != Code::kDeadlineExceeded) {
            a->tried.push_back(address);
            // Exponential backoff with full jitter, never past the deadline.
            auto base = options.backoff * (1 << std::min(a->attempt - 1, 10));
            auto wait = std::chrono::milliseconds(
                randomIndex(static_cast<std::uint64_t>(std::max<std::int64_t>(base.count(), 1))));
            Clock::time_point when = std::min(now + wait, a->call.deadline);
            auto self = shared_from_this();
            later(when, [self, a] { self->attempt(a); });
            return;
        }
        Error e(o.code, o.detail.empty() ? codeName(o.code) : o.detail);
        finish(a, nullptr, &e);
    }

    std::shared_ptr<Attempts> prepare(std::string_view service, std::string_view endpoint,
                                      std::string_view body, const CallOptions& options) {
        auto a = std::make_shared<Attempts>();
        a->contentType.assign(options.contentType);
        a->body.assign(body);
        a->key.assign(options.key);
        a->address.assign(options.address);
        a->options = options;
        a->options.contentType = a->contentType;
        a->options.key = a->key;
        a->options.address = a->address;
        a->call.service.assign(service);
        a->call.endpoint.assign(endpoint);
        a->call.contentType = a->contentType;
        a->call.body = a->body;
        a->call.metadata = options.metadata;
        a->call.deadline = Clock::now() + options.timeout;
        a->maxAttempts = options.maxAttempts > 0 ? options.maxAttempts : this->options.maxAttempts;
        return a;
    }

    // The end of the middleware chain: every attempt, then the result.
    void invoke(ClientCall& call, const CallOptions& options) {
        auto a = prepare(call.service, call.endpoint, call.body, options);
        a->call.metadata = call.metadata;
        a->call.deadline = call.deadline;
        a->contentType = call.contentType;
        a->call.contentType = a->contentType;
        std::mutex m;
        std::condition_variable cv;
        bool finished = false;
        std::optional<Error> error;
        a->done = [&](Response* r, const Error* e) {
            std::lock_guard lock(m);
            if (r != nullptr) {
                call.response = std::move(r->body);
                call.responseMetadata = std::move(r->metadata);
            }
            if (e != nullptr) error.emplace(*e);
            finished = true;
            cv.notify_one();
        };
        attempt(a);
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return finished; });
        if (error) throw *error;
    }
};

Client::Client(Runtime& runtime, ClientOptions options)
    : impl_(std::make_shared<Impl>(runtime, options)) {}

Client::~Client() = default;

void Client::use(ClientMiddleware middleware) { impl_->middleware.push_back(std::move(middleware)); }

Response Client::call(std::string_view service, std::string_view endpoint, std::string_view body,
                      const CallOptions& options) {
    ClientCall call{std::string(service), std::string(endpoint), std::string(options.contentType),
                    body, options.metadata, Clock::now() + options.timeout, {}, {}};
    ClientHandler last = [this, &options](ClientCall& c) { impl_->invoke(c, options); };
    for (auto it = impl_->middleware.rbegin(); it != impl_->middleware.rend(); ++it) {
        last = [mw = *it, next = std::move(last)](ClientCall& c) { mw(c, next); };
    }
    last(call);
    return Response{std::move(call.response), call.contentType, std::move(call.responseMetadata)};
}

void Client::callAsync(std::string_view service, std::string_view endpoint, std::string_view body,
                       const CallOptions& options,
                       std::function<void(Response*, const Error*)> done) {
    auto a = impl_->prepare(service, endpoint, body, options);
    a->done = std::move(done);
    impl_->attempt(std::move(a));
}

Stream Client::stream(std::string_view service, std::string_view endpoint,
                      const CallOptions& options) {
    auto a = impl_->prepare(service, endpoint, {}, options);
    // A stream is opened once: retried only while the request has not left.
    for (;;) {
        ++a->attempt;
        std::string address = impl_->select(*a);
        try {
            auto p = impl_->peer(address);
            return Stream(p->openStream(a->call));
        } catch (const Error& e) {
            impl_->recordFailure(address);
            a->tried.push_back(address);
            if (a->attempt >= a->maxAttempts || Clock::now() >= a->call.deadline) throw;
        }
    }
}

}  // namespace micro
