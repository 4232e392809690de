// micro/driver/transport.hpp — adapt a C++ class to micro_transport_driver.
//
// Transports are close to the metal, so the class works with the ABI types:
//   explicit T(const Context&);
//   void* listen(std::string_view address, micro_accept_handler, StringSink& bound);
//   void unlisten(void* listener) noexcept;
//   void* dial(std::string_view address, std::int64_t timeoutMs, micro_connection_events);
//   bool send(void* connection, const micro_transport_message&);  // false: buffer full
//   void close(void* connection) noexcept;
// send throws Error(UNAVAILABLE) on a closed connection.
#pragma once

#include <micro/driver/registry.hpp>  // StringSink

namespace micro::driver {

/// Whether the sender of `message` has more to send shortly
/// (MICRO_SEND_MORE_FOLLOWS; never set by a core older than minor 1).
inline bool moreFollows(const micro_transport_message& message) noexcept {
    return MICRO_HAS(&message, micro_transport_message, flags) &&
           (message.flags & MICRO_SEND_MORE_FOLLOWS) != 0;
}

template <typename T>
struct TransportDriver {
    static constexpr micro_kind kKind = MICRO_KIND_TRANSPORT;

    static micro_code listen(void* self, micro_str address, micro_accept_handler handler,
                             micro_str_sink bound, void** listener, micro_error* err) noexcept {
        return guard(err, [&] {
            StringSink out(bound);
            *listener = static_cast<T*>(self)->listen(abi::view(address), handler, out);
        });
    }
    static void unlisten(void* self, void* listener) noexcept {
        static_cast<T*>(self)->unlisten(listener);
    }
    static micro_code dial(void* self, micro_str address, std::int64_t timeoutMs,
                           micro_connection_events events, void** connection,
                           micro_error* err) noexcept {
        return guard(err, [&] {
            *connection = static_cast<T*>(self)->dial(abi::view(address), timeoutMs, events);
        });
    }
    static micro_code send(void* self, void* connection, const micro_transport_message* message,
                           micro_error* err) noexcept {
        bool queued = false;
        micro_code code =
            guard(err, [&] { queued = static_cast<T*>(self)->send(connection, *message); });
        if (code != MICRO_OK) return code;
        return queued ? MICRO_OK : abi::fail(err, MICRO_RESOURCE_EXHAUSTED, "send buffer full");
    }
    static void close(void* self, void* connection) noexcept {
        static_cast<T*>(self)->close(connection);
    }

    static constexpr micro_transport_driver kTable = {
        Lifecycle<T>::base(sizeof(micro_transport_driver)),
        &listen,
        &unlisten,
        &dial,
        &send,
        &close};
};

}  // namespace micro::driver
