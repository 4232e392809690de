#include "peer.hpp"

#include <micro/abi_view.hpp>

#include <fmt/core.h>

#include <charconv>
#include <vector>

namespace micro::rpc {

std::shared_ptr<Peer> Peer::dial(Transport& transport, const std::string& address,
                                 std::chrono::milliseconds timeout) {
    auto peer = std::make_shared<Peer>();
    peer->address_ = address;
    std::weak_ptr<Peer> weak = peer;
    ConnectionHandlers h;
    h.onMessage = [weak](const TransportMessageView& m) {
        Channel::InCallback inCallback;
        if (auto p = weak.lock()) p->onFrame(m);
    };
    h.onWritable = [channel = peer->channel_] { channel->onWritable(); };
    h.onClose = [weak, channel = peer->channel_](Code code, std::string_view reason) {
        channel->onClosed();
        if (auto p = weak.lock()) p->onClose(code, reason);
    };
    peer->channel_->attach(transport.dial(address, timeout, std::move(h)));
    return peer;
}

void Peer::sendRequest(const ClientCall& call, std::uint64_t id, bool streaming,
                       SendTiming timing) {
    Decimal idText(id);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(call.deadline - Clock::now());
    Decimal timeout(static_cast<std::uint64_t>(std::max<std::int64_t>(left.count(), 0)));
    constexpr std::size_t kInline = 10;
    Header inlineHeaders[kInline];
    std::vector<Header> heap;
    std::size_t n = 6 + (streaming ? 1 : 0) + call.metadata.size();
    Header* h = inlineHeaders;
    if (n > kInline) {
        heap.resize(n);
        h = heap.data();
    }
    std::size_t i = 0;
    h[i++] = {kKind, "q"};
    h[i++] = {kId, idText.view()};
    h[i++] = {kService, call.service};
    h[i++] = {kEndpoint, call.endpoint};
    h[i++] = {kTimeout, timeout.view()};
    h[i++] = {kContentType, call.contentType};
    if (streaming) h[i++] = {kStreaming, "1"};
    for (const auto& [k, v] : call.metadata) h[i++] = {k, v};
    channel_->send(std::span<const Header>(h, i), streaming ? std::string_view{} : call.body,
                   call.deadline, timing);
}

void Peer::call(const ClientCall& call, OutcomeHandler done) {
    std::uint64_t id = nextId_.fetch_add(1, std::memory_order_relaxed);
    // Other calls pending on this connection: requests are coming from
    // several threads at once, and the transport may write them together.
    bool others = false;
    {
        std::lock_guard lock(mutex_);
        others = !pending_.empty();
        pending_.emplace(id, Pending{std::move(done), call.deadline});
    }
    try {
        sendRequest(call, id, false, others ? SendTiming::kMoreFollows : SendTiming::kNow);
    } catch (const Error& e) {
        OutcomeHandler handler;
        {
            std::lock_guard lock(mutex_);
            auto it = pending_.find(id);
            if (it == pending_.end()) return;  // already completed (connection closed)
            handler = std::move(it->second.done);
            pending_.erase(it);
        }
        Outcome o;
        o.code = e.code() == Code::kDeadlineExceeded ? e.code() : Code::kUnavailable;
        o.detail = fmt::format("{}: {}", address_, e.what());
        o.sent = false;
        handler(std::move(o));
    }
}

std::shared_ptr<Stream::State> Peer::openStream(const ClientCall& call) {
    std::uint64_t id = nextId_.fetch_add(1, std::memory_order_relaxed);
    auto state = std::make_shared<Stream::State>();
    state->channel = channel_;
    state->id = id;
    state->clientSide = true;
    state->deadline = call.deadline;
    state->peerName = call.service;
    std::weak_ptr<Peer> weak = weak_from_this();
    state->release = [weak, id] {
        if (auto p = weak.lock()) {
            std::lock_guard lock(p->mutex_);
            p->streams_.erase(id);
        }
    };
    {
        std::lock_guard lock(mutex_);
        streams_[id] = state;
    }
    try {
        sendRequest(call, id, true);
    } catch (const Error&) {
        state->finish();
        throw;
    }
    return state;
}

void Peer::onFrame(const TransportMessageView& m) {
    FrameHeaders f = FrameHeaders::parse(m.headers);
    if (!f.hasId) return;
    if (f.kind == kReply || f.kind == kError) {
        OutcomeHandler handler;
        {
            std::lock_guard lock(mutex_);
            auto it = pending_.find(f.id);
            if (it != pending_.end()) {
                handler = std::move(it->second.done);
                pending_.erase(it);
            }
        }
        if (handler) {
            Outcome o;
            o.sent = true;
            if (f.kind == kReply) {
                o.response.body.assign(m.body);
                o.response.contentType.assign(f.contentType);
                for (const micro_kv& kv : m.headers) {
                    std::string_view key = abi::view(kv.key);
                    if (key.starts_with(':') || key == kContentType) continue;
                    o.response.metadata.emplace_back(key, abi::view(kv.value));
                }
            } else {
                std::int64_t code = static_cast<std::int64_t>(Code::kUnknown);
                std::from_chars(f.code.data(), f.code.data() + f.code.size(), code);
                o.code = static_cast<Code>(code);
                o.detail.assign(f.detail);
                o.notProcessed = f.n == "1";
            }
            handler(std::move(o));
            return;
        }
    }
    std::shared_ptr<Stream::State> stream;
    {
        std::lock_guard lock(mutex_);
        auto it = streams_.find(f.id);
        if (it != streams_.end()) stream = it->second.lock();
    }
    if (stream) stream->onFrame(f, m.body);
}

void Peer::onClose(Code, std::string_view reason) {
    std::unordered_map<std::uint64_t, Pending> pending;
    std::vector<std::shared_ptr<Stream::State>> streams;
    {
        std::lock_guard lock(mutex_);
        pending.swap(pending_);
        for (auto& [id, w] : streams_) {
            if (auto s = w.lock()) streams.push_back(std::move(s));
        }
    }
    for (auto& [id, p] : pending) {
        Outcome o;
        o.code = Code::kUnavailable;
        o.detail = fmt::format("{}: connection lost ({})", address_, reason);
        o.sent = true;
        o.connectionLost = true;
        p.done(std::move(o));
    }
    for (auto& s : streams) {
        s->fail(Code::kUnavailable, fmt::format("{}: connection lost ({})", address_, reason));
    }
}

void Peer::expire(Clock::time_point now) {
    std::vector<OutcomeHandler> expired;
    {
        std::lock_guard lock(mutex_);
        for (auto it = pending_.begin(); it != pending_.end();) {
            if (it->second.deadline <= now) {
                expired.push_back(std::move(it->second.done));
                it = pending_.erase(it);
            } else {
                ++it;
            }
        }
    }
    for (auto& done : expired) {
        Outcome o;
        o.code = Code::kDeadlineExceeded;
        o.detail = fmt::format("{}: deadline exceeded waiting for the reply", address_);
        o.sent = true;
        done(std::move(o));
    }
}

}  // namespace micro::rpc
