// plugins/tcp/tcp_transport.hpp — transport driver "tcp": ordered messages
// {headers, body} over TCP, one frame per message (see frame.hpp).
//
// Contract
//   Addresses: "HOST:PORT" or "[IPV6]:PORT", optionally with "tcp://" (see
//     address.hpp); HOST may be a name, resolved at listen/dial time. Bad
//     syntax -> INVALID_ARGUMENT naming the address. listen on port 0 picks a
//     free port and reports the bound "IP:PORT"; a port in use ->
//     ALREADY_EXISTS. dial honours timeout_ms (<= 0: only the system's own
//     connect timeout); refused, unreachable, unresolvable or timed out ->
//     UNAVAILABLE naming the address.
//   Config: io_threads (default: half the CPUs the process may use, at
//     least 1; transport_common/io_threads.hpp): io_contexts, one thread
//     each; connections are spread over them round-robin and each stays on
//     its own.
//     max_frame_bytes (4194304): the largest frame accepted or sent (its
//     length prefix excluded); a bigger send is INVALID_ARGUMENT, a bigger
//     incoming frame closes that connection. frame_timeout_ms (10000; 0 = no
//     limit): how long a frame may stay incomplete. max_queued_bytes
//     (8388608): send returns false (RESOURCE_EXHAUSTED) while this much is
//     queued and unwritten. keepalive (true): TCP keepalive on every socket.
//     Unknown keys are refused. TCP_NODELAY is always on.
//   Threads: listen, unlisten and dial may block (resolution, connect); send
//     and close never do and never run an event; every event of a connection
//     runs on its io thread (see tcp_connection.hpp for reading, writing,
//     back-pressure and close).
//   Lifetime: a connection handle is valid until its on_close returns.
//     unlisten stops accepting (the port refuses dials once it returns) and
//     waits for an accept handler of that listener running on another thread;
//     connections already accepted live on. Destroy unlistens everything,
//     closes every connection in an orderly way (on_close(OK) for each; at
//     most 2 s for unwritten data), then joins its threads: after it returns
//     no callback runs.
#pragma once

#include <micro/driver/transport.hpp>

#include <cstdint>
#include <memory>
#include <string_view>

namespace micro::tcp {

class TcpTransport {
 public:
    explicit TcpTransport(const driver::Context& ctx);
    ~TcpTransport();
    TcpTransport(const TcpTransport&) = delete;
    TcpTransport& operator=(const TcpTransport&) = delete;

    void* listen(std::string_view address, micro_accept_handler handler, driver::StringSink& bound);
    void unlisten(void* listener) noexcept;
    void* dial(std::string_view address, std::int64_t timeoutMs, micro_connection_events events);
    bool send(void* connection, const micro_transport_message& message);
    void close(void* connection) noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro::tcp
