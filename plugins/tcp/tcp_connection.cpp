#include "tcp_connection.hpp"

#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "address.hpp"
#include "frame.hpp"

namespace micro::tcp {

namespace {

using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 32u << 10;           // every connection starts with this
constexpr std::size_t kMaxGrownReadBuffer = 256u << 10;  // growth for throughput stops here
constexpr std::size_t kKeepBuffer = 1u << 20;            // give back more than this once idle
constexpr auto kCloseTimeout = std::chrono::milliseconds(2000);
constexpr int kMaxFlushRounds = 16;  // writes in a row before yielding the io thread

std::string errnoText(int e) { return std::system_category().message(e); }

}  // namespace

// ---------------------------------------------------------------------------
// TcpConnection: setup

TcpConnection::TcpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner)
    : worker_(worker),
      settings_(settings),
      owner_(owner),
      socket_(worker.context()),
      frameTimer_(worker.context()),
      closeTimer_(worker.context()) {}

TcpConnection::~TcpConnection() = default;

std::string TcpConnection::connect(const boost::asio::ip::tcp::endpoint& to,
                                   std::chrono::milliseconds timeout) {
    error_code ec;
    socket_.open(to.protocol(), ec);
    if (ec) return "cannot open a socket: " + ec.message();
    socket_.non_blocking(true, ec);
    const int fd = socket_.native_handle();
    auto failed = [&](const std::string& why) {
        error_code ignored;
        socket_.close(ignored);
        return why;
    };
    if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) return failed(errnoText(errno));
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            int waitMs = -1;
            if (timeout.count() > 0) {
                auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
                if (left.count() <= 0) {
                    return failed("timed out after " + std::to_string(timeout.count()) + " ms");
                }
                waitMs = static_cast<int>(left.count());
            }
            pollfd p{fd, POLLOUT, 0};
            const int ready = ::poll(&p, 1, waitMs);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) return failed(errnoText(errno));
            if (ready > 0) break;
        }
        int soError = 0;
        socklen_t len = sizeof soError;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0) soError = errno;
        if (soError != 0) return failed(errnoText(soError));
    }
    return {};
}

void TcpConnection::configure() {
    error_code ec;
    socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    if (settings_.keepalive) socket_.set_option(boost::asio::socket_base::keep_alive(true), ec);
    socket_.non_blocking(true, ec);
    fd_ = socket_.native_handle();
    auto peer = socket_.remote_endpoint(ec);
    if (!ec) remote_ = formatAddress(peer.address().to_string(), peer.port());
    in_.reserve(kReadBuffer);
}

void TcpConnection::start() noexcept {
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    try {
        readSome();
    } catch (...) {
        fail(MICRO_RESOURCE_EXHAUSTED, "out of memory starting to read");
    }
}

void TcpConnection::discard() noexcept {
    {
        std::lock_guard lock(mutex_);
        state_ = State::kClosed;
    }
    error_code ec;
    socket_.close(ec);
}

// ---------------------------------------------------------------------------
// Writing

bool TcpConnection::send(const micro_transport_message& message) {
    const std::size_t length = frame::encodedLength(message, settings_.maxFrameBytes);
    const std::size_t bytes = frame::kPrefixBytes + length;
    std::unique_lock lock(mutex_);
    if (state_.load(std::memory_order_relaxed) != State::kOpen) {
        throw Error(Code::kUnavailable, closedMessage());
    }
    const std::size_t queued = out_.size() + inflight_;
    if (queued != 0 && queued + bytes > settings_.maxQueuedBytes) {
        wantWritable_ = true;
        return false;
    }
    frame::encode(message, length, out_.append(bytes));
    if (flushing_) return true;  // the io thread takes it with what is queued
    flushing_ = true;
    if (worker_.current()) {
        // Inside one of this connection's events: write once it returns,
        // together with whatever else it sends.
        lock.unlock();
        worker_.deferFlush(shared_from_this());
        return true;
    }
    // Another thread, nothing in flight: write now if the socket takes it.
    // Under the mutex, so the io thread cannot close the socket meanwhile.
    const ssize_t n = ::send(fd_, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0 && static_cast<std::size_t>(n) == out_.size()) {
        out_.clear();
        flushing_ = false;
        return true;
    }
    if (n > 0) out_.consume(static_cast<std::size_t>(n));
    lock.unlock();
    // The rest (or the error, which the io thread reports) is the io thread's.
    boost::asio::post(worker_.context(), [self = shared_from_this()] { self->flush(); });
    return true;
}

