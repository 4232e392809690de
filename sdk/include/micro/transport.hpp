// micro/transport.hpp — ordered, bidirectional message pipes of
// {headers, body}. The RPC protocol (call ids, streams, deadlines) is built
// on top of this by the service runtime.
//
// Contract: thread-safe. Handlers run on driver threads, never concurrently
// for one connection; onClose runs exactly once and last. A Connection stays
// valid (as an object) while any shared_ptr to it lives, but send fails with
// UNAVAILABLE once it is closed. A Listener stops accepting when destroyed.
#pragma once

#include <micro/broker.hpp>  // Header
#include <micro/driver_handle.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace micro {

/// One received message, borrowed for the handler call.
struct TransportMessageView {
    std::span<const micro_kv> headers{};
    std::string_view body{};
    std::string_view header(std::string_view key) const noexcept;
};

struct ConnectionHandlers {
    std::function<void(const TransportMessageView&)> onMessage;
    std::function<void()> onWritable;
    std::function<void(Code, std::string_view reason)> onClose;
};

class Transport;

/// When a sent message must leave the calling thread.
enum class SendTiming : std::uint8_t {
    /// An idle connection writes it from the calling thread at once: the
    /// lowest latency for a message on its own.
    kNow,
    /// More messages follow shortly (MICRO_SEND_MORE_FOLLOWS): the transport
    /// may leave this one to its I/O thread, to go out in one write with
    /// them. It is still written without any further call.
    kMoreFollows,
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
    /// Queue one message. Returns false when the connection's buffer is full
    /// (wait for onWritable); throws UNAVAILABLE once closed.
    bool send(std::span<const Header> headers, std::string_view body,
              SendTiming timing = SendTiming::kNow);
    /// Begin an orderly close; onClose follows.
    void close() noexcept;
    bool closed() const noexcept;

    struct State;
    explicit Connection(std::shared_ptr<State> state);

 private:
    std::shared_ptr<State> state_;
};

class Listener {
 public:
    Listener() noexcept;
    Listener(Listener&&) noexcept;
    Listener& operator=(Listener&&) noexcept;
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;
    ~Listener();
    /// The bound address (the port is filled in when ":0" was asked).
    const std::string& address() const noexcept;
    void stop() noexcept;

 private:
    friend class Transport;
    struct State;
    std::unique_ptr<State> state_;
};

class Transport {
 public:
    explicit Transport(DriverHandle handle);

    using AcceptHandler = std::function<ConnectionHandlers(std::shared_ptr<Connection>)>;

    Listener listen(std::string_view address, AcceptHandler onAccept);
    std::shared_ptr<Connection> dial(std::string_view address, std::chrono::milliseconds timeout,
                                     ConnectionHandlers handlers);

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_transport_driver* table_;
};

}  // namespace micro
