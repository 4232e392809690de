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

namespace micro::driver {

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
