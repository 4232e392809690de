// micro/broker.hpp — publish (topic, headers, body); subscribe with or
// without a queue group.
//
// Contract: thread-safe. A handler runs on a driver thread, never
// concurrently for one subscription; returning normally acks (automatic
// mode), throwing nacks. A Subscription unsubscribes when destroyed: after
// its destructor returns the handler is never called again.
#pragma once

#include <micro/driver_handle.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace micro {

struct Header {
    std::string_view key{};
    std::string_view value{};
};

/// A delivered message, borrowed for the handler call.
struct MessageView {
    std::string_view topic{};
    std::span<const micro_kv> headers{};
    std::string_view body{};
    std::uint64_t deliveryId = 0;  ///< for Subscription::ack in manual mode

    /// The first header named `key`, or empty.
    std::string_view header(std::string_view key) const noexcept;
};

struct SubscribeOptions {
    std::string_view group{};  ///< empty: every subscriber gets every message
    bool manualAck = false;    ///< settle with Subscription::ack
};

using MessageHandler = std::function<void(const MessageView&)>;

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

 private:
    friend class Broker;
    struct State;
    std::unique_ptr<State> state_;
};

class Broker {
 public:
    explicit Broker(DriverHandle handle);

    /// Publish one message; throws per the driver (NOT_FOUND when the driver
    /// knows nobody received it, UNAVAILABLE when its engine is down).
    void publish(std::string_view topic, std::string_view body,
                 std::span<const Header> headers = {});
    Subscription subscribe(std::string_view topic, MessageHandler handler,
                           const SubscribeOptions& options = {});

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_broker_driver* table_;
};

}  // namespace micro
