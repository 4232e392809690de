// micro/transport_common/stream_connection.hpp — what every connection of a
// socket transport does the same way: the send queue and its flush, the
// back-pressure signal, and the orderly close.
//
// Contract
//   Shape: CRTP; `Derived` (made with std::make_shared) reads its own
//     protocol and encodes its own messages into out_, and provides, all on
//     the io thread and noexcept:
//       void flush();            // calls writeQueued(), then its own events
//       void onPeerEof();        // the peer ended its stream (readFailed)
//       void onCloseBegun();     // beginClose: stop reading, drop input
//       void awaitPeerEof();     // on_close delivered, the peer's EOF not seen
//       void clearLocked();      // closeSocket, under mutex_: drop queues
//       void onSocketClosed();   // closeSocket, after the socket closed
//       bool announced() const;  // the core was told of it: owes on_close
//   Threads: every event runs on the connection's IoWorker thread. send
//     (the derived one, via scheduleFlush) and close may be called from any
//     thread and never run an event. mutex_ guards what senders share with
//     the io thread; state_ is also read without it on the io thread, the
//     only one that moves it past kClosing.
//   Writing: bytes appended to out_ under mutex_ are flushed by the io
//     thread once the running event returns (one write for all of them);
//     from another thread with nothing in flight they are written at once
//     without blocking, and the rest is the io thread's, unless the sender
//     said more follows: then the io thread writes them all. A flush writes
//     at most kMaxFlushRounds times in a row, then yields the thread. A
//     partial write is finished by Asio when the socket drains.
//     takeWritable() says when a refused sender is owed on_writable (the
//     queue drained below half of maxQueuedBytes).
//   Closing: close() posts beginClose(OK, "closed"); beginClose flushes for
//     at most 2 s, shuts down the sending side and delivers on_close once;
//     the socket closes once the peer has closed its side too (or 2 s
//     later). fail() closes at once and delivers on_close with its code.
//     A write error fails the connection with UNAVAILABLE; out of memory
//     with RESOURCE_EXHAUSTED.
//   Lifetime: the transport keeps a shared_ptr until on_close has returned
//     (the owner's forget); pending I/O keeps its own.
#pragma once

#include <micro/abi.h>
#include <micro/abi_view.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <micro/transport_common/address.hpp>
#include <micro/transport_common/byte_buffer.hpp>
#include <micro/transport_common/connect.hpp>
#include <micro/transport_common/drained_read.hpp>
#include <micro/transport_common/io_worker.hpp>
#include <micro/transport_common/socket_calls.hpp>

namespace micro::transport_common {

template <typename Derived>
class StreamConnection : public std::enable_shared_from_this<Derived> {
 public:
    using Worker = IoWorker<Derived>;
    using Owner = ConnectionOwner<Derived>;

    StreamConnection(const StreamConnection&) = delete;
    StreamConnection& operator=(const StreamConnection&) = delete;

    Worker& worker() noexcept { return worker_; }
    Socket& socket() noexcept { return socket_; }
    micro_connection_events* events() noexcept { return &events_; }
    const std::string& remoteAddress() const noexcept { return remote_; }

    /// Connect (blocking, at most `timeout`; <= 0: no limit of ours). On
    /// failure returns a message naming why; the socket is closed again.
    std::string connect(const boost::asio::ip::tcp::endpoint& to,
                        std::chrono::milliseconds timeout) {
        return connectSocket(socket_, to, timeout);
    }

    /// [thread-safe][non-blocking] Stop delivery and close in order.
    void close() noexcept {
        {
            std::lock_guard lock(mutex_);
            if (state_.load(std::memory_order_relaxed) != State::kOpen) return;
            state_ = State::kClosing;
        }
        try {
            boost::asio::post(worker_.context(), [self = this->shared_from_this()] {
                self->beginClose(MICRO_OK, "closed");
            });
        } catch (...) {
            // Out of memory: nothing more can be done from this thread.
        }
    }

