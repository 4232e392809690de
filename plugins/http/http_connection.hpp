// plugins/http/http_connection.hpp — one connection of the http transport,
// and the io thread that serves it.
//
// Contract
//   Modes: an accepted connection starts in HTTP mode: each request is
//     parsed with Beast's request parser; a `POST /` becomes one RPC request
//     frame for the core (see http_mapping.hpp) and the core's reply frame
//     for it becomes the HTTP response, in request order (pipelining). A
//     `GET /` with `Upgrade: websocket` switches it to WebSocket mode, where
//     every transport message is one binary WebSocket message (see
//     envelope.hpp). A dialled connection is in WebSocket mode from the
//     start. The core hears of an accepted connection (the accept handler)
//     only once its first request says which mode it is in.
//   Threads: every connection belongs to one IoWorker (one io_context run by
//     one thread) and every event of it runs there, so events are never
//     concurrent. send and close may be called from any thread and never
//     run an event.
//   Limits: a header block over max_header_bytes is answered 431, a body
//     over max_body_bytes 413 (from Content-Length, before it is read),
//     a request that does not parse 400, one whose header is not complete
//     header_timeout_ms after its first byte (or whose body is not complete
//     body_timeout_ms after its header) 408; each then closes the
//     connection. A keep-alive connection idle for idle_timeout_ms is
//     closed. At most max_pipelined requests wait for their replies; reading
//     pauses beyond that. In WebSocket mode a message over max_body_bytes is
//     refused from its frame header (close 1009), a protocol error closes
//     with 1002, an incomplete frame older than body_timeout_ms with 1008.
//     Memory per connection is bounded by these limits plus max_queued_bytes.
//   Writing: as in the tcp transport: sends from the connection's own io
//     thread are written after the event returns; from another thread they
//     are written at once when nothing is queued. send returns false while
//     max_queued_bytes are unwritten, and on_writable follows below half.
//   Closing: close() stops delivery, flushes (at most 2 s), sends a
//     WebSocket close frame in WebSocket mode, shuts down the sending side
//     and reports on_close(OK, "closed"); the socket closes once the peer
//     has closed too (or 2 s later). on_close runs exactly once and last
//     (only for a connection the core was told of); send once closing
//     throws UNAVAILABLE.
//   Lifetime: the transport keeps a shared_ptr until on_close has returned;
//     pending I/O keeps its own. The raw pointer is the ABI handle.
//   Shape: the socket, the write path and the orderly close are
//     transport_common::StreamConnection's, shared with the tcp transport;
//     this class adds HTTP, WebSocket, the pipeline and their timeouts.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

// The socket, the send queue and closing (and with them Asio, ByteBuffer
// and IoWorker) come from StreamConnection.
#include <micro/transport_common/stream_connection.hpp>

#include "request_parser.hpp"

namespace micro::http {

using transport_common::ByteBuffer;

/// The http driver's config (see http_transport.hpp), which every connection
/// reads.
struct Settings {
    std::size_t ioThreads = 1;  // read as transport_common::defaultIoThreads() when unset
    std::size_t maxHeaderBytes = 64u << 10;
    std::size_t maxBodyBytes = 4u << 20;
    std::chrono::milliseconds headerTimeout{10000};
    std::chrono::milliseconds bodyTimeout{30000};
    std::chrono::milliseconds idleTimeout{60000};
    std::size_t maxQueuedBytes = 8u << 20;
    std::size_t maxPipelined = 16;
};

class HttpConnection;

using IoWorker = transport_common::IoWorker<HttpConnection>;
using ConnectionOwner = transport_common::ConnectionOwner<HttpConnection>;

/// Tells the core of an accepted connection (its accept handler), on the
/// connection's io thread. False: the listener was stopped meanwhile.
class Announcer {
 public:
    virtual bool announce(HttpConnection& connection) noexcept = 0;

 protected:
    ~Announcer() = default;
};

class HttpConnection final : public transport_common::StreamConnection<HttpConnection> {
 public:
    /// `announcer` is the listener for an accepted connection, null for a
    /// dialled one.
    HttpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner,
                   std::shared_ptr<Announcer> announcer);
    ~HttpConnection();

    /// The client's WebSocket upgrade on a connected socket (blocking, until
    /// `deadline`). On failure returns a message naming why.
    std::string handshake(const std::string& host, std::chrono::steady_clock::time_point deadline);
    /// Apply the socket options (TCP_NODELAY, non-blocking) and note the
    /// peer's address. Before start().
    void configure();
    /// Begin reading. On the io thread, after the core knows the connection
    /// (dialled) or once the listener adopted it (accepted).
    void start() noexcept;
    /// Drop a connection the core never saw (no events). On the io thread.
    void discard() noexcept;

