#include "tcp_connection.hpp"

#include <micro/driver/transport.hpp>
#include <micro/error.hpp>

#include <string>
#include <utility>

#include "frame.hpp"

namespace micro::tcp {

namespace {

using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 32u << 10;           // every connection starts with this
constexpr std::size_t kMaxGrownReadBuffer = 256u << 10;  // growth for throughput stops here

}  // namespace

// ---------------------------------------------------------------------------
// TcpConnection: setup

TcpConnection::TcpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner)
    : StreamConnection(worker, owner, settings.maxQueuedBytes),
      settings_(settings),
      frameTimer_(worker.context()) {}

TcpConnection::~TcpConnection() = default;

void TcpConnection::configure() {
    configureSocket(settings_.keepalive);
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
    if (queueFull(bytes)) return false;
    frame::encode(message, length, out_.append(bytes));
    scheduleFlush(
        lock, [] { return true; }, driver::moreFollows(message));
    return true;
}

void TcpConnection::flush() noexcept {
    bool writable = false;
    if (!writeQueued(writable, [] {})) return;
    if (closeRequested_) {
        finishClose();
    } else {
        notifyWritable(writable);
    }
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
    reader_.start(shared_from_this(), in_.data() + in_.size(), in_.capacity() - in_.size());
}

void TcpConnection::onRead(const error_code& ec, std::size_t n) noexcept {
    // A read that filled the buffer (in_ is untouched while a read is in
    // flight): the peer streams; read more at once from now on.
    if (!ec && n == in_.capacity() - in_.size() && in_.capacity() < kMaxGrownReadBuffer) {
        growTo_ = in_.capacity() * 2;
    }
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    if (ec) {
        readFailed(ec);
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
                                            headers_.size(), body, 0};
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

void TcpConnection::onCloseBegun() noexcept {
    in_.clear();
    needed_ = 0;
    midFrame_ = false;
    frameTimer_.cancel();
}

void TcpConnection::onSocketClosed() noexcept {
    frameTimer_.cancel();
    in_.clear();
}

}  // namespace micro::tcp
