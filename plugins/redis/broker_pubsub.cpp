#include "broker_pubsub.hpp"

#include <micro/error.hpp>

#include <algorithm>
#include <functional>

#include "broker_envelope.hpp"
#include "printable.hpp"

namespace micro::redis {

namespace {

std::string_view text(const redisReply& r) noexcept {
    return r.str == nullptr ? std::string_view{} : std::string_view(r.str, r.len);
}

constexpr std::string_view kClaimTtlMs = "60000";

}  // namespace

void LocalGroup::join(const void* member) {
    std::lock_guard lock(mutex_);
    members_.push_back(member);
}

void LocalGroup::leave(const void* member) {
    std::lock_guard lock(mutex_);
    members_.erase(std::remove(members_.begin(), members_.end(), member), members_.end());
}

bool LocalGroup::chosen(const void* member, std::string_view id) const {
    const std::size_t h = std::hash<std::string_view>{}(id);
    std::lock_guard lock(mutex_);
    return !members_.empty() && members_[h % members_.size()] == member;
}

PubSubSubscription::PubSubSubscription(const BrokerConfig& config, const BrokerLog& log,
                                       micro_message_handler handler, std::string topic,
                                       std::string group, std::shared_ptr<LocalGroup> local)
    : BrokerSubscription(config, log, handler),
      topic_(std::move(topic)),
      channel_(config.prefix + topic_),
      group_(std::move(group)),
      local_(std::move(local)) {
    if (local_) local_->join(this);
}

PubSubSubscription::~PubSubSubscription() {
    if (local_) local_->leave(this);
    stop();
}

void PubSubSubscription::subscribeChannel() {
    const std::string_view argv[] = {"SUBSCRIBE", channel_};
    link()->append(argv);
    // The confirmation: ["subscribe", channel, count].
    Reply reply = link()->read("SUBSCRIBE");
    if (reply->type == REDIS_REPLY_ERROR) {
        throwServerError(link()->endpoint(), "SUBSCRIBE '" + printable(channel_) + "'",
                         text(*reply));
    }
    // From now on the connection only waits for messages: forever, until
    // stop() shuts its socket down.
    link()->setReadTimeout(std::chrono::milliseconds(0));
}

void PubSubSubscription::setUp() {
    if (connect(config_.timeout) == nullptr) {
        throw Error(Code::kCancelled, "unsubscribed while subscribing");
    }
    subscribeChannel();
}

void PubSubSubscription::consume() {
    while (!stopping()) {
        try {
            if (link() == nullptr) {
                if (connect(config_.timeout) == nullptr) return;
                subscribeChannel();
                resetBackoff();
                if (down_) {
                    log_(MICRO_LOG_INFO, "redis subscriber of channel '" + printable(channel_) +
                                             "' resubscribed (messages published meanwhile "
                                             "are lost)");
                }
                down_ = false;
            }
            Reply reply = link()->read("SUBSCRIBE");
            handle(*reply);
        } catch (const Error& e) {
            if (stopping()) return;
            if (!down_) {
                log_(MICRO_LOG_WARN, "redis subscriber of channel '" + printable(channel_) +
                                         "': " + e.what() + "; resubscribing in the background");
            }
            down_ = true;
            disconnect();
            if (!backoff()) return;
        }
    }
}

void PubSubSubscription::handle(const redisReply& reply) {
    // ["message", channel, payload]
    if (reply.type != REDIS_REPLY_ARRAY || reply.elements != 3 ||
        text(*reply.element[0]) != "message") {
        return;
    }
    std::optional<Envelope> envelope = decodeEnvelope(text(*reply.element[2]));
    if (!envelope) return;  // not published by this driver
    if (local_ && (!local_->chosen(this, envelope->id) || !claim(envelope->id))) return;
    if (stopping()) return;
    const micro_message message{sizeof(micro_message), abi::str(topic_), envelope->headers.data(),
                                envelope->headers.size(), abi::bytes(envelope->body)};
    (void)handler_.fn(handler_.ctx, &message, nextDeliveryId());
}

bool PubSubSubscription::claim(std::string_view id) {
    const std::string key = config_.prefix + "claim:" + group_ + ":" + std::string(id);
    try {
        if (!claimLink_ || claimLink_->broken()) {
            claimLink_.reset();
            claimLink_ = Link::open(config_.url, config_.timeout, config_.timeout);
        }
        const std::string_view argv[] = {"SET", key, "1", "NX", "PX", kClaimTtlMs};
        Reply reply = claimLink_->command(argv, "SET NX (group claim)");
        return reply->type == REDIS_REPLY_STATUS;  // OK: won; nil: another member has it
    } catch (const Error& e) {
        claimLink_.reset();
        log_(MICRO_LOG_WARN, std::string("redis group claim failed, message dropped: ") + e.what());
        return false;
    }
}

}  // namespace micro::redis
