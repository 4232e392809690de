// plugins/direct/local_subscriptions.hpp — the subscriptions of one direct
// broker instance and the threads that run their handlers.
//
// Contract
//   Threads: every method may be called from any thread. `deliver` never
//     runs a handler: it copies the message into the subscription's queue
//     and returns, so it is safe on a transport I/O thread. Handlers run on
//     `threads` worker threads owned by this object; one subscription is
//     held by at most one worker at a time, so its deliveries are never
//     concurrent and keep their arrival order.
//   Routing: `deliver(topic, plain, groups)` queues the message for every
//     plain subscription of the topic when `plain`, and for one member
//     (round-robin, skipping members whose queue is full) of each listed
//     group. A subscription's queue holds at most `maxPending` messages.
//   Acks: the handler's return code is ignored (at-most-once): a nack or a
//     manual-mode message is not redelivered.
//   remove(): after it returns the handler is never called again; it waits
//     for a running delivery, except when called from that very handler
//     (a contract violation that would otherwise deadlock). Queued messages
//     are dropped.
//   Destruction joins the workers; every subscription must be removed or
//     abandoned (its queue is dropped) by then.
#pragma once

#include <micro/abi.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace micro::direct {

class LocalSubscriptions {
 public:
    LocalSubscriptions(std::size_t threads, std::size_t maxPending);
    ~LocalSubscriptions();
    LocalSubscriptions(const LocalSubscriptions&) = delete;
    LocalSubscriptions& operator=(const LocalSubscriptions&) = delete;

    /// A new subscription's opaque handle.
    void* add(std::string_view topic, std::string_view group, micro_message_handler handler);
    /// False for an unknown handle.
    bool remove(void* handle) noexcept;
    bool contains(void* handle) const;

    /// (topic, group) of every subscription, for the registry record.
    std::vector<std::pair<std::string, std::string>> list() const;

    /// Which of this topic's subscriptions exist here: any plain one, and the
    /// names of the groups.
    struct TopicInfo {
        bool plain = false;
        std::vector<std::string> groups;
        bool empty() const noexcept { return !plain && groups.empty(); }
    };
    TopicInfo topic(std::string_view topic) const;

    struct Outcome {
        std::uint64_t delivered = 0;  // messages queued
        bool full = false;            // some target's queue was full
    };
    Outcome deliver(const micro_message& message, bool plain,
                    const std::vector<std::string_view>& groups);

 private:
    struct OwnedMessage;
    struct Subscription;
    using SubscriptionPtr = std::shared_ptr<Subscription>;
    struct Topic {
        std::vector<SubscriptionPtr> subs;
        std::map<std::string, std::uint64_t, std::less<>> cursors;  // group -> round-robin
    };

    enum class Queued { kYes, kGone, kFull };
    Queued enqueue(const SubscriptionPtr& sub, const std::shared_ptr<OwnedMessage>& message);
    void work(std::stop_token stop);

    const std::size_t maxPending_;
    std::uint64_t nextDeliveryId_ = 1;  // guarded by readyMutex_

    mutable std::mutex mutex_;  // guards topics_ and handles_
    std::map<std::string, Topic, std::less<>> topics_;
    std::unordered_map<void*, SubscriptionPtr> handles_;

    std::mutex readyMutex_;  // guards ready_
    std::condition_variable_any readyCv_;
    std::deque<SubscriptionPtr> ready_;
    // Last: joined before everything the workers use, also when the
    // constructor throws after starting some of them.
    std::vector<std::jthread> workers_;
};

}  // namespace micro::direct
