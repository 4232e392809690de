// micro/broker.hpp — publish (topic, headers, body); subscribe with or
// without a queue group, with retries, a dead-letter topic and middleware.
//
// Contract
//   Threads: thread-safe. Register middleware (use, useSubscriber) before the
//     first publish or subscribe. A handler runs on a driver thread, never
//     concurrently for one subscription.
//   Publish: the topic must be 1..limits().maxTopicBytes bytes of printable
//     ASCII without spaces or the wildcards '*' and '>'; the body at most
//     limits().maxBodyBytes; a Content-Type header, when given, must name a
//     known content type (micro/codec.hpp). Anything else is
//     INVALID_ARGUMENT and nothing is published. The facade adds a `Micro-Id`
//     header (a message id unique per process run, for idempotent handlers)
//     unless the caller set one, and `Content-Type: application/octet-stream`
//     unless the caller set one. Errors come from the driver: NOT_FOUND when
//     it knows nobody received the message, UNAVAILABLE when its engine is
//     down (nothing was published).
//   Subscribe, automatic ack: a handler that returns acks. One that throws is
//     retried in place up to `maxRetries` times, `retryBackoff` apart
//     (doubling, at most 5 s); INVALID_ARGUMENT is never retried (the message
//     cannot become valid). Then, when `deadLetterTopic` is set, the message
//     is published there with the headers `Micro-Dead-Letter-Topic`
//     (where it came from), `Micro-Dead-Letter-Reason` and
//     `Micro-Attempts`, and acked; otherwise, or when that publish fails, it
//     is nacked (a durable driver redelivers it). A message whose
//     `Micro-Delivery-Count` header (set by redelivering drivers) already
//     exceeds maxRetries + 1 goes to the dead-letter topic without running
//     the handler again: a message that crashed its consumers cannot loop.
//   Subscribe, manual ack: the handler's outcome is ignored; settle with
//     Subscription::ack. Retries and dead-lettering are then the caller's.
//   A Subscription unsubscribes when destroyed: after its destructor returns
//     the handler is never called again. The Broker must outlive it.
#pragma once

#include <micro/driver_handle.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro {

struct Header {
    std::string_view key{};
    std::string_view value{};
};

/// Header names the facade and drivers use.
namespace headers {
inline constexpr std::string_view kId = "Micro-Id";
inline constexpr std::string_view kContentType = "Content-Type";
inline constexpr std::string_view kDeliveryCount = "Micro-Delivery-Count";
inline constexpr std::string_view kDeadLetterTopic = "Micro-Dead-Letter-Topic";
inline constexpr std::string_view kDeadLetterReason = "Micro-Dead-Letter-Reason";
inline constexpr std::string_view kAttempts = "Micro-Attempts";
}  // namespace headers

/// A delivered message, borrowed for the handler call.
struct MessageView {
    std::string_view topic{};
    std::span<const micro_kv> headers{};
    std::string_view body{};
    std::uint64_t deliveryId = 0;  ///< for Subscription::ack in manual mode

    /// The first header named `key` (ASCII case-insensitive), or empty.
    std::string_view header(std::string_view key) const noexcept;
    /// The `Micro-Id` header: the publisher's message id.
    std::string_view id() const noexcept { return header(headers::kId); }
};

/// A message on its way out, as publish middleware sees it.
struct OutgoingMessage {
    std::string_view topic{};
    std::string_view body{};
    std::span<const Header> headers{};
};

/// Publish middleware: call `next` to pass the message on (possibly a
/// changed copy, e.g. with a header added), or throw to refuse it.
using PublishNext = std::function<void(const OutgoingMessage&)>;
using PublishMiddleware = std::function<void(const OutgoingMessage&, const PublishNext& next)>;

using MessageHandler = std::function<void(const MessageView&)>;
/// Subscriber middleware: call `next` to run the handler (and what follows),
/// or return or throw without it.
using SubscriberMiddleware = std::function<void(const MessageView&, const MessageHandler& next)>;

struct SubscribeOptions {
    std::string group{};     ///< empty: every subscriber gets every message
    bool manualAck = false;  ///< settle with Subscription::ack
    int maxRetries = 0;      ///< handler re-runs after a failure (automatic ack)
    std::chrono::milliseconds retryBackoff{50};  ///< before the first re-run; doubles
    std::string deadLetterTopic{};               ///< empty: no dead-lettering
};

/// What publish checks before a message reaches the driver.
struct BrokerLimits {
    std::size_t maxTopicBytes = 255;
    std::size_t maxBodyBytes = std::size_t{4} << 20;
};

class Broker;

class Subscription {
 public:
    Subscription() noexcept;
    Subscription(Subscription&&) noexcept;
    Subscription& operator=(Subscription&&) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription();

    /// Settle a delivery in manual-ack mode (nack asks for redelivery).
    void ack(std::uint64_t deliveryId, bool ok = true);
    /// Stop now (what the destructor does).
    void unsubscribe() noexcept;
    explicit operator bool() const noexcept { return state_ != nullptr; }

    struct State;

 private:
    friend class Broker;
    std::unique_ptr<State> state_;
};

class Broker {
 public:
    explicit Broker(DriverHandle handle, BrokerLimits limits = {});

    /// Publish one message (see the contract above).
    void publish(std::string_view topic, std::string_view body,
                 std::span<const Header> headers = {});
    Subscription subscribe(std::string_view topic, MessageHandler handler,
                           const SubscribeOptions& options = {});

    /// Middleware around every publish, outermost first.
    void use(PublishMiddleware middleware);
    /// Middleware around every handler of later subscriptions, outermost first.
    void useSubscriber(SubscriberMiddleware middleware);

    const BrokerLimits& limits() const noexcept { return limits_; }
    const DriverHandle& handle() const noexcept { return handle_; }

    /// INVALID_ARGUMENT unless `topic` is a valid topic name.
    void checkTopic(std::string_view topic) const;

 private:
    void publishChecked(const OutgoingMessage& message);

    DriverHandle handle_;
    const micro_broker_driver* table_;
    BrokerLimits limits_;
    std::vector<PublishMiddleware> publishMiddleware_;
    std::vector<SubscriberMiddleware> subscriberMiddleware_;
};

}  // namespace micro