bool TcpConnection::takeWritable() noexcept {
    if (!wantWritable_ || state_.load(std::memory_order_relaxed) != State::kOpen) return false;
    if ((out_.size() + inflight_) * 2 > settings_.maxQueuedBytes) return false;
    wantWritable_ = false;
    return true;
}

void TcpConnection::flush() noexcept {
    bool writable = false;
    bool yield = false;
    for (int round = 0;; ++round) {
        {
            std::lock_guard lock(mutex_);
            inflight_ = 0;  // writing_ is empty whenever this runs
            writable = takeWritable() || writable;
            if (state_.load(std::memory_order_relaxed) == State::kClosed) {
                flushing_ = false;
                return;
            }
            if (out_.empty()) {
                flushing_ = false;
                out_.release(kKeepBuffer);
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
            ::send(fd_, writing_.data(), writing_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0 && static_cast<std::size_t>(n) == writing_.size()) {
            writing_.clear();
            writing_.release(kKeepBuffer);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            const int e = errno;
            writing_.clear();
            fail(MICRO_UNAVAILABLE, "write failed: " + errnoText(e));
            return;
        }
        // The socket is full: let Asio finish this write when it drains.
        const std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
        try {
            boost::asio::async_write(
                socket_, boost::asio::buffer(writing_.data() + done, writing_.size() - done),
                [self = shared_from_this()](const error_code& ec, std::size_t) {
                    self->onWritten(ec);
                });
        } catch (...) {
            fail(MICRO_RESOURCE_EXHAUSTED, "out of memory starting a write");
            return;
        }
        break;
    }
    if (yield) {
        try {
            boost::asio::post(worker_.context(), [self = shared_from_this()] { self->flush(); });
        } catch (...) {
            fail(MICRO_RESOURCE_EXHAUSTED, "out of memory scheduling a write");
            return;
        }
    }
    if (closeRequested_) {
        finishClose();
    } else if (writable && events_.on_writable != nullptr) {
        IoWorker::Scope scope(worker_);
        events_.on_writable(events_.ctx);
    }
}

void TcpConnection::onWritten(const error_code& ec) noexcept {
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
    flush();
}

// ---------------------------------------------------------------------------
// Reading

void TcpConnection::readSome() {
    const std::size_t want = needed_ > growTo_ ? needed_ : growTo_;
    if (want > in_.capacity()) {
        in_.reserve(want);  // needed_ <= 4 + max_frame_bytes: checked from the prefix
    } else if (in_.size() == in_.capacity()) {
        in_.reserve(in_.capacity() < kReadBuffer ? kReadBuffer : in_.capacity() * 2);
    }
    const std::size_t room = in_.capacity() - in_.size();
    socket_.async_read_some(
        boost::asio::buffer(in_.data() + in_.size(), room),
        [self = shared_from_this(), room](const error_code& ec, std::size_t n) {
            // A read that filled the buffer: the peer streams; read
            // more at once from now on.
            if (!ec && n == room && self->in_.capacity() < kMaxGrownReadBuffer) {
                self->growTo_ = self->in_.capacity() * 2;
            }
            self->onRead(ec, n);
        });
}

void TcpConnection::onRead(const error_code& ec, std::size_t n) noexcept {
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    if (ec) {
        if (ec == boost::asio::error::operation_aborted) return;
        if (ec == boost::asio::error::eof) {
            onPeerEof();
        } else if (closeDelivered_) {
            closeSocket();
        } else {
            fail(MICRO_UNAVAILABLE, ec == boost::asio::error::connection_reset
                                        ? "connection reset by peer"
                                        : "read failed: " + ec.message());
        }
        return;
    }
    try {
        in_.commit(n);
        if (state_.load(std::memory_order_relaxed) != State::kOpen) {
            in_.clear();  // closing: what the peer still sends is dropped
            needed_ = 0;
        } else {
            processFrames();
        }
        if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
        readSome();
    } catch (const std::bad_alloc&) {
        fail(MICRO_RESOURCE_EXHAUSTED, "out of memory reading a frame");
    } catch (const std::exception& e) {
        fail(MICRO_INTERNAL, std::string("reading: ") + e.what());
    }
}

void TcpConnection::processFrames() {
    IoWorker::Scope scope(worker_);  // replies sent from on_message leave together
    const std::uint8_t* data = in_.data();
    const std::size_t have = in_.size();
    std::size_t at = 0;
    bool completed = false;
    needed_ = 0;
    while (have - at >= frame::kPrefixBytes) {
        const std::uint32_t length = frame::readLength(data + at);
        std::string why;
        if (!frame::checkLength(length, settings_.maxFrameBytes, why)) {
            fail(MICRO_INVALID_ARGUMENT, why);
            return;
        }
        const std::size_t size = frame::kPrefixBytes + length;
        if (have - at < size) {
            needed_ = size;
            break;
        }
        micro_bytes body{};
        if (!frame::parse(data + at + frame::kPrefixBytes, length, headers_, body, why)) {
            fail(MICRO_INVALID_ARGUMENT, why);
            return;
        }
        at += size;
        completed = true;
        if (events_.on_message != nullptr) {
            const micro_transport_message m{sizeof(micro_transport_message), headers_.data(),
                                            headers_.size(), body};
            events_.on_message(events_.ctx, &m);
        }
        if (state_.load(std::memory_order_relaxed) != State::kOpen) {
            // close() from inside on_message: deliver nothing more.
            in_.clear();
            needed_ = 0;
            midFrame_ = false;
            return;
        }
    }
    in_.consume(at);
    if (in_.empty()) {
        midFrame_ = false;
        in_.release(kKeepBuffer);
        return;
    }
    // Part of a frame is waiting: the clock runs from its first byte.
    if (completed || !midFrame_) {
        midFrame_ = true;
        frameStart_ = Clock::now();
    }
    armFrameTimer();
}

void TcpConnection::armFrameTimer() {
    if (settings_.frameTimeout.count() <= 0 || frameTimerArmed_) return;
    frameTimerArmed_ = true;
    frameTimer_.expires_at(frameStart_ + settings_.frameTimeout);
    frameTimer_.async_wait(
        [self = shared_from_this()](const error_code& ec) { self->onFrameTimer(ec); });
}

void TcpConnection::onFrameTimer(const error_code& ec) noexcept {
    frameTimerArmed_ = false;
    if (ec || state_.load(std::memory_order_relaxed) != State::kOpen || !midFrame_) return;
    try {
        if (Clock::now() < frameStart_ + settings_.frameTimeout) {
            armFrameTimer();  // a later frame started since the timer was set
            return;
        }
        std::string got =
            needed_ != 0 ? std::to_string(in_.size()) + " of " + std::to_string(needed_) + " bytes"
                         : std::to_string(in_.size()) + " of the 4 length bytes";
        fail(MICRO_DEADLINE_EXCEEDED, "incomplete frame: received " + got + " in " +
                                          std::to_string(settings_.frameTimeout.count()) +
                                          " ms (frame_timeout_ms)");
    } catch (...) {
        fail(MICRO_DEADLINE_EXCEEDED, "incomplete frame (frame_timeout_ms)");
    }
}

// ---------------------------------------------------------------------------
// Closing

std::string TcpConnection::closedMessage() const {
    return closeReason_.empty() ? std::string("connection is closed") : closeReason_;
}

void TcpConnection::close() noexcept {
    {
        std::lock_guard lock(mutex_);
        if (state_.load(std::memory_order_relaxed) != State::kOpen) return;
        state_ = State::kClosing;
    }
    try {
        boost::asio::post(worker_.context(),
                          [self = shared_from_this()] { self->beginClose(MICRO_OK, "closed"); });
    } catch (...) {
        // Out of memory: nothing more can be done from this thread.
    }
}

void TcpConnection::onPeerEof() {
    peerEof_ = true;
    if (closeDelivered_) {
        closeSocket();  // our own close was waiting for this
        return;
    }
    if (state_.load(std::memory_order_relaxed) != State::kOpen) return;  // beginClose is due
    micro_code code = MICRO_OK;
    std::string why = "peer closed";
    if (!in_.empty()) {
        code = MICRO_UNAVAILABLE;
        why = "peer closed the connection in the middle of a frame (" + std::to_string(in_.size()) +
              " bytes of it received)";
    }
    {
        std::lock_guard lock(mutex_);
        state_ = State::kClosing;
        closeReason_ = "connection closed by peer";
    }
    beginClose(code, std::move(why));
}

void TcpConnection::beginClose(micro_code code, std::string reason) noexcept {
    if (closeRequested_ || closeDelivered_ || state_.load() == State::kClosed) return;
    closeRequested_ = true;
    closeCode_ = code;
    closeMessage_ = std::move(reason);
    in_.clear();
    needed_ = 0;
    midFrame_ = false;
    frameTimer_.cancel();
    try {
        closeTimer_.expires_after(kCloseTimeout);
        closeTimer_.async_wait([self = shared_from_this()](const error_code& ec) {
            if (ec || self->state_.load() == State::kClosed) return;
            if (self->closeDelivered_) {
                self->closeSocket();  // the peer never closed its side
            } else {
                self->fail(MICRO_DEADLINE_EXCEEDED,
                           "close: queued messages not written within 2000 ms (peer not reading)");
            }
        });
    } catch (...) {
        // Without the timer the close still completes when the flush does.
    }
    finishClose();
}

void TcpConnection::finishClose() noexcept {
    if (!closeRequested_ || closeDelivered_) return;
    {
        std::lock_guard lock(mutex_);
        if (flushing_) return;  // flush() comes back here once the queue is written
    }
    error_code ec;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    deliverClose(closeCode_, closeMessage_);
    // The socket itself closes once the peer has closed its side too, so
    // what it sent last is not answered with a reset.
    if (peerEof_) closeSocket();
}

void TcpConnection::fail(micro_code code, const std::string& reason) noexcept {
    try {
        std::lock_guard lock(mutex_);
        if (closeReason_.empty()) closeReason_ = "connection closed: " + reason;
    } catch (...) {
    }
    closeSocket();
    deliverClose(code, reason);
}

void TcpConnection::closeSocket() noexcept {
    {
        std::lock_guard lock(mutex_);
        state_ = State::kClosed;
        out_.clear();
        wantWritable_ = false;
    }
    error_code ec;
    socket_.close(ec);
    frameTimer_.cancel();
    closeTimer_.cancel();
    in_.clear();
}

void TcpConnection::deliverClose(micro_code code, const std::string& reason) noexcept {
    if (closeDelivered_) return;
    closeDelivered_ = true;
    {
        std::lock_guard lock(mutex_);
        if (state_.load(std::memory_order_relaxed) == State::kOpen) state_ = State::kClosing;
    }
    if (events_.on_close != nullptr) {
        IoWorker::Scope scope(worker_);
        events_.on_close(events_.ctx, code, abi::str(reason));
    }
    owner_.forget(*this);
}

}  // namespace micro::tcp
