#include "memory_broker.hpp"

#include <algorithm>

#include "common.hpp"

namespace micro::memory {

/// A message kept while it waits (queued behind a busy delivery, or until a
/// manual ack), with how often it was redelivered.
struct MemoryBroker::OwnedMessage : driver::OwnedMessage {
    std::uint32_t redeliveries = 0;  // guarded by the subscription's mutex

    OwnedMessage(const micro_message& m, std::uint32_t redelivered)
        : driver::OwnedMessage(m), redeliveries(redelivered) {}
};

struct MemoryBroker::Subscription {
    std::string topic;
    std::string group;
    bool manualAck = false;
    micro_message_handler handler{};

    std::mutex mutex;  // guards everything below
    std::condition_variable idle;
    bool active = true;
    bool busy = false;          // a thread is delivering (handler running or draining)
    std::thread::id deliverer;  // which thread, to spot misuse from inside the handler
    std::deque<std::shared_ptr<OwnedMessage>> queue;
    std::unordered_map<std::uint64_t, std::shared_ptr<OwnedMessage>> unacked;
};

namespace {

std::uint32_t configCount(const driver::Config& config, std::string_view key, std::int64_t fallback,
                          std::int64_t min) {
    std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > std::int64_t{UINT32_MAX}) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be between " +
                                                std::to_string(min) + " and " +
                                                std::to_string(UINT32_MAX));
    }
    return static_cast<std::uint32_t>(v);
}

}  // namespace

MemoryBroker::MemoryBroker(const driver::Context& ctx) {
    ctx.config.allowOnly({"max_redeliveries", "max_pending"});
    maxRedeliveries_ = configCount(ctx.config, "max_redeliveries", 0, 0);
    maxPending_ = configCount(ctx.config, "max_pending", 65536, 1);
}

MemoryBroker::~MemoryBroker() = default;

void MemoryBroker::call(Subscription& sub, const micro_message& message, std::uint32_t redeliveries,
                        std::unique_lock<std::mutex>& lock, std::shared_ptr<OwnedMessage> owned) {
    for (;;) {
        std::uint64_t id = nextDeliveryId_.fetch_add(1, std::memory_order_relaxed);
        if (sub.manualAck) {
            if (!owned) owned = std::make_shared<OwnedMessage>(message, redeliveries);
            sub.unacked.emplace(id, owned);
        }
        lock.unlock();
        micro_code code = sub.handler.fn(sub.handler.ctx, &message, id);
        lock.lock();
        if (!sub.active || sub.manualAck || code == MICRO_OK) return;
        if (redeliveries >= maxRedeliveries_) return;  // nacked too often: drop
        ++redeliveries;
    }
}

void MemoryBroker::drain(Subscription& sub, std::unique_lock<std::mutex>& lock) {
    while (sub.active && !sub.queue.empty()) {
        std::shared_ptr<OwnedMessage> next = std::move(sub.queue.front());
        sub.queue.pop_front();
        micro_message view = next->view();
        call(sub, view, next->redeliveries, lock, next);
    }
}

MemoryBroker::Handed MemoryBroker::deliver(Subscription& sub, const micro_message& message) {
    std::unique_lock lock(sub.mutex);
    if (!sub.active) return Handed::kGone;
    if (sub.busy) {
        // Another delivery is running (on another thread, or further up this
        // thread's stack): leave the message for that deliverer, never wait,
        // so re-entrant publishes cannot deadlock.
        if (sub.queue.size() >= maxPending_) return Handed::kFull;
        sub.queue.push_back(std::make_shared<OwnedMessage>(message, 0));
        return Handed::kDelivered;
    }
    run(sub, lock, &message);
    return Handed::kDelivered;
}

void MemoryBroker::run(Subscription& sub, std::unique_lock<std::mutex>& lock,
                       const micro_message* first) {
    sub.busy = true;
    sub.deliverer = std::this_thread::get_id();
    // Clear `busy` even if copying a message throws (out of memory), or
    // unsubscribe would wait forever.
    struct Release {
        Subscription& sub;
        ~Release() {
            sub.busy = false;
            sub.deliverer = {};
            sub.idle.notify_all();
        }
    } release{sub};
    if (first != nullptr) call(sub, *first, 0, lock, nullptr);
    drain(sub, lock);
}

