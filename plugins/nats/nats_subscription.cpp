#include "nats_subscription.hpp"

#include <micro/error.hpp>

#include <chrono>
#include <string_view>

#include "nats_headers.hpp"

namespace micro::nats {

namespace {

constexpr std::string_view kDeliveryCountHeader = "Micro-Delivery-Count";

std::uint64_t deliveryCount(natsMsg* msg) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK || meta == nullptr) {
        nats_GetLastError(nullptr);  // clear the thread's error record
        return 1;
    }
    const std::uint64_t n = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
    return n == 0 ? 1 : n;
}

}  // namespace

NatsSubscription::NatsSubscription(Params params) : params_(std::move(params)) {
    natsStatus s =
        params_.queue.empty()
            ? natsConnection_Subscribe(&sub_, params_.connection, params_.subject.c_str(),
                                       &onMessage, this)
            : natsConnection_QueueSubscribe(&sub_, params_.connection, params_.subject.c_str(),
                                            params_.queue.c_str(), &onMessage, this);
    if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(sub_, &onComplete, this);
    if (s == NATS_OK && params_.maxPendingMsgs > 0) {
        // Bytes are bounded by the message count times the payload limit the
        // server enforces; -1 lets the count alone decide.
        s = natsSubscription_SetPendingLimits(sub_, static_cast<int>(params_.maxPendingMsgs), -1);
    }
    if (s != NATS_OK) {
        const std::string why = natsStatus_GetText(s);
        if (sub_ != nullptr) {
            natsSubscription_Unsubscribe(sub_);
            natsSubscription_Destroy(sub_);
            sub_ = nullptr;
        }
        const Code code = (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED)
                              ? Code::kUnavailable
                              : Code::kInvalidArgument;
        throw Error(code, "nats: cannot subscribe to '" + params_.subject + "': " + why);
    }
}

NatsSubscription::~NatsSubscription() { stop(); }

void NatsSubscription::stop() noexcept {
    natsSubscription* sub = nullptr;
    {
        std::unique_lock lock(mutex_);
        if (stopped_ && sub_ == nullptr) return;
        stopped_ = true;
        sub = sub_;
        sub_ = nullptr;
        changed_.wait(lock, [&] { return !delivering_; });
    }
    if (sub == nullptr) return;
    natsSubscription_Unsubscribe(sub);
    {
        // The client's delivery thread may still hold a message it is about
        // to hand us; we must outlive that call.
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, std::chrono::seconds(10), [&] { return completed_; })) {
            if (params_.warn) {
                params_.warn("nats: subscription to '" + params_.subject +
                             "' did not report completion within 10 s");
            }
        }
    }
    natsSubscription_Destroy(sub);
    if (params_.onStop) params_.onStop();
}

void NatsSubscription::onComplete(void* self) {
    auto* me = static_cast<NatsSubscription*>(self);
    std::lock_guard lock(me->mutex_);
    me->completed_ = true;
    me->changed_.notify_all();
}

void NatsSubscription::onMessage(natsConnection*, natsSubscription*, natsMsg* msg, void* self) {
    static_cast<NatsSubscription*>(self)->deliver(msg);
    natsMsg_Destroy(msg);
}

void NatsSubscription::deliver(natsMsg* msg) {
    {
        std::lock_guard lock(mutex_);
        if (stopped_) return;
        delivering_ = true;
    }
    const std::string_view reply = natsMsg_GetReply(msg) != nullptr ? natsMsg_GetReply(msg) : "";
    const bool settles = params_.jetstream && !reply.empty();

    DecodedHeaders headers;
    try {
        decodeHeaders(msg, headers);
        if (settles) {
            headers.add(std::string(kDeliveryCountHeader), std::to_string(deliveryCount(msg)));
        }
        headers.seal();
    } catch (const std::exception& e) {
        if (params_.warn)
            params_.warn(std::string("nats: cannot read a message's headers: ") + e.what());
    }

    micro_message m{};
    m.struct_size = sizeof(micro_message);
    m.topic = micro_str{params_.topic.data(), params_.topic.size()};
    m.headers = headers.view.data();
    m.header_count = headers.view.size();
    m.body = micro_bytes{reinterpret_cast<const std::uint8_t*>(natsMsg_GetData(msg)),
                         static_cast<std::size_t>(natsMsg_GetDataLength(msg))};

    const std::uint64_t id = nextDeliveryId_.fetch_add(1, std::memory_order_relaxed);
    const bool manual = params_.manualAck;
    if (settles && manual) {
        std::lock_guard lock(mutex_);
        outstanding_.emplace(id, std::string(reply));
    }
    const micro_code rc = params_.handler.fn(params_.handler.ctx, &m, id);
    if (settles && !manual) settle(std::string(reply), rc == MICRO_OK);

    std::lock_guard lock(mutex_);
    delivering_ = false;
    changed_.notify_all();
}

void NatsSubscription::settle(const std::string& replySubject, bool ok) {
    std::string body = "+ACK";
    if (!ok) {
        body = "-NAK";
        if (params_.nakDelayMs > 0) {
            body += " {\"delay\": " + std::to_string(params_.nakDelayMs * 1'000'000) + "}";
        }
    }
    const natsStatus s = natsConnection_Publish(params_.connection, replySubject.c_str(),
                                                body.data(), static_cast<int>(body.size()));
    if (s != NATS_OK && params_.warn) {
        // The server redelivers after ack_wait_ms: at-least-once still holds.
        params_.warn("nats: cannot send " + body.substr(0, 4) + " for a message of '" +
                     params_.topic + "': " + natsStatus_GetText(s));
    }
}

void NatsSubscription::ack(std::uint64_t deliveryId, bool ok) {
    if (!params_.jetstream) return;  // core NATS has nothing to settle
    std::string reply;
    {
        std::lock_guard lock(mutex_);
        auto it = outstanding_.find(deliveryId);
        if (it == outstanding_.end()) {
            throw Error(Code::kNotFound, "nats: delivery " + std::to_string(deliveryId) +
                                             " is not outstanding on this subscription to '" +
                                             params_.topic + "'");
        }
        reply = std::move(it->second);
        outstanding_.erase(it);
    }
    settle(reply, ok);
}

}  // namespace micro::nats