 protected:
    enum class State : std::uint8_t { kOpen, kClosing, kClosed };

    static constexpr std::size_t kKeepBuffer = 1u << 20;  // give back more than this once idle
    static constexpr auto kCloseTimeout = std::chrono::milliseconds(2000);
    static constexpr int kMaxFlushRounds = 16;  // writes in a row before yielding the io thread

    StreamConnection(Worker& worker, Owner& owner, std::size_t maxQueuedBytes)
        : worker_(worker),
          owner_(owner),
          maxQueuedBytes_(maxQueuedBytes),
          socket_(worker.context()),
          reader_(socket_),
          closeTimer_(worker.context()) {}
    ~StreamConnection() = default;

    /// TCP_NODELAY, optionally keepalive, non-blocking; note the peer's
    /// address. Before reading starts.
    void configureSocket(bool keepalive) {
        boost::system::error_code ec;
        socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
        if (keepalive) socket_.set_option(boost::asio::socket_base::keep_alive(true), ec);
        socket_.non_blocking(true, ec);
        fd_ = socket_.native_handle();
        auto peer = socket_.remote_endpoint(ec);
        if (!ec) remote_ = formatAddress(peer.address().to_string(), peer.port());
    }

    /// Have out_ written: `lock` holds mutex_ on entry and is released.
    /// `mayFinish()` (under mutex_) says whether a write from another thread
    /// that took everything may end the flush there, with no io-thread work
    /// owed. `moreFollows`: the sender has more to send shortly
    /// (MICRO_SEND_MORE_FOLLOWS), so the io thread writes it with them.
    template <typename MayFinish>
    void scheduleFlush(std::unique_lock<std::mutex>& lock, MayFinish&& mayFinish,
                       bool moreFollows) {
        if (flushing_ || out_.empty()) return;  // the io thread takes it with what is queued
        flushing_ = true;
        if (worker_.current()) {
            // Inside one of this connection's events: write once it returns,
            // together with whatever else it sends.
            lock.unlock();
            worker_.deferFlush(this->shared_from_this());
            return;
        }
        if (moreFollows) {
            // One post now, and the sends that follow before the io thread
            // runs it only queue: one write for all of them, where writing
            // here would cost a system call for each.
            lock.unlock();
            postFlush();
            return;
        }
        // Another thread, nothing in flight: write now if the socket takes it.
        // Under the mutex, so the io thread cannot close the socket meanwhile.
        const ssize_t n = sendBytes(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0 && static_cast<std::size_t>(n) == out_.size() && mayFinish()) {
            out_.clear();
            flushing_ = false;
            return;
        }
        if (n > 0) out_.consume(static_cast<std::size_t>(n));
        lock.unlock();
        // The rest (or the error, which the io thread reports) is the io thread's.
        postFlush();
    }

    /// Hand the flush that scheduleFlush claimed (flushing_) to the io
    /// thread. Should even that fail (out of memory), the claim is given
    /// back, so that a later send schedules again, and the sender gets the
    /// error.
    void postFlush() {
        try {
            boost::asio::post(worker_.context(),
                              [self = this->shared_from_this()] { self->flush(); });
        } catch (...) {
            std::lock_guard lock(mutex_);
            flushing_ = false;
            throw;
        }
    }

    /// The queue is full for `bytes` more: note that on_writable is owed.
    /// Under mutex_.
    bool queueFull(std::size_t bytes) noexcept {
        const std::size_t queued = out_.size() + inflight_;
        if (queued != 0 && queued + bytes > maxQueuedBytes_) {
            wantWritable_ = true;
            return true;
        }
        return false;
    }

