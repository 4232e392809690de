#include "broker_redis.hpp"

#include <micro/error.hpp>

#include <unistd.h>

#include <cstdio>
#include <random>
#include <vector>

#include "broker_envelope.hpp"
#include "broker_pubsub.hpp"
#include "printable.hpp"
#include "stream_subscription.hpp"

namespace micro::redis {

namespace {

std::uint64_t randomWord() {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

std::string makeInstanceTag() {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    char tail[40];
    std::snprintf(tail, sizeof tail, ":%ld:%016llx", static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(randomWord()));
    return std::string(host) + tail;
}

}  // namespace

RedisBroker::RedisBroker(const driver::Context& ctx)
    : config_(parseBrokerConfig(ctx.config)),
      log_(ctx.host, ctx.instanceName),
      instanceTag_(makeInstanceTag()),
      idSeed_(randomWord()),
      pipeline_(std::make_unique<CommandPipeline>(config_.url, config_.timeout, log_)) {}

RedisBroker::~RedisBroker() {
    std::unordered_map<void*, std::unique_ptr<BrokerSubscription>> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(subscriptions_);
    }
    for (auto& [handle, sub] : all) sub->stop();
    all.clear();
    pipeline_.reset();  // sends what the subscriptions queued (group deletes, acks)
}

void RedisBroker::publish(const micro_message& message, driver::Done& done) {
    const std::string_view topic = abi::view(message.topic);
    if (topic.empty()) throw Error(Code::kInvalidArgument, "publish: the topic is empty");
    const auto headers = abi::view(message.headers, message.header_count);
    if (config_.mode == BrokerMode::kStreams) {
        PipelineJob job(PipelineJob::Kind::kAdd, std::move(done));
        job.args.reserve(config_.prefix.size() + topic.size() + message.body.size + 64 +
                         headers.size() * 32);
        job.arg("XADD");
        job.arg(config_.prefix, topic);
        if (config_.maxLen > 0) {
            job.arg("MAXLEN");
            job.arg("~");
            job.arg(std::to_string(config_.maxLen));
        }
        job.arg("*");
        job.arg("b");
        job.arg(abi::view(message.body));
        for (const micro_kv& kv : headers) {
            job.arg("h:", abi::view(kv.key));
            job.arg(abi::view(kv.value));
        }
        pipeline_->submit(std::move(job));
        return;
    }
    char id[33];
    std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(idSeed_),
                  static_cast<unsigned long long>(nextId_.fetch_add(1, std::memory_order_relaxed)));
    PipelineJob job(PipelineJob::Kind::kPublish, std::move(done));
    job.topic = std::string(topic);
    job.arg("PUBLISH");
    job.arg(config_.prefix, topic);
    job.arg(encodeEnvelope(std::string_view(id, 32), message));
    pipeline_->submit(std::move(job));
}

void* RedisBroker::subscribe(const driver::SubscribeRequest& request,
                             micro_message_handler handler) {
    if (request.topic.empty()) throw Error(Code::kInvalidArgument, "subscribe: the topic is empty");
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "subscribe: no handler");
    if (request.ackMode != MICRO_ACK_AUTO && request.ackMode != MICRO_ACK_MANUAL) {
        throw Error(Code::kInvalidArgument,
                    "subscribe: unknown ack mode " + std::to_string(request.ackMode));
    }
    const std::uint64_t n = nextId_.fetch_add(1, std::memory_order_relaxed);
    std::unique_ptr<BrokerSubscription> sub;
    if (config_.mode == BrokerMode::kStreams) {
        const bool ownGroup = request.group.empty();
        std::string group = ownGroup ? "micro-fanout:" + instanceTag_ + ":" + std::to_string(n)
                                     : std::string(request.group);
        sub = std::make_unique<StreamSubscription>(
            config_, log_, handler, *pipeline_, std::string(request.topic), std::move(group),
            ownGroup, request.ackMode == MICRO_ACK_MANUAL, instanceTag_ + ":" + std::to_string(n));
    } else {
        std::shared_ptr<LocalGroup> local;
        if (!request.group.empty()) {
            std::lock_guard lock(mutex_);
            std::weak_ptr<LocalGroup>& slot =
                localGroups_[{std::string(request.topic), std::string(request.group)}];
            local = slot.lock();
            if (!local) {
                local = std::make_shared<LocalGroup>();
                slot = local;
            }
        }
        sub =
            std::make_unique<PubSubSubscription>(config_, log_, handler, std::string(request.topic),
                                                 std::string(request.group), std::move(local));
    }
    sub->start();
    void* handle = sub.get();
    std::lock_guard lock(mutex_);
    subscriptions_.emplace(handle, std::move(sub));
    return handle;
}

void RedisBroker::unsubscribe(void* subscription) noexcept {
    BrokerSubscription* sub = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto it = subscriptions_.find(subscription);
        if (it == subscriptions_.end()) return;
        sub = it->second.get();
    }
    // Stopped while still registered, so a handler finishing its last
    // delivery can still ack it.
    sub->stop();
    std::unique_ptr<BrokerSubscription> gone;
    std::lock_guard lock(mutex_);
    auto it = subscriptions_.find(subscription);
    if (it != subscriptions_.end()) {
        gone = std::move(it->second);
        subscriptions_.erase(it);
    }
}

void RedisBroker::ack(void* subscription, std::uint64_t deliveryId, bool ok) {
    std::lock_guard lock(mutex_);
    auto it = subscriptions_.find(subscription);
    if (it == subscriptions_.end()) {
        throw Error(Code::kNotFound, "ack: unknown subscription");
    }
    it->second->ack(deliveryId, ok);
}

}  // namespace micro::redis
