// micro/driver/broker.hpp — adapt a C++ class to micro_broker_driver.
//
// The class T provides:
//   explicit T(const Context&);
//   void publish(const micro_message&);                       // may take a trailing Done&
//   void* subscribe(const SubscribeRequest&, micro_message_handler);  // returns a handle
//   void unsubscribe(void* subscription) noexcept;           // no callback after it returns
//   void ack(void* subscription, std::uint64_t deliveryId, bool ok);   // optional
#pragma once

#include <micro/driver/dispatch.hpp>

#include <string>
#include <utility>
#include <vector>

namespace micro::driver {

/// A message copied out of a borrowed micro_message, for a driver that must
/// keep it past the call (queued behind a busy delivery, kept until an ack).
/// Not copyable or movable: view() points into its own strings.
class OwnedMessage {
 public:
    explicit OwnedMessage(const micro_message& m)
        : topic_(abi::view(m.topic)), body_(abi::view(m.body)) {
        auto in = abi::view(m.headers, m.header_count);
        headers_.reserve(in.size());
        for (const auto& h : in) headers_.emplace_back(abi::view(h.key), abi::view(h.value));
        kv_.reserve(headers_.size());
        for (const auto& [k, v] : headers_) kv_.push_back(micro_kv{abi::str(k), abi::str(v)});
    }
    OwnedMessage(const OwnedMessage&) = delete;
    OwnedMessage& operator=(const OwnedMessage&) = delete;

    /// The message as the ABI passes it; valid while this object lives.
    micro_message view() const noexcept {
        return micro_message{sizeof(micro_message), abi::str(topic_), kv_.data(), kv_.size(),
                             abi::bytes(body_)};
    }

 private:
    std::string topic_;
    std::vector<std::pair<std::string, std::string>> headers_;
    std::vector<micro_kv> kv_;
    std::string body_;
};

struct SubscribeRequest {
    std::string_view topic;
    std::string_view group;
    std::int32_t ackMode = MICRO_ACK_AUTO;
};

template <typename T>
struct BrokerDriver {
    static constexpr micro_kind kKind = MICRO_KIND_BROKER;

    static void publish(void* self, const micro_message* message, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, publish, *message);
    }
    static micro_code subscribe(void* self, const micro_subscribe_options* options,
                                micro_message_handler handler, void** subscription,
                                micro_error* err) noexcept {
        return guard(err, [&] {
            SubscribeRequest request{abi::view(options->topic), abi::view(options->group),
                                     options->ack_mode};
            *subscription = static_cast<T*>(self)->subscribe(request, handler);
        });
    }
    static void unsubscribe(void* self, void* subscription) noexcept {
        static_cast<T*>(self)->unsubscribe(subscription);
    }
    static micro_code ack(void* self, void* subscription, std::uint64_t deliveryId,
                          std::uint32_t ok, micro_error* err) noexcept {
        if constexpr (requires(T & t) { t.ack(subscription, deliveryId, ok != 0); }) {
            return guard(err,
                         [&] { static_cast<T*>(self)->ack(subscription, deliveryId, ok != 0); });
        } else {
            return abi::fail(err, MICRO_UNIMPLEMENTED, "this broker has no manual ack");
        }
    }

    static constexpr micro_broker_driver kTable = {Lifecycle<T>::base(sizeof(micro_broker_driver)),
                                                   &publish, &subscribe, &unsubscribe, &ack};
};

}  // namespace micro::driver
