// plugins/memory/memory_broker.hpp — broker driver "memory": in-process
// publish/subscribe, delivered synchronously on the publisher's thread.
//
// Contract
//   Threads: every method may be called concurrently from any thread.
//   Routing: a topic matches by exact string (no wildcards). A publish goes
//     to every subscriber without a group and to exactly one member of each
//     queue group (round-robin, skipping members being unsubscribed). A
//     publish that reaches no subscriber completes with MICRO_NOT_FOUND
//     ("no subscriber for topic 'x'"); otherwise it completes MICRO_OK once
//     every delivery was handed to its handler, even if a handler nacked.
//   Delivery: runs on the publisher's thread before publish completes. The
//     deliveries to one subscription are never concurrent: a publisher that
//     finds the subscription busy on another thread queues the message for
//     that thread to deliver next (the busy thread drains the queue before it
//     returns), so a handler may publish, ack or subscribe re-entrantly
//     without deadlock. Order per (publisher thread, subscription) is kept.
//     At most `max_pending` (default 65536) messages wait per subscription;
//     past that the publish completes with MICRO_RESOURCE_EXHAUSTED.
//   Acks, auto mode: the handler's return code settles. A nack (any code but
//     MICRO_OK) is redelivered at once, up to `max_redeliveries` times
//     (default 0: no retry), each time with a new delivery id; then dropped.
//   Acks, manual mode: the handler's return is ignored; the message is kept
//     until `ack(sub, id, ok)`, which returns OK for a delivery id still
//     outstanding on that subscription and NOT_FOUND otherwise. ok = acked
//     and forgotten; not ok = redelivered (new id) if it has been
//     redelivered fewer than `max_redeliveries` times, else dropped.
//   Unsubscribe: after it returns the handler is never called again, even
//     with a publish in flight on another thread (it waits for a running
//     delivery to finish). Queued and unacked messages are dropped. It must
//     not be called from inside that subscription's own handler.
//   Ownership: messages are borrowed for the handler call; a message is
//     copied only when it must wait (busy subscription, manual ack).
//   Config: `max_redeliveries` (>= 0), `max_pending` (> 0).
#pragma once

#include <micro/driver/broker.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace micro::memory {

class MemoryBroker {
 public:
    explicit MemoryBroker(const driver::Context& ctx);
    ~MemoryBroker();

    void publish(const micro_message& message, driver::Done& done);
    void* subscribe(const driver::SubscribeRequest& request, micro_message_handler handler);
    void unsubscribe(void* subscription) noexcept;
    void ack(void* subscription, std::uint64_t deliveryId, bool ok);

 private:
    struct OwnedMessage;
    struct Subscription;
    using SubscriptionPtr = std::shared_ptr<Subscription>;

    /// What a publish needs, immutable once built: a publisher takes a
    /// reference and delivers with no broker lock held. Subscribe and
    /// unsubscribe build a new one (copy-on-write).
    struct Route {
        struct Group {
            std::vector<SubscriptionPtr> members;
            mutable std::atomic<std::uint64_t> next{0};  // round-robin cursor
        };
        std::vector<SubscriptionPtr> everyone;
        std::vector<std::unique_ptr<Group>> groups;
    };

    /// Outcome of handing a message to one subscription.
    enum class Handed { kDelivered, kGone, kFull };

    Handed deliver(Subscription& sub, const micro_message& message);
    /// Become the subscription's deliverer (caller holds `lock`, sub not
    /// busy): deliver `first` if given, then everything queued.
    void run(Subscription& sub, std::unique_lock<std::mutex>& lock, const micro_message* first);
    void drain(Subscription& sub, std::unique_lock<std::mutex>& lock);
    void call(Subscription& sub, const micro_message& message, std::uint32_t redeliveries,
              std::unique_lock<std::mutex>& lock, std::shared_ptr<OwnedMessage> owned);
    void rebuildRoute(const std::string& topic);  // needs topicsMutex_ exclusive
    SubscriptionPtr lookup(void* handle) const;

    std::uint32_t maxRedeliveries_ = 0;
    std::size_t maxPending_ = 65536;
    std::atomic<std::uint64_t> nextDeliveryId_{1};

    mutable std::shared_mutex topicsMutex_;
    // topic -> its subscriptions, in subscribe order (the source of truth)
    std::map<std::string, std::vector<SubscriptionPtr>, std::less<>> subscribers_;
    // topic -> the route publishers read (derived from subscribers_)
    std::map<std::string, std::shared_ptr<const Route>, std::less<>> routes_;
    std::unordered_map<void*, SubscriptionPtr> handles_;
};

}  // namespace micro::memory
