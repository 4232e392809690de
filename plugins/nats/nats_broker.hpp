// plugins/nats/nats_broker.hpp — broker driver "nats": micro topics on a
// NATS server through the official C client, either core NATS
// (at-most-once) or JetStream (at-least-once, stored before publish is OK).
//
// Contract
//   Threads: every method may be called concurrently from any thread.
//   create connects once (timeout_ms) and fails UNAVAILABLE naming the url
//   when no server answers, INVALID_ARGUMENT naming the key for a bad
//   config, FAILED_PRECONDITION when `jetstream = true` and the server has
//   no JetStream. After that the client reconnects by itself, forever.
//   Routing: topic T is subject "<subject_prefix>.T"; a subscription without
//   a group gets every message of its topic; with a group each message goes
//   to one member of the group (a queue subscription; with JetStream a
//   durable push consumer named after (topic, group) with that deliver
//   group, shared by every process that subscribes with the group).
//   Publish, core: completes OK once the client has the message in its write
//   buffer (its flusher thread writes it out without a per-message flush);
//   UNAVAILABLE at once while the client is not connected, so nothing waits
//   silently in the client's reconnect buffer. Never NOT_FOUND: NATS does
//   not say whether anyone listened.
//   Publish, JetStream: queued to one publisher thread and completed OK (value
//   = stream sequence) once the server acknowledged storing it; UNAVAILABLE
//   while disconnected or when no PubAck came within timeout_ms.
//   Delivery: see NatsSubscription (one client thread per subscription,
//   never concurrent; Micro-Delivery-Count and ack/nack with JetStream).
//   Unsubscribe: after it returns the handler is never called again; an
//   ephemeral JetStream consumer is deleted, a group's durable one is kept.
//   Destroy: unsubscribes what is left, completes queued publishes with
//   UNAVAILABLE, closes the connection.
#pragma once

#include <micro/driver/broker.hpp>

#include <nats/nats.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "jetstream_publisher.hpp"
#include "nats_settings.hpp"

namespace micro::nats {

class NatsSubscription;

class NatsBroker {
 public:
    explicit NatsBroker(const driver::Context& ctx);
    ~NatsBroker();
    NatsBroker(const NatsBroker&) = delete;
    NatsBroker& operator=(const NatsBroker&) = delete;

    void publish(const micro_message& message, driver::Done& done);
    void* subscribe(const driver::SubscribeRequest& request, micro_message_handler handler);
    void unsubscribe(void* subscription) noexcept;
    void ack(void* subscription, std::uint64_t deliveryId, bool ok);

 private:
    struct Consumer {
        std::string name;
        std::string deliverSubject;
        std::string deliverGroup;
        bool ephemeral = false;
    };

    void connect();
    void ensureStream();
    Consumer ensureConsumer(const std::string& subject, std::string_view topic,
                            std::string_view group);
    void log(std::int32_t level, const std::string& message) const noexcept;
    void closeConnection() noexcept;

    struct ConnectionEvents;

    const micro_host* host_;
    std::string instanceName_;
    Settings settings_;
    natsOptions* options_ = nullptr;
    natsConnection* connection_ = nullptr;
    jsCtx* js_ = nullptr;
    ConnectionEvents* events_ = nullptr;  // owned by connection_ (freed when it closes)
    std::mutex streamMutex_;              // one stream/consumer set-up at a time
    std::unique_ptr<JetStreamPublisher> publisher_;

    std::mutex subsMutex_;
    std::unordered_map<void*, std::shared_ptr<NatsSubscription>> subs_;
};

}  // namespace micro::nats
