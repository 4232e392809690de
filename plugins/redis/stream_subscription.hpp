// plugins/redis/stream_subscription.hpp — one subscription in streams mode:
// a consumer of a Redis consumer group on the topic's stream.
//
// Contract
//   Group: a subscription with a group joins consumer group <group> of
//     stream <stream_prefix><topic> (XGROUP CREATE ... $ MKSTREAM: a new
//     group starts at the stream's end, so it gets what is published after
//     its first member subscribed). A subscription without a group gets a
//     group of its own (unique name, created from $, destroyed when it
//     unsubscribes), so it gets every message. Each subscription is a
//     consumer with a unique name.
//   Delivery: XREADGROUP ... BLOCK block_ms COUNT 128 on a connection of
//     its own; the handler gets the headers and body as published plus
//     Micro-Delivery-Count (1, then the entry's delivery count on a
//     redelivery). Auto ack: MICRO_OK XACKs (sent with the next read);
//     anything else leaves the entry pending. Manual ack: ack(id, true)
//     XACKs through the driver's command pipeline; ack(id, false) leaves it
//     pending.
//   Redelivery: every claim_idle_ms / 2 (10 ms..5 s) the consumer runs
//     XAUTOCLAIM for entries pending longer than claim_idle_ms in its group
//     (its own nacked ones, and those of a consumer that died) and delivers
//     them again; their count comes from XPENDING.
//   Errors: a lost connection is reopened with backoff; a group that
//     vanished (NOGROUP) is created again. Unsubscribing may leave entries
//     it had read but not settled pending: another member claims them.
//   Threads: see broker_subscription.hpp. Derived lifetimes: the destructor
//     stops the thread first.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker_pipeline.hpp"
#include "broker_subscription.hpp"

namespace micro::redis {

class StreamSubscription final : public BrokerSubscription {
 public:
    StreamSubscription(const BrokerConfig& config, const BrokerLog& log,
                       micro_message_handler handler, CommandPipeline& control, std::string topic,
                       std::string group, bool ownGroup, bool manualAck, std::string consumer);
    ~StreamSubscription() override;

    void ack(std::uint64_t deliveryId, bool ok) override;

 private:
    void setUp() override;
    void consume() override;
    void afterStop() noexcept override;

    void ensureGroup();
    void claim();
    void readAndDeliver();
    /// Deliver one entry ([id, [field, value, ...]]); false if stopping.
    bool deliver(const redisReply& entry, std::uint64_t deliveryCount);

    CommandPipeline& control_;
    const std::string topic_;
    const std::string key_;
    const std::string group_;
    const bool ownGroup_;
    const bool manualAck_;
    const std::string consumer_;
    const std::chrono::milliseconds claimInterval_;

    // Consumer thread state.
    std::string cursor_ = "0-0";
    std::chrono::steady_clock::time_point nextClaim_{};
    std::vector<std::string> acks_;  // auto-acked ids, sent with the next read
    std::vector<micro_kv> headers_;
    bool down_ = false;

    std::mutex ackMutex_;                                     // guards the manual-ack maps
    std::unordered_map<std::uint64_t, std::string> unacked_;  // delivery id -> entry id
    std::unordered_map<std::string, std::uint64_t> byEntry_;  // entry id -> delivery id
};

}  // namespace micro::redis