void MemoryBroker::publish(const micro_message& message, driver::Done& done) {
    std::string_view topic = abi::view(message.topic);
    std::shared_ptr<const Route> route;
    {
        std::shared_lock lock(topicsMutex_);
        auto it = routes_.find(topic);
        if (it != routes_.end()) route = it->second;
    }
    std::size_t reached = 0;
    bool full = false;
    if (route) {
        for (const auto& sub : route->everyone) {
            Handed h = deliver(*sub, message);
            reached += h == Handed::kDelivered;
            full = full || h == Handed::kFull;
        }
        for (const auto& group : route->groups) {
            std::size_t n = group->members.size();
            std::uint64_t start = group->next.fetch_add(1, std::memory_order_relaxed);
            Handed h = Handed::kGone;
            // Skip members on their way out or with a full queue; one
            // delivery per group at most.
            for (std::size_t k = 0; k < n && h != Handed::kDelivered; ++k) {
                h = deliver(*group->members[(start + k) % n], message);
            }
            reached += h == Handed::kDelivered;
            full = full || h == Handed::kFull;
        }
    }
    if (full) {
        done.fail(Code::kResourceExhausted, "a subscriber of topic '" + printable(topic) +
                                                "' has " + std::to_string(maxPending_) +
                                                " messages waiting (max_pending)");
    } else if (reached == 0) {
        done.fail(Code::kNotFound, "no subscriber for topic '" + printable(topic) + "'");
    } else {
        done.ok();
    }
}

void MemoryBroker::rebuildRoute(const std::string& topic) {
    auto subs = subscribers_.find(topic);
    if (subs == subscribers_.end() || subs->second.empty()) {
        if (subs != subscribers_.end()) subscribers_.erase(subs);
        routes_.erase(topic);
        return;
    }
    auto route = std::make_shared<Route>();
    std::map<std::string_view, Route::Group*> byName;
    for (const auto& sub : subs->second) {
        if (sub->group.empty()) {
            route->everyone.push_back(sub);
            continue;
        }
        auto& group = byName[sub->group];
        if (group == nullptr) {
            route->groups.push_back(std::make_unique<Route::Group>());
            group = route->groups.back().get();
        }
        group->members.push_back(sub);
    }
    routes_.insert_or_assign(topic, std::move(route));
}

void* MemoryBroker::subscribe(const driver::SubscribeRequest& request,
                              micro_message_handler handler) {
    if (request.topic.empty()) throw Error(Code::kInvalidArgument, "empty topic");
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no handler function");
    if (request.ackMode != MICRO_ACK_AUTO && request.ackMode != MICRO_ACK_MANUAL) {
        throw Error(Code::kInvalidArgument, "unknown ack mode " + std::to_string(request.ackMode));
    }
    auto sub = std::make_shared<Subscription>();
    sub->topic = request.topic;
    sub->group = request.group;
    sub->manualAck = request.ackMode == MICRO_ACK_MANUAL;
    sub->handler = handler;
    std::unique_lock lock(topicsMutex_);
    subscribers_[sub->topic].push_back(sub);
    rebuildRoute(sub->topic);
    handles_.emplace(sub.get(), sub);
    return sub.get();
}

void MemoryBroker::unsubscribe(void* handle) noexcept {
    SubscriptionPtr sub;
    {
        std::unique_lock lock(topicsMutex_);
        auto it = handles_.find(handle);
        if (it == handles_.end()) return;
        sub = std::move(it->second);
        handles_.erase(it);
        auto& list = subscribers_[sub->topic];
        list.erase(std::remove(list.begin(), list.end(), sub), list.end());
        try {
            rebuildRoute(sub->topic);
        } catch (...) {
            // Out of memory building the new route: the old one still names
            // this subscription, but it is marked inactive below, so a
            // publisher skips it. Correct, merely slower.
        }
    }
    std::unique_lock lock(sub->mutex);
    sub->active = false;
    sub->queue.clear();
    sub->unacked.clear();
    // Wait out a delivery running on another thread; from inside the handler
    // (a contract violation) waiting would deadlock, so don't.
    if (sub->deliverer != std::this_thread::get_id()) {
        sub->idle.wait(lock, [&] { return !sub->busy; });
    }
}

MemoryBroker::SubscriptionPtr MemoryBroker::lookup(void* handle) const {
    std::shared_lock lock(topicsMutex_);
    auto it = handles_.find(handle);
    return it == handles_.end() ? nullptr : it->second;
}

void MemoryBroker::ack(void* handle, std::uint64_t deliveryId, bool ok) {
    SubscriptionPtr sub = lookup(handle);
    if (!sub) throw Error(Code::kNotFound, "unknown subscription");
    std::unique_lock lock(sub->mutex);
    auto it = sub->unacked.find(deliveryId);
    if (it == sub->unacked.end()) {
        throw Error(Code::kNotFound, "no outstanding delivery " + std::to_string(deliveryId) +
                                         " on this subscription to '" + printable(sub->topic) +
                                         "'");
    }
    std::shared_ptr<OwnedMessage> message = std::move(it->second);
    sub->unacked.erase(it);
    if (ok || message->redeliveries >= maxRedeliveries_) return;
    ++message->redeliveries;
    sub->queue.push_back(std::move(message));
    if (sub->busy) return;     // the running deliverer picks it up
    run(*sub, lock, nullptr);  // nobody is delivering: this thread redelivers now
}

}  // namespace micro::memory
