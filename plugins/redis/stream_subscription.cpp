#include "stream_subscription.hpp"

#include <micro/error.hpp>

#include <algorithm>
#include <charconv>

#include "printable.hpp"

namespace micro::redis {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kDeliveryCount = "Micro-Delivery-Count";
constexpr std::string_view kBatch = "128";

std::string_view text(const redisReply& r) noexcept {
    return r.str == nullptr ? std::string_view{} : std::string_view(r.str, r.len);
}

bool isArray(const redisReply* r, std::size_t minElements) noexcept {
    return r != nullptr && r->type == REDIS_REPLY_ARRAY && r->elements >= minElements;
}

bool equalsNoCase(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x | 0x20) == (y | 0x20);
           });
}

}  // namespace

StreamSubscription::StreamSubscription(const BrokerConfig& config, const BrokerLog& log,
                                       micro_message_handler handler, CommandPipeline& control,
                                       std::string topic, std::string group, bool ownGroup,
                                       bool manualAck, std::string consumer)
    : BrokerSubscription(config, log, handler),
      control_(control),
      topic_(std::move(topic)),
      key_(config.prefix + topic_),
      group_(std::move(group)),
      ownGroup_(ownGroup),
      manualAck_(manualAck),
      consumer_(std::move(consumer)),
      claimInterval_(std::clamp(config.claimIdle / 2, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(5000))) {}

StreamSubscription::~StreamSubscription() { stop(); }

void StreamSubscription::ensureGroup() {
    const std::string_view argv[] = {"XGROUP", "CREATE", key_, group_, "$", "MKSTREAM"};
    link()->append(argv);
    Reply reply = link()->read("XGROUP CREATE");
    if (reply->type == REDIS_REPLY_ERROR && !text(*reply).starts_with("BUSYGROUP")) {
        throwServerError(link()->endpoint(), "XGROUP CREATE '" + printable(key_) + "'",
                         text(*reply));
    }
}

void StreamSubscription::setUp() {
    if (connect(config_.block + config_.timeout) == nullptr) {
        throw Error(Code::kCancelled, "unsubscribed while subscribing");
    }
    ensureGroup();
}

void StreamSubscription::afterStop() noexcept {
    try {
        if (!ownGroup_ && !acks_.empty()) {
            // Handled but not yet acked when the read was cut short: ack
            // them through the command connection, so the group does not
            // redeliver them.
            PipelineJob job;
            job.arg("XACK");
            job.arg(key_);
            job.arg(group_);
            for (const std::string& id : acks_) job.arg(id);
            control_.submit(std::move(job));
        }
        acks_.clear();
        if (!ownGroup_) return;
        PipelineJob job;
        job.arg("XGROUP");
        job.arg("DESTROY");
        job.arg(key_);
        job.arg(group_);
        control_.submit(std::move(job));
    } catch (...) {
        // Out of memory: the entries are redelivered, the group stays behind.
    }
}

void StreamSubscription::consume() {
    bool needGroup = false;
    while (!stopping()) {
        try {
            if (link() == nullptr) {
                if (connect(config_.block + config_.timeout) == nullptr) return;
                needGroup = true;
            }
            if (needGroup) {
                ensureGroup();
                needGroup = false;
                resetBackoff();
                if (down_) {
                    log_(MICRO_LOG_INFO, "redis consumer of '" + printable(key_) + "' reconnected");
                }
                down_ = false;
            }
            if (Clock::now() >= nextClaim_) claim();
            readAndDeliver();
        } catch (const Error& e) {
            if (stopping()) return;
            const std::string what = e.what();
            if (what.find("NOGROUP") != std::string::npos && link() != nullptr &&
                !link()->broken()) {
                needGroup = true;  // the group vanished (e.g. a restart without persistence)
                continue;
            }
            if (!down_) {
                log_(MICRO_LOG_WARN, "redis consumer of '" + printable(key_) + "': " + what +
                                         "; reconnecting in the background");
            }
            down_ = true;
            disconnect();
            acks_.clear();  // unsent: those entries will be claimed again
            if (!backoff()) return;
        }
    }
}

void StreamSubscription::claim() {
    const std::string idle = std::to_string(config_.claimIdle.count());
    const std::string_view argv[] = {"XAUTOCLAIM", key_,    group_,  consumer_,
                                     idle,         cursor_, "COUNT", "64"};
    Reply reply = link()->command(argv, "XAUTOCLAIM");
    if (!isArray(reply.get(), 2) || !isArray(reply->element[1], 0)) {
        throw Error(Code::kInternal, "redis " + link()->endpoint() + ": XAUTOCLAIM '" +
                                         printable(key_) + "': unexpected reply");
    }
    cursor_ = std::string(text(*reply->element[0]));
    if (cursor_ == "0-0") nextClaim_ = Clock::now() + claimInterval_;
    const redisReply& entries = *reply->element[1];
    std::vector<const redisReply*> claimed;
    std::vector<std::string_view> vanished;  // deleted before claimed (Redis 6.2)
    for (std::size_t i = 0; i < entries.elements; ++i) {
        const redisReply* e = entries.element[i];
        if (!isArray(e, 2)) continue;
        if (e->element[1]->type != REDIS_REPLY_ARRAY) {
            vanished.push_back(text(*e->element[0]));
        } else {
            claimed.push_back(e);
        }
    }
    // The delivery count of each claimed entry, from its pending entry
    // (XAUTOCLAIM has just incremented it), in one round trip.
    for (const redisReply* e : claimed) {
        const std::string_view id = text(*e->element[0]);
        const std::string_view q[] = {"XPENDING", key_, group_, id, id, "1"};
        link()->append(q);
    }
    std::vector<std::uint64_t> counts(claimed.size(), 2);
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        Reply p = link()->read("XPENDING");
        if (isArray(p.get(), 1) && isArray(p->element[0], 4) &&
            p->element[0]->element[3]->type == REDIS_REPLY_INTEGER) {
            counts[i] = static_cast<std::uint64_t>(p->element[0]->element[3]->integer);
        }
    }
    for (std::size_t i = 0; i < claimed.size(); ++i) {
        if (!deliver(*claimed[i], counts[i])) return;
    }
    if (!vanished.empty()) {
        std::vector<std::string_view> argv2{"XACK", key_, group_};
        argv2.insert(argv2.end(), vanished.begin(), vanished.end());
        link()->command(argv2, "XACK");
    }
}