    /// [thread-safe][non-blocking] false: the queue is full (see header).
    bool send(const micro_transport_message& message);

    /// Write what is queued. On the io thread, by whoever set flushing_.
    void flush() noexcept;

 private:
    friend class transport_common::StreamConnection<HttpConnection>;
    friend class transport_common::DrainedRead<HttpConnection>;

    enum class Phase : std::uint8_t { kIdle, kHeader, kBody, kWaiting, kWebSocket };

    struct Pending {
        std::uint64_t id = 0;
        std::string clientId;
        bool keepAlive = true;
        bool done = false;
        micro_code closeCode = MICRO_OK;  // when !keepAlive: why the connection ends
        std::string closeReason;
        std::string bytes;
    };

    // reading (io thread)
    void pump() noexcept;
    void readSome();
    void onRead(const boost::system::error_code& ec, std::size_t n) noexcept;
    void process();
    void processHttp();
    void processWs();
    void handleRequest(const ParsedRequest& request, bool keepAlive);
    void upgrade(const ParsedRequest& request);
    bool announce() noexcept;
    void refuse(int status, micro_code code, std::string detail, bool fatal,
                std::string_view allow = {});
    void deliverWs(const std::uint8_t* payload, std::size_t size);
    void wsFail(std::uint16_t wsCode, micro_code code, const std::string& reason);
    void updateDeadline();
    void setDeadline(std::chrono::steady_clock::time_point at);
    void armTimer();
    void onTimer(const boost::system::error_code& ec) noexcept;
    void onPeerEof();

    // writing
    // lock held on entry, released; moreFollows: MICRO_SEND_MORE_FOLLOWS
    void scheduleFlush(std::unique_lock<std::mutex>& lock, bool moreFollows = false);
    void queueFrame(std::uint8_t opcode, const std::uint8_t* payload,
                    std::size_t size);  // under mutex_
    void moveReady();                   // under mutex_
    // The next frame mask (under mutex_): `mask`, or null on the server side.
    const std::uint8_t* nextMask(std::uint8_t (&mask)[4]) noexcept;
    std::size_t pendingCount() noexcept;
    void pendingChanged() noexcept;  // under mutex_, after pending_ changed size
    bool sendReply(const micro_transport_message& message, std::unique_lock<std::mutex>& lock);

    // StreamConnection's hooks (see stream_connection.hpp).
    void onCloseBegun() noexcept;
    void awaitPeerEof() noexcept;
    void clearLocked() noexcept {
        pending_.clear();
        pendingChanged();
    }
    void onSocketClosed() noexcept;
    bool announced() const noexcept { return announced_; }

    const Settings settings_;  // a copy: draining connections may outlive the transport
    std::shared_ptr<Announcer> announcer_;
    const bool client_;

    // Shared with senders; guarded by mutex_ (wsMode_ is also read without
    // it on the io thread, the only one that moves it).
    std::atomic<bool> wsMode_{false};
    std::deque<Pending> pending_;              // HTTP requests awaiting replies, in order
    std::atomic<std::size_t> pendingSize_{0};  // pending_.size(), readable without mutex_
    bool closeAfterFlush_ = false;             // a response ending the connection is queued
    micro_code closeAfterCode_ = MICRO_OK;
    std::string closeAfterReason_;
    bool wsCloseSent_ = false;
    std::uint64_t maskState_ = 0;  // client frames' masks

    // The io thread's alone.
    ByteBuffer in_;
    std::optional<RequestParser> parser_;  // the request being read, into request_
    ParsedRequest request_;                // reused: a request allocates nothing
    Phase phase_ = Phase::kIdle;
    std::chrono::steady_clock::time_point eventAt_;  // when the current read event began
    std::chrono::steady_clock::time_point phaseStart_;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    std::chrono::steady_clock::time_point timerAt_;
    bool timerArmed_ = false;
    bool readPending_ = false;
    std::atomic<bool> paused_{false};  // the pipeline is full: not reading
    bool stopRequests_ = false;        // no request is read after this one
    bool announced_ = false;
    bool continueSent_ = false;
    std::uint64_t nextId_ = 1;
    std::size_t needed_ = 0;  // WebSocket: size of the incomplete frame in in_
    std::vector<micro_kv> headers_;
    ByteBuffer wsMessage_;  // a fragmented message being assembled
    bool wsInMessage_ = false;
    boost::asio::steady_timer timer_;
};

}  // namespace micro::http
