// plugins/http/http_transport.hpp — transport driver "http": ordered
// messages {headers, body} over HTTP/1.1 and WebSocket on one port.
//
// Contract
//   Addresses: as the tcp transport, with an optional "http://" and trailing
//     "/" (see address.hpp). Bad syntax -> INVALID_ARGUMENT naming the
//     address; a port in use -> ALREADY_EXISTS; a refused, unreachable or
//     timed-out dial, or a peer that does not complete the WebSocket upgrade
//     -> UNAVAILABLE naming the address.
//   Accepted connections: plain HTTP/1.1 (`POST /` calls an endpoint, see
//     README.md "Mapping") or, after `GET /` with `Upgrade: websocket`, one
//     WebSocket message per transport message. Dialled connections are always
//     WebSocket, so every message the core sends (streams, credit, cancels,
//     messages a server starts) travels unchanged.
//   Config (every key optional; unknown keys and values out of range are
//     refused naming the key): io_threads (half the CPUs the process may
//     use, at least 1; transport_common/io_threads.hpp), max_header_bytes (65536),
//     max_body_bytes (4194304; also the WebSocket message limit),
//     header_timeout_ms (10000), body_timeout_ms (30000; 0 = none),
//     idle_timeout_ms (60000; 0 = none), max_queued_bytes (8388608),
//     max_pipelined (16).
//   Threads: listen, unlisten and dial may block (resolution, connect, the
//     WebSocket upgrade); send and close never do and never run an event;
//     every event of a connection runs on its io thread.
//   Lifetime: a connection handle is valid until its on_close returns.
//     unlisten stops accepting (the port refuses dials once it returns) and
//     waits for an accept handler of that listener running on another thread;
//     accepted connections live on. Destroy unlistens everything, closes
//     every connection (on_close(OK) for each), then joins its threads.
#pragma once

#include <micro/driver/transport.hpp>

#include <cstdint>
#include <memory>
#include <string_view>

namespace micro::http {

class HttpTransport {
 public:
    explicit HttpTransport(const driver::Context& ctx);
    ~HttpTransport();
    HttpTransport(const HttpTransport&) = delete;
    HttpTransport& operator=(const HttpTransport&) = delete;

    void* listen(std::string_view address, micro_accept_handler handler, driver::StringSink& bound);
    void unlisten(void* listener) noexcept;
    void* dial(std::string_view address, std::int64_t timeoutMs, micro_connection_events events);
    bool send(void* connection, const micro_transport_message& message);
    void close(void* connection) noexcept;

 private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro::http