    /// The write loop of flush(), by whoever set flushing_. `writable` is set
    /// when on_writable is owed. `onDrained()` runs under mutex_ once out_ is
    /// empty. False: the connection failed or is closed, do nothing more.
    template <typename OnDrained>
    bool writeQueued(bool& writable, OnDrained&& onDrained) noexcept {
        bool yield = false;
        for (int round = 0;; ++round) {
            {
                std::lock_guard lock(mutex_);
                inflight_ = 0;  // writing_ is empty whenever this runs
                writable = takeWritable() || writable;
                if (state_.load(std::memory_order_relaxed) == State::kClosed) {
                    flushing_ = false;
                    return false;
                }
                if (out_.empty()) {
                    flushing_ = false;
                    out_.release(kKeepBuffer);
                    onDrained();
                    break;
                }
                if (round == kMaxFlushRounds) {
                    yield = true;  // flushing_ stays set: the posted flush owns it
                    break;
                }
                out_.swap(writing_);
                inflight_ = writing_.size();
            }
            const ssize_t n =
                sendBytes(fd_, writing_.data(), writing_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0 && static_cast<std::size_t>(n) == writing_.size()) {
                writing_.clear();
                writing_.release(kKeepBuffer);
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                const int e = errno;
                writing_.clear();
                fail(MICRO_UNAVAILABLE, "write failed: " + errnoText(e));
                return false;
            }
            // The socket is full: let Asio finish this write when it drains.
            const std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
            try {
                boost::asio::async_write(
                    socket_, boost::asio::buffer(writing_.data() + done, writing_.size() - done),
                    [self = this->shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t) { self->onWritten(ec); });
            } catch (...) {
                fail(MICRO_RESOURCE_EXHAUSTED, "out of memory starting a write");
                return false;
            }
            break;
        }
        if (yield) {
            try {
                boost::asio::post(worker_.context(),
                                  [self = this->shared_from_this()] { self->flush(); });
            } catch (...) {
                fail(MICRO_RESOURCE_EXHAUSTED, "out of memory scheduling a write");
                return false;
            }
        }
        return true;
    }

    /// A read ended with error `ec`: the peer's end of stream (onPeerEof),
    /// the peer's reset once on_close was delivered (close the socket), or a
    /// failure (on_close UNAVAILABLE). Cancelled reads are ignored.
    void readFailed(const boost::system::error_code& ec) noexcept {
        if (ec == boost::asio::error::operation_aborted) return;
        if (ec == boost::asio::error::eof) {
            derived().onPeerEof();
        } else if (closeDelivered_) {
            closeSocket();
        } else {
            fail(MICRO_UNAVAILABLE, ec == boost::asio::error::connection_reset
                                        ? "connection reset by peer"
                                        : "read failed: " + ec.message());
        }
    }

    /// Deliver on_writable when `writable` (from writeQueued) says it is owed.
    void notifyWritable(bool writable) noexcept {
        if (writable && events_.on_writable != nullptr) {
            typename Worker::Scope scope(worker_);
            events_.on_writable(events_.ctx);
        }
    }

    /// Begin an orderly close (see Closing); on the io thread.
    void beginClose(micro_code code, std::string reason) noexcept {
        if (closeRequested_ || closeDelivered_ || state_.load() == State::kClosed) return;
        closeRequested_ = true;
        closeCode_ = code;
        closeMessage_ = std::move(reason);
        derived().onCloseBegun();
        try {
            closeTimer_.expires_after(kCloseTimeout);
            closeTimer_.async_wait(
                [self = this->shared_from_this()](const boost::system::error_code& ec) {
                    if (ec || self->state_.load() == State::kClosed) return;
                    if (self->closeDelivered_) {
                        self->closeSocket();  // the peer never closed its side
                    } else {
                        self->fail(MICRO_DEADLINE_EXCEEDED,
                                   "close: queued messages not written within 2000 ms (peer not "
                                   "reading)");
                    }
                });
        } catch (...) {
            // Without the timer the close still completes when the flush does.
        }
        finishClose();
    }

