// micro/rpc/stream.hpp — a bidirectional message stream of one call.
//
// The same type serves client-stream, server-stream and bidi calls on both
// ends. Flow control is credit-based: a sender may have at most `window`
// unacknowledged messages in flight, so a slow reader never makes the other
// side buffer without bound; send blocks (up to the call's deadline) when
// the window is exhausted.
//
// Contract: one thread sends and one thread receives at a time (they may be
// different threads). recv returns false at the peer's end of stream; an
// error from the peer (or a lost connection, or the deadline) throws
// micro::Error. closeSend half-closes our side.
#pragma once

#include <micro/error.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace micro {

class Stream {
   public:
    struct State;
    explicit Stream(std::shared_ptr<State> state);
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;
    ~Stream();

    /// Send one message; blocks while the peer's window is full.
    void send(std::string_view body);
    /// Receive the next message into `body`; false at end of stream.
    bool recv(std::string& body);
    /// Half-close: tell the peer no more messages follow.
    void closeSend();
    /// Abort the call with `code` (the peer sees it as an error).
    void cancel(Code code = Code::kCancelled, std::string_view detail = "cancelled");

   private:
    std::shared_ptr<State> state_;
};

}  // namespace micro