void StreamSubscription::readAndDeliver() {
    const auto untilClaim =
        std::chrono::duration_cast<std::chrono::milliseconds>(nextClaim_ - Clock::now());
    const std::string block =
        std::to_string(std::clamp(untilClaim, std::chrono::milliseconds(1), config_.block).count());
    const bool acking = !acks_.empty();
    if (acking) {
        std::vector<std::string_view> argv{"XACK", key_, group_};
        argv.insert(argv.end(), acks_.begin(), acks_.end());
        link()->append(argv);
    }
    const std::string_view argv[] = {"XREADGROUP", "GROUP", group_,    consumer_, "COUNT", kBatch,
                                     "BLOCK",      block,   "STREAMS", key_,      ">"};
    link()->append(argv);
    if (acking) {
        Reply acked = link()->read("XACK");
        acks_.clear();
        if (acked->type == REDIS_REPLY_ERROR) {
            log_(MICRO_LOG_WARN,
                 "redis XACK on '" + printable(key_) +
                     "' failed (the entries will be redelivered): " + printable(text(*acked)));
        }
    }
    Reply reply = link()->read("XREADGROUP");
    if (reply->type == REDIS_REPLY_ERROR) {
        if (text(*reply).starts_with("NOGROUP")) {
            ensureGroup();
            return;
        }
        throwServerError(link()->endpoint(), "XREADGROUP '" + printable(key_) + "'", text(*reply));
    }
    if (reply->type == REDIS_REPLY_NIL) return;  // BLOCK timed out
    // [[key, [[id, [field, value, ...]], ...]]] (RESP2)
    if (!isArray(reply.get(), 1) || !isArray(reply->element[0], 2)) return;
    const redisReply& entries = *reply->element[0]->element[1];
    for (std::size_t i = 0; i < entries.elements; ++i) {
        const redisReply* e = entries.element[i];
        if (!isArray(e, 2) || e->element[1]->type != REDIS_REPLY_ARRAY) continue;
        if (!deliver(*e, 1)) return;
    }
}

bool StreamSubscription::deliver(const redisReply& entry, std::uint64_t deliveryCount) {
    if (stopping()) return false;
    const std::string_view id = text(*entry.element[0]);
    const redisReply& fields = *entry.element[1];
    headers_.clear();
    std::string_view body;
    for (std::size_t i = 0; i + 1 < fields.elements; i += 2) {
        const std::string_view f = text(*fields.element[i]);
        const std::string_view v = text(*fields.element[i + 1]);
        if (f == "b") {
            body = v;
        } else if (f.starts_with("h:") && !equalsNoCase(f.substr(2), kDeliveryCount)) {
            headers_.push_back(micro_kv{abi::str(f.substr(2)), abi::str(v)});
        }
    }
    char countText[24];
    const auto end = std::to_chars(countText, countText + sizeof countText, deliveryCount).ptr;
    headers_.push_back(
        micro_kv{abi::str(kDeliveryCount), abi::str(std::string_view(countText, end - countText))});
    const micro_message message{sizeof(micro_message), abi::str(topic_), headers_.data(),
                                headers_.size(), abi::bytes(body)};
    const std::uint64_t deliveryId = nextDeliveryId();
    if (manualAck_) {
        std::lock_guard lock(ackMutex_);
        std::string entryId(id);
        auto old = byEntry_.find(entryId);
        if (old != byEntry_.end()) {
            unacked_.erase(old->second);  // superseded by this redelivery
            old->second = deliveryId;
        } else {
            byEntry_.emplace(entryId, deliveryId);
        }
        unacked_.emplace(deliveryId, std::move(entryId));
    }
    const micro_code code = handler_.fn(handler_.ctx, &message, deliveryId);
    if (!manualAck_ && code == MICRO_OK) acks_.emplace_back(id);
    return true;
}

void StreamSubscription::ack(std::uint64_t deliveryId, bool ok) {
    std::string entryId;
    {
        std::lock_guard lock(ackMutex_);
        auto it = unacked_.find(deliveryId);
        if (it == unacked_.end()) {
            throw Error(Code::kNotFound, "no outstanding delivery " + std::to_string(deliveryId) +
                                             " on this subscription to '" + printable(topic_) +
                                             "'");
        }
        entryId = std::move(it->second);
        unacked_.erase(it);
        byEntry_.erase(entryId);
    }
    // A nack leaves the entry pending: claimed again after claim_idle_ms.
    if (!ok) return;
    PipelineJob job;
    job.arg("XACK");
    job.arg(key_);
    job.arg(group_);
    job.arg(entryId);
    control_.submit(std::move(job));
}

}  // namespace micro::redis
