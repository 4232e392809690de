// plugins/tcp/tcp_connection.hpp — one TCP connection of the tcp transport,
// and the io thread that serves it.
//
// Contract
//   Threads: every connection belongs to one IoWorker (one io_context run by
//     one thread) and every event of the connection (on_message, on_writable,
//     on_close, and the accept handler for an accepted one) runs on that
//     thread, so they are never concurrent and need no strand. send and close
//     may be called from any thread; neither ever calls an event.
//   Reading: frames are parsed in place in a per-connection buffer that is
//     reused (it grows to the largest frame seen, and shrinks back after one
//     over 1 MiB); on_message gets views that are valid during the call only.
//     A length over max_frame_bytes is refused from the 4-byte prefix alone,
//     before any buffer grows. A malformed frame closes the connection with
//     INVALID_ARGUMENT; a frame still incomplete frame_timeout_ms after its
//     first byte arrived closes it with DEADLINE_EXCEEDED. Idle time between
//     frames is never limited.
//   Writing: send encodes the frame into the connection's queue under a small
//     mutex. Called on the connection's own io thread (from inside an event)
//     it only queues: the queue is written once that event returns, so the
//     replies to a batch of frames leave in one write. Called on any other
//     thread with nothing queued, it writes to the socket right away without
//     blocking; whatever the socket does not take is written by the io
//     thread. A message marked MICRO_SEND_MORE_FOLLOWS is left to the io
//     thread instead, to leave with what follows. Queued frames are
//     coalesced into one buffer per write. When the queue holds more than
//     max_queued_bytes, send returns false, and on_writable follows once it
//     has drained below half of that.
//   Closing: close() stops delivery, then (on the io thread) flushes the
//     queue for at most 2 s, shuts down the sending side and reports
//     on_close(OK, "closed"); the socket is closed once the peer has closed
//     its side too (or 2 s later). A peer that closes between frames gives
//     on_close(OK, "peer closed"); a reset, or an end mid-frame, gives
//     UNAVAILABLE. on_close runs exactly once and last; a send once the
//     connection is closing throws UNAVAILABLE.
//   Lifetime: the transport keeps a shared_ptr until on_close has returned;
//     pending I/O keeps its own. The raw pointer is the ABI handle.
//   Shape: the socket, the write path and the orderly close are
//     transport_common::StreamConnection's, shared with the http transport;
//     this class adds the framing, reading and the frame timeout.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <vector>

// StreamConnection brings the socket, the send queue and the orderly close,
// and with them Asio, ByteBuffer and IoWorker.
#include <micro/transport_common/stream_connection.hpp>

namespace micro::tcp {

using transport_common::ByteBuffer;

/// The tcp driver's config (see tcp_transport.hpp), which every connection reads.
struct Settings {
    std::size_t ioThreads = 1;  // read as transport_common::defaultIoThreads() when unset
    std::uint32_t maxFrameBytes = 4u << 20;
    std::chrono::milliseconds frameTimeout{10000};  // 0: no limit
    std::size_t maxQueuedBytes = 8u << 20;
    bool keepalive = true;
};

class TcpConnection;

using IoWorker = transport_common::IoWorker<TcpConnection>;
using ConnectionOwner = transport_common::ConnectionOwner<TcpConnection>;

class TcpConnection final : public transport_common::StreamConnection<TcpConnection> {
 public:
    TcpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner);
    ~TcpConnection();

    /// Apply the socket options (TCP_NODELAY, keepalive, non-blocking) and
    /// note the peer's address. Before start().
    void configure();
    /// Begin reading. On the io thread, after the core knows the connection.
    void start() noexcept;
    /// Drop a connection the core never saw (no events). On the io thread.
    void discard() noexcept;

    /// [thread-safe][non-blocking] false: the queue is full (see header).
    bool send(const micro_transport_message& message);

    /// Write what is queued. On the io thread, by whoever set flushing_.
    void flush() noexcept;

 private:
    friend class transport_common::StreamConnection<TcpConnection>;
    friend class transport_common::DrainedRead<TcpConnection>;

    void readSome();
    void onRead(const boost::system::error_code& ec, std::size_t n) noexcept;
    void processFrames();
    void onPeerEof();
    void armFrameTimer();
    void onFrameTimer(const boost::system::error_code& ec) noexcept;

    // StreamConnection's hooks (see stream_connection.hpp).
    void onCloseBegun() noexcept;
    void awaitPeerEof() noexcept {}  // reading goes on until the peer's end
    void clearLocked() noexcept {}
    void onSocketClosed() noexcept;
    bool announced() const noexcept { return true; }  // the core knows it from the start

    const Settings settings_;  // a copy: draining connections may outlive the transport

    // The io thread's alone.
    ByteBuffer in_;                  // received bytes not yet delivered
    std::vector<micro_kv> headers_;  // views into in_ for on_message
    std::size_t needed_ = 0;         // size of the incomplete frame in in_, when known
    std::size_t growTo_ = 0;         // read buffer size for a peer that streams
    bool midFrame_ = false;
    std::chrono::steady_clock::time_point frameStart_;
    bool frameTimerArmed_ = false;
    boost::asio::steady_timer frameTimer_;
};

}  // namespace micro::tcp
