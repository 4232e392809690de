#include "stream_state.hpp"

#include <micro/broker.hpp>

#include <charconv>

namespace micro {

void Stream::State::sendFrame(char kind, std::string_view body, std::string_view extraKey,
                              std::string_view extraValue) {
    rpc::Decimal idText(id);
    const char kindText[1] = {kind};
    Header headers[3] = {{rpc::kKind, std::string_view(kindText, 1)},
                         {rpc::kId, idText.view()},
                         {extraKey, extraValue}};
    channel->send(std::span<const Header>(headers, extraKey.empty() ? 2 : 3), body, deadline);
}

void Stream::State::onFrame(const rpc::FrameHeaders& f, std::string_view body) {
    std::lock_guard lock(mutex);
    switch (f.kind) {
        case rpc::kMessage: inbox.emplace_back(body); break;
        case rpc::kEnd: peerEnded = true; break;
        case rpc::kReply: peerEnded = true; break;
        case rpc::kWindow: {
            std::uint64_t n = 0;
            if (rpc::parseU64(f.n, n)) credits += static_cast<std::uint32_t>(n);
            break;
        }
        case rpc::kError:
        case rpc::kCancel: {
            std::int64_t code = static_cast<std::int64_t>(Code::kUnknown);
            std::from_chars(f.code.data(), f.code.data() + f.code.size(), code);
            if (!failure) {
                failure.emplace(static_cast<Code>(code),
                                f.kind == rpc::kCancel ? std::string("cancelled by the caller")
                                                       : std::string(f.detail));
            }
            break;
        }
        default: break;
    }
    changed.notify_all();
}

void Stream::State::fail(Code code, std::string_view detail) {
    std::lock_guard lock(mutex);
    if (!failure && !(clientSide && peerEnded)) failure.emplace(code, std::string(detail));
    changed.notify_all();
}

void Stream::State::send(std::string_view body) {
    {
        std::unique_lock lock(mutex);
        if (sendClosed) throw Error(Code::kFailedPrecondition, "send after closeSend");
        if (!changed.wait_until(lock, deadline, [&] { return credits > 0 || failure || peerEnded; })) {
            throw Error(Code::kDeadlineExceeded, "stream send: the peer is not reading");
        }
        if (failure) throw *failure;
        if (peerEnded && clientSide) throw Error(Code::kFailedPrecondition, "the call already ended");
        --credits;
    }
    sendFrame(rpc::kMessage, body);
}

bool Stream::State::recv(std::string& body) {
    std::uint32_t grant = 0;
    {
        std::unique_lock lock(mutex);
        if (!changed.wait_until(lock, deadline,
                                [&] { return !inbox.empty() || peerEnded || failure; })) {
            failure.emplace(Code::kDeadlineExceeded, "stream recv: deadline exceeded");
        }
        if (!inbox.empty()) {
            body = std::move(inbox.front());
            inbox.pop_front();
            if (++consumed >= rpc::kStreamWindow / 2) grant = std::exchange(consumed, 0);
        } else if (failure) {
            throw *failure;
        } else {
            return false;  // peer ended
        }
    }
    if (grant > 0) {
        rpc::Decimal n(grant);
        try {
            sendFrame(rpc::kWindow, {}, rpc::kCredit, n.view());
        } catch (const Error&) {
            // The connection went away; the next recv reports it.
        }
    }
    return true;
}

void Stream::State::closeSend() {
    {
        std::lock_guard lock(mutex);
        if (sendClosed) return;
        sendClosed = true;
    }
    if (clientSide) sendFrame(rpc::kEnd, {});
}

void Stream::State::cancel(Code code, std::string_view detail) {
    {
        std::lock_guard lock(mutex);
        if (failure) return;
        failure.emplace(code, std::string(detail));
        changed.notify_all();
    }
    rpc::Decimal c(static_cast<std::uint64_t>(code));
    try {
        sendFrame(clientSide ? rpc::kCancel : rpc::kError, {}, rpc::kCode, c.view());
    } catch (const Error&) {
    }
    finish();
}

void Stream::State::finish() {
    std::function<void()> r;
    {
        std::lock_guard lock(mutex);
        r = std::move(release);
        release = nullptr;
    }
    if (r) r();
}

Stream::Stream(std::shared_ptr<State> state) : state_(std::move(state)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;
Stream::~Stream() {
    // A client stream dropped before completion cancels the call.
    if (state_ && state_->clientSide) {
        bool done;
        {
            std::lock_guard lock(state_->mutex);
            done = state_->peerEnded || state_->failure.has_value();
        }
        if (!done) state_->cancel(Code::kCancelled, "stream abandoned by the caller");
        state_->finish();
    }
}

void Stream::send(std::string_view body) { state_->send(body); }
bool Stream::recv(std::string& body) { return state_->recv(body); }
void Stream::closeSend() { state_->closeSend(); }
void Stream::cancel(Code code, std::string_view detail) { state_->cancel(code, detail); }

}  // namespace micro
