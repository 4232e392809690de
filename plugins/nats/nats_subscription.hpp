// plugins/nats/nats_subscription.hpp — one micro subscription on a NATS
// subject: a plain or queue subscription of the client, delivering to the
// micro handler.
//
// Contract
//   Threads: the client delivers on one thread per subscription (its own
//   delivery thread), so deliveries to one subscription are never
//   concurrent. ack() and stop() may be called from any thread.
//   Core NATS (`jetstream` false): at-most-once; acks are no-ops.
//   JetStream (`jetstream` true): the subject is a push consumer's deliver
//   subject; each message carries `Micro-Delivery-Count` (the server's
//   delivery count, 1 first). Auto mode acks (+ACK) when the handler returns
//   MICRO_OK and otherwise nacks (-NAK with `nakDelayMs`); manual mode keeps
//   the message's ack subject until ack(id, ok), which returns NOT_FOUND for
//   an id that is not outstanding.
//   stop(): after it returns the handler is never called again (it waits for
//   a delivery in progress); outstanding manual deliveries are left to the
//   server's ack wait. It must not be called from the handler itself.
//   Ownership: the broker owns it (unique_ptr) and calls stop() before
//   destroying it; the connection outlives it.
#pragma once

#include <micro/abi.h>

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace micro::nats {

class NatsSubscription {
 public:
    struct Params {
        natsConnection* connection = nullptr;
        std::string topic;    ///< what the handler sees as the message topic
        std::string subject;  ///< what to subscribe to (a deliver subject with JetStream)
        std::string queue;    ///< non-empty: a queue subscription
        bool jetstream = false;
        bool manualAck = false;
        std::int64_t nakDelayMs = 0;
        std::int64_t maxPendingMsgs = 0;
        micro_message_handler handler{};
        /// Runs once in stop(), after the last delivery (deletes an
        /// ephemeral consumer); may be empty.
        std::function<void()> onStop;
        /// Logs a warning [any-thread].
        std::function<void(const std::string&)> warn;
    };

    /// Subscribes now; throws micro::Error (UNAVAILABLE when the client is
    /// not connected, INVALID_ARGUMENT for a subject the client refuses).
    explicit NatsSubscription(Params params);
    ~NatsSubscription();
    NatsSubscription(const NatsSubscription&) = delete;
    NatsSubscription& operator=(const NatsSubscription&) = delete;

    void ack(std::uint64_t deliveryId, bool ok);
    void stop() noexcept;

 private:
    static void onMessage(natsConnection* nc, natsSubscription* sub, natsMsg* msg, void* self);
    static void onComplete(void* self);
    void deliver(natsMsg* msg);
    void settle(const std::string& replySubject, bool ok);

    Params params_;
    natsSubscription* sub_ = nullptr;
    std::atomic<std::uint64_t> nextDeliveryId_{1};

    std::mutex mutex_;
    std::condition_variable changed_;
    bool stopped_ = false;     // no new delivery may start
    bool delivering_ = false;  // the handler is running
    bool completed_ = false;   // the client's delivery thread is done with us
    std::unordered_map<std::uint64_t, std::string> outstanding_;  // manual: id -> ack subject
};

}  // namespace micro::nats
