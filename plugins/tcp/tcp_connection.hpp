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
//     thread. Queued frames are coalesced into one buffer per write. When
//     the queue holds more than max_queued_bytes, send returns false, and
//     on_writable follows once it has drained below half of that.
//   Closing: close() stops delivery, then (on the io thread) flushes the
//     queue for at most 2 s, shuts down the sending side and reports
//     on_close(OK, "closed"); the socket is closed once the peer has closed
//     its side too (or 2 s later). A peer that closes between frames gives
//     on_close(OK, "peer closed"); a reset, or an end mid-frame, gives
//     UNAVAILABLE. on_close runs exactly once and last; a send once the
//     connection is closing throws UNAVAILABLE.
//   Lifetime: the transport keeps a shared_ptr until on_close has returned;
//     pending I/O keeps its own. The raw pointer is the ABI handle.
#pragma once

#include <micro/abi.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <micro/transport_common/byte_buffer.hpp>
#include <micro/transport_common/io_worker.hpp>

namespace micro::tcp {

using transport_common::ByteBuffer;

/// The driver's config, as every connection needs it.
struct Settings {
    std::size_t ioThreads = 2;
    std::uint32_t maxFrameBytes = 4u << 20;
    std::chrono::milliseconds frameTimeout{10000};  // 0: no limit
    std::size_t maxQueuedBytes = 8u << 20;
    bool keepalive = true;
};

class TcpConnection;

using IoWorker = transport_common::IoWorker<TcpConnection>;
using ConnectionOwner = transport_common::ConnectionOwner<TcpConnection>;

class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
 public:
    TcpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner);
    ~TcpConnection();
    TcpConnection(const TcpConnection&) = delete;
    TcpConnection& operator=(const TcpConnection&) = delete;

    IoWorker& worker() noexcept { return worker_; }
    boost::asio::ip::tcp::socket& socket() noexcept { return socket_; }
    micro_connection_events* events() noexcept { return &events_; }
    const std::string& remoteAddress() const noexcept { return remote_; }

    /// Connect (blocking, at most `timeout`; <= 0: no limit of ours). On
    /// failure returns a message naming why; the socket is closed again.
    std::string connect(const boost::asio::ip::tcp::endpoint& to,
                        std::chrono::milliseconds timeout);
    /// Apply the socket options (TCP_NODELAY, keepalive, non-blocking) and
    /// note the peer's address. Before start().
    void configure();
    /// Begin reading. On the io thread, after the core knows the connection.
    void start() noexcept;
    /// Drop a connection the core never saw (no events). On the io thread.
    void discard() noexcept;

    /// [thread-safe][non-blocking] false: the queue is full (see header).
    bool send(const micro_transport_message& message);
    /// [thread-safe][non-blocking]
    void close() noexcept;

    /// Write what is queued. On the io thread, by whoever set flushing_.
    void flush() noexcept;

 private:
    enum class State : std::uint8_t { kOpen, kClosing, kClosed };

    void readSome();
    void onRead(const boost::system::error_code& ec, std::size_t n) noexcept;
    void processFrames();
    void onPeerEof();
    void armFrameTimer();
    void onFrameTimer(const boost::system::error_code& ec) noexcept;
    void onWritten(const boost::system::error_code& ec) noexcept;
    bool takeWritable() noexcept;  // under mutex_
    void beginClose(micro_code code, std::string reason) noexcept;
    void finishClose() noexcept;
    void fail(micro_code code, const std::string& reason) noexcept;
    void closeSocket() noexcept;
    void deliverClose(micro_code code, const std::string& reason) noexcept;
    std::string closedMessage() const;  // under mutex_

    IoWorker& worker_;
    const Settings settings_;  // a copy: draining connections may outlive the transport
    ConnectionOwner& owner_;
    boost::asio::ip::tcp::socket socket_;
    int fd_ = -1;
    micro_connection_events events_{};
    std::string remote_;

    // Shared with senders; guarded by mutex_ (state_ is also read without it
    // on the io thread, which is the only one that moves it past kClosing).
    std::mutex mutex_;
    std::atomic<State> state_{State::kOpen};
    ByteBuffer out_;             // encoded frames not yet handed to a write
    std::size_t inflight_ = 0;   // bytes of writing_ not yet confirmed
    bool flushing_ = false;      // the io thread owes (or runs) a flush
    bool wantWritable_ = false;  // a send was refused: owe on_writable
    std::string closeReason_;    // why the connection stopped, for send

    // The io thread's alone.
    ByteBuffer writing_;             // the bytes of the write in flight
    ByteBuffer in_;                  // received bytes not yet delivered
    std::vector<micro_kv> headers_;  // views into in_ for on_message
    std::size_t needed_ = 0;         // size of the incomplete frame in in_, when known
    std::size_t growTo_ = 0;         // read buffer size for a peer that streams
    bool midFrame_ = false;
    std::chrono::steady_clock::time_point frameStart_;
    bool frameTimerArmed_ = false;
    boost::asio::steady_timer frameTimer_;
    boost::asio::steady_timer closeTimer_;
    bool closeRequested_ = false;  // beginClose ran: flushing before on_close
    micro_code closeCode_ = MICRO_OK;
    std::string closeMessage_;
    bool peerEof_ = false;
    bool closeDelivered_ = false;
};

}  // namespace micro::tcp
