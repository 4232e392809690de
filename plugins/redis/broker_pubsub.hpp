// plugins/redis/broker_pubsub.hpp — one subscription in Pub/Sub mode: a
// SUBSCRIBE connection of its own on channel <stream_prefix><topic>.
//
// Contract
//   Delivery: at most once. Messages published while the connection is
//     down are lost for this subscriber (Redis Pub/Sub keeps nothing); the
//     consumer resubscribes by itself with backoff. The handler's return
//     and ack() settle nothing: there is nothing to redeliver (ack always
//     succeeds).
//   Groups (emulated): every member of a group receives each publish. In
//     one driver instance, the members of a group share a LocalGroup and
//     only the member the message id hashes to goes on (a spread over the
//     local members); across instances (processes) those race for it with
//     SET <stream_prefix>claim:<group>:<id> NX PX 60000 on a second
//     connection, and the winner delivers it: each message reaches one
//     member of the group. A member that cannot reach Redis for the claim
//     drops the message, as may a member joining or leaving while the
//     message is in flight. A member more than 60 s behind may deliver a
//     message again.
//   Payload: broker_envelope.hpp; other payloads on the channel are skipped.
//   Threads: see broker_subscription.hpp.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "broker_subscription.hpp"

namespace micro::redis {

/// The members of one group on one topic in one driver instance.
/// Thread-safe.
class LocalGroup {
 public:
    void join(const void* member);
    void leave(const void* member);
    /// True when `member` is the one that `id` hashes to.
    bool chosen(const void* member, std::string_view id) const;

 private:
    mutable std::mutex mutex_;
    std::vector<const void*> members_;
};

class PubSubSubscription final : public BrokerSubscription {
 public:
    PubSubSubscription(const BrokerConfig& config, const BrokerLog& log,
                       micro_message_handler handler, std::string topic, std::string group,
                       std::shared_ptr<LocalGroup> local);
    ~PubSubSubscription() override;

    void ack(std::uint64_t, bool) override {}

 private:
    void setUp() override;
    void consume() override;

    void subscribeChannel();
    void handle(const redisReply& reply);
    bool claim(std::string_view id);

    const std::string topic_;
    const std::string channel_;
    const std::string group_;
    const std::shared_ptr<LocalGroup> local_;  // null without a group
    std::unique_ptr<Link> claimLink_;          // the consumer thread's
    bool down_ = false;
};

}  // namespace micro::redis