    /// Once the queue is written: shut down the sending side, deliver
    /// on_close. flush() calls it again while a close is requested.
    void finishClose() noexcept {
        if (!closeRequested_ || closeDelivered_) return;
        {
            std::lock_guard lock(mutex_);
            if (flushing_) return;  // flush() comes back here once the queue is written
        }
        boost::system::error_code ec;
        socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
        deliverClose(closeCode_, closeMessage_);
        // The socket itself closes once the peer has closed its side too, so
        // what it sent last is not answered with a reset.
        if (peerEof_) {
            closeSocket();
        } else {
            derived().awaitPeerEof();
        }
    }

    /// Close at once and deliver on_close(code, reason).
    void fail(micro_code code, const std::string& reason) noexcept {
        try {
            std::lock_guard lock(mutex_);
            if (closeReason_.empty()) closeReason_ = "connection closed: " + reason;
        } catch (...) {
        }
        closeSocket();
        deliverClose(code, reason);
    }

    void closeSocket() noexcept {
        {
            std::lock_guard lock(mutex_);
            state_ = State::kClosed;
            out_.clear();
            derived().clearLocked();
            wantWritable_ = false;
        }
        boost::system::error_code ec;
        socket_.close(ec);
        closeTimer_.cancel();
        derived().onSocketClosed();
    }

    /// on_close, exactly once, then the owner forgets the connection.
    void deliverClose(micro_code code, const std::string& reason) noexcept {
        if (closeDelivered_) return;
        closeDelivered_ = true;
        {
            std::lock_guard lock(mutex_);
            if (state_.load(std::memory_order_relaxed) == State::kOpen) state_ = State::kClosing;
        }
        if (derived().announced() && events_.on_close != nullptr) {
            typename Worker::Scope scope(worker_);
            events_.on_close(events_.ctx, code, abi::str(reason));
        }
        owner_.forget(derived());
    }

    /// Why a send fails now. Under mutex_.
    std::string closedMessage() const {
        return closeReason_.empty() ? std::string("connection is closed") : closeReason_;
    }

    Worker& worker_;
    Owner& owner_;
    const std::size_t maxQueuedBytes_;
    Socket socket_;
    DrainedRead<Derived> reader_;  // the io thread's: one read at a time
    int fd_ = -1;
    micro_connection_events events_{};
    std::string remote_;

    // Shared with senders; guarded by mutex_ (see Threads for state_).
    std::mutex mutex_;
    std::atomic<State> state_{State::kOpen};
    ByteBuffer out_;             // bytes not yet handed to a write
    std::size_t inflight_ = 0;   // bytes of writing_ not yet confirmed
    bool flushing_ = false;      // the io thread owes (or runs) a flush
    bool wantWritable_ = false;  // a send was refused: owe on_writable
    std::string closeReason_;    // why the connection stopped, for send

    // The io thread's alone.
    ByteBuffer writing_;  // the bytes of the write in flight
    boost::asio::steady_timer closeTimer_;
    bool closeRequested_ = false;  // beginClose ran: flushing before on_close
    micro_code closeCode_ = MICRO_OK;
    std::string closeMessage_;
    bool peerEof_ = false;
    bool closeDelivered_ = false;

 private:
    Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    bool takeWritable() noexcept {  // under mutex_
        if (!wantWritable_ || state_.load(std::memory_order_relaxed) != State::kOpen) return false;
        if ((out_.size() + inflight_) * 2 > maxQueuedBytes_) return false;
        wantWritable_ = false;
        return true;
    }

    void onWritten(const boost::system::error_code& ec) noexcept {
        if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
        if (ec) {
            fail(MICRO_UNAVAILABLE,
                 ec == boost::asio::error::connection_reset || ec == boost::asio::error::broken_pipe
                     ? "connection reset by peer"
                     : "write failed: " + ec.message());
            return;
        }
        writing_.clear();
        writing_.release(kKeepBuffer);
        derived().flush();
    }
};

}  // namespace micro::transport_common
