#include "local_subscriptions.hpp"

#include <micro/abi_view.hpp>
#include <micro/driver/broker.hpp>
#include <micro/error.hpp>

#include <algorithm>

namespace micro::direct {

/// A message copied off the transport's buffer so it can wait in a queue.
struct LocalSubscriptions::OwnedMessage : driver::OwnedMessage {
    using driver::OwnedMessage::OwnedMessage;
};

struct LocalSubscriptions::Subscription {
    std::string topic;
    std::string group;
    micro_message_handler handler{};

    std::mutex mutex;  // guards everything below
    std::condition_variable idle;
    bool active = true;
    bool scheduled = false;  // in the ready queue or held by a worker
    bool running = false;    // the handler is running
    std::thread::id runner;
    std::deque<std::shared_ptr<OwnedMessage>> queue;
};

LocalSubscriptions::LocalSubscriptions(std::size_t threads, std::size_t maxPending)
    : maxPending_(maxPending) {
    workers_.reserve(threads);
    for (std::size_t i = 0; i < threads; ++i)
        workers_.emplace_back([this](std::stop_token stop) { work(stop); });
}

LocalSubscriptions::~LocalSubscriptions() {
    // With the clear, under the lock: a worker that takes the lock afterwards
    // finds the stop, so no handler starts from here on. workers_, the last
    // member, then joins them.
    std::lock_guard lock(readyMutex_);
    for (auto& t : workers_) t.request_stop();
    ready_.clear();
}

void* LocalSubscriptions::add(std::string_view topic, std::string_view group,
                              micro_message_handler handler) {
    auto sub = std::make_shared<Subscription>();
    sub->topic = topic;
    sub->group = group;
    sub->handler = handler;
    std::lock_guard lock(mutex_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) it = topics_.emplace(std::string(topic), Topic{}).first;
    it->second.subs.push_back(sub);
    handles_.emplace(sub.get(), sub);
    return sub.get();
}

bool LocalSubscriptions::remove(void* handle) noexcept {
    SubscriptionPtr sub;
    {
        std::lock_guard lock(mutex_);
        auto it = handles_.find(handle);
        if (it == handles_.end()) return false;
        sub = std::move(it->second);
        handles_.erase(it);
        auto topic = topics_.find(sub->topic);
        if (topic != topics_.end()) {
            auto& subs = topic->second.subs;
            subs.erase(std::remove(subs.begin(), subs.end(), sub), subs.end());
            if (subs.empty()) topics_.erase(topic);
        }
    }
    std::unique_lock lock(sub->mutex);
    sub->active = false;
    sub->queue.clear();
    if (sub->runner != std::this_thread::get_id()) {
        sub->idle.wait(lock, [&] { return !sub->running; });
    }
    return true;
}

bool LocalSubscriptions::contains(void* handle) const {
    std::lock_guard lock(mutex_);
    return handles_.count(handle) != 0;
}

std::vector<std::pair<std::string, std::string>> LocalSubscriptions::list() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::lock_guard lock(mutex_);
    for (const auto& [topic, t] : topics_) {
        for (const auto& sub : t.subs) out.emplace_back(sub->topic, sub->group);
    }
    return out;
}

LocalSubscriptions::TopicInfo LocalSubscriptions::topic(std::string_view topic) const {
    TopicInfo info;
    std::lock_guard lock(mutex_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return info;
    for (const auto& sub : it->second.subs) {
        if (sub->group.empty()) {
            info.plain = true;
        } else if (std::find(info.groups.begin(), info.groups.end(), sub->group) ==
                   info.groups.end()) {
            info.groups.push_back(sub->group);
        }
    }
    return info;
}

LocalSubscriptions::Queued LocalSubscriptions::enqueue(
    const SubscriptionPtr& sub, const std::shared_ptr<OwnedMessage>& message) {
    bool schedule = false;
    {
        std::lock_guard lock(sub->mutex);
        if (!sub->active) return Queued::kGone;
        if (sub->queue.size() >= maxPending_) return Queued::kFull;
        sub->queue.push_back(message);
        schedule = !sub->scheduled;
        sub->scheduled = true;
    }
    if (schedule) {
        {
            std::lock_guard lock(readyMutex_);
            ready_.push_back(sub);
        }
        readyCv_.notify_one();
    }
    return Queued::kYes;
}

LocalSubscriptions::Outcome LocalSubscriptions::deliver(
    const micro_message& message, bool plain, const std::vector<std::string_view>& groups) {
    // Pick the targets under the lock, queue with it released.
    std::vector<SubscriptionPtr> everyone;
    std::vector<std::vector<SubscriptionPtr>> members;  // per group, starting at its cursor
    {
        std::lock_guard lock(mutex_);
        auto it = topics_.find(abi::view(message.topic));
        if (it == topics_.end()) return {};
        Topic& t = it->second;
        if (plain) {
            for (const auto& sub : t.subs) {
                if (sub->group.empty()) everyone.push_back(sub);
            }
        }
        for (std::string_view group : groups) {
            std::vector<SubscriptionPtr> in;
            for (const auto& sub : t.subs) {
                if (sub->group == group) in.push_back(sub);
            }
            if (in.empty()) continue;
            auto cursor = t.cursors.find(group);
            if (cursor == t.cursors.end()) cursor = t.cursors.emplace(std::string(group), 0).first;
            std::rotate(in.begin(),
                        in.begin() + static_cast<std::ptrdiff_t>(cursor->second++ % in.size()),
                        in.end());
            members.push_back(std::move(in));
        }
    }
    Outcome out;
    if (everyone.empty() && members.empty()) return out;
    auto owned = std::make_shared<OwnedMessage>(message);
    for (const auto& sub : everyone) {
        Queued q = enqueue(sub, owned);
        out.delivered += q == Queued::kYes;
        out.full = out.full || q == Queued::kFull;
    }
    for (const auto& in : members) {
        Queued q = Queued::kGone;
        for (std::size_t k = 0; k < in.size() && q != Queued::kYes; ++k) {
            Queued attempt = enqueue(in[k], owned);
            out.full = out.full || attempt == Queued::kFull;
            q = attempt;
        }
        out.delivered += q == Queued::kYes;
    }
    return out;
}

void LocalSubscriptions::work(std::stop_token stop) {
    for (;;) {
        SubscriptionPtr sub;
        std::uint64_t id = 0;
        {
            std::unique_lock lock(readyMutex_);
            readyCv_.wait(lock, stop, [&] { return !ready_.empty(); });
            if (stop.stop_requested()) return;
            sub = std::move(ready_.front());
            ready_.pop_front();
            id = nextDeliveryId_++;
        }
        std::unique_lock lock(sub->mutex);
        if (!sub->active || sub->queue.empty()) {
            sub->scheduled = false;
            continue;
        }
        std::shared_ptr<OwnedMessage> message = std::move(sub->queue.front());
        sub->queue.pop_front();
        sub->running = true;
        sub->runner = std::this_thread::get_id();
        lock.unlock();
        micro_message view = message->view();
        // At-most-once: the handler's verdict (ack or nack) changes nothing.
        (void)sub->handler.fn(sub->handler.ctx, &view, id);
        lock.lock();
        sub->running = false;
        sub->runner = {};
        sub->idle.notify_all();
        bool again = sub->active && !sub->queue.empty();
        if (!again) sub->scheduled = false;
        lock.unlock();
        if (again) {
            // Back of the line, so one busy subscription cannot starve the others.
            {
                std::lock_guard ready(readyMutex_);
                ready_.push_back(std::move(sub));
            }
            readyCv_.notify_one();
        }
    }
}

}  // namespace micro::direct
