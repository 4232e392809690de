// plugins/redis/broker_redis.hpp — broker driver "redis": publish/subscribe
// through a Redis server, in one of two modes.
//
// Contract
//   Config: broker_config.hpp (unknown keys and bad values fail create
//     with INVALID_ARGUMENT naming the key). create() never touches the
//     network: a service may start before its Redis.
//   streams mode (default; at-least-once): publish is XADD
//     <stream_prefix><topic> [MAXLEN ~ max_len] * b <body> h:<key> <value>
//     ... (every byte kept; repeated header keys kept, in order) and
//     completes OK once Redis replied (so once it is in the append-only
//     file when the server runs with appendfsync always). Subscriptions:
//     stream_subscription.hpp. A publish to a topic nobody subscribes to
//     still completes OK: the stream keeps it (up to max_len).
//   pubsub mode (at-most-once): publish is PUBLISH <stream_prefix><topic>
//     <envelope> (broker_envelope.hpp); it completes NOT_FOUND when no
//     connection was subscribed to the channel (PUBLISH returned 0), else
//     OK. Subscriptions: broker_pubsub.hpp (groups emulated).
//   Failure: while Redis is unreachable a publish completes UNAVAILABLE
//     within timeout_ms (broker_pipeline.hpp), and subscribe throws
//     UNAVAILABLE; existing subscriptions reconnect by themselves.
//   Threads: every method is thread-safe. publish and ack never block on
//     the network (one pipeline thread sends); subscribe waits for the
//     subscription's setup (at most about timeout_ms); unsubscribe joins
//     the subscription's thread (prompt: its socket is shut down).
//     Destruction stops every subscription, then sends what is queued.
#pragma once

#include <micro/driver/broker.hpp>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "broker_config.hpp"
#include "broker_pipeline.hpp"
#include "broker_pubsub.hpp"
#include "broker_subscription.hpp"

namespace micro::redis {

class RedisBroker {
 public:
    explicit RedisBroker(const driver::Context& ctx);
    ~RedisBroker();
    RedisBroker(const RedisBroker&) = delete;
    RedisBroker& operator=(const RedisBroker&) = delete;

    void publish(const micro_message& message, driver::Done& done);
    void* subscribe(const driver::SubscribeRequest& request, micro_message_handler handler);
    void unsubscribe(void* subscription) noexcept;
    void ack(void* subscription, std::uint64_t deliveryId, bool ok);

 private:
    const BrokerConfig config_;
    const BrokerLog log_;
    const std::string instanceTag_;  // host:pid:random, makes consumer names unique
    const std::uint64_t idSeed_;     // for Pub/Sub message ids
    std::atomic<std::uint64_t> nextId_{0};
    std::unique_ptr<CommandPipeline> pipeline_;

    std::mutex mutex_;
    std::unordered_map<void*, std::unique_ptr<BrokerSubscription>> subscriptions_;
    // Pub/Sub groups: (topic, group) -> its local members (weak: the
    // subscriptions own them).
    std::map<std::pair<std::string, std::string>, std::weak_ptr<LocalGroup>> localGroups_;
};

}  // namespace micro::redis
