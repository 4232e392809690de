// stream_state.hpp — the shared state behind micro::Stream, on either end.
//
// The connection's reader thread feeds frames in (onFrame, fail); the user's
// threads call send/recv. Credits implement flow control: each side may send
// at most kStreamWindow messages beyond what the other has acknowledged with
// a `w` frame, and a receiver acknowledges after consuming half a window.
#pragma once

#include <micro/rpc/stream.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "channel.hpp"
#include "protocol.hpp"

namespace micro {

struct Stream::State {
    using Clock = std::chrono::steady_clock;

    std::shared_ptr<rpc::Channel> channel;
    std::uint64_t id = 0;
    bool clientSide = true;
    Clock::time_point deadline = Clock::time_point::max();
    std::string peerName;  // for error messages: "greeter" or the caller

    std::mutex mutex;
    std::condition_variable changed;
    std::deque<std::string> inbox;
    bool peerEnded = false;   // server: caller half-closed; client: call completed OK
    bool sendClosed = false;
    std::optional<Error> failure;
    std::uint32_t credits = rpc::kStreamWindow;
    std::uint32_t consumed = 0;
    std::function<void()> release;  // forget this stream in its owner's table; once

    /// A frame for this stream arrived (reader thread).
    void onFrame(const rpc::FrameHeaders& f, std::string_view body);
    /// The call failed from outside (connection lost, deadline).
    void fail(Code code, std::string_view detail);

    void send(std::string_view body);
    bool recv(std::string& body);
    void closeSend();
    void cancel(Code code, std::string_view detail);
    void finish();  // release once

   private:
    void sendFrame(char kind, std::string_view body, std::string_view extraKey = {},
                   std::string_view extraValue = {});
};

}  // namespace micro
