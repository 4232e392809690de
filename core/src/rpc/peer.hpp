// peer.hpp — one multiplexed client connection to one node: many calls in
// flight over one transport connection, told apart by call id.
//
// Threads: call/openStream from any thread; replies complete on the
// transport's thread; expire() from the client's timer thread. A Peer whose
// connection closed fails everything pending with UNAVAILABLE and is
// replaced by the client's pool on next use.
#pragma once

#include <micro/client.hpp>
#include <micro/transport.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "channel.hpp"
#include "protocol.hpp"
#include "stream_state.hpp"

namespace micro::rpc {

/// How a call ended, as the retry logic needs to know it.
struct Outcome {
    Code code = Code::kOk;
    std::string detail;
    bool sent = false;          ///< the request left this process
    bool notProcessed = false;  ///< the server says it did not run it
    bool connectionLost = false;
    Response response;
};

using OutcomeHandler = std::function<void(Outcome&&)>;

class Peer : public std::enable_shared_from_this<Peer> {
   public:
    using Clock = std::chrono::steady_clock;

    /// Connect; throws UNAVAILABLE (the request never left).
    static std::shared_ptr<Peer> dial(Transport& transport, const std::string& address,
                                      std::chrono::milliseconds timeout);

    /// Send a unary request; `done` runs exactly once.
    void call(const ClientCall& call, OutcomeHandler done);
    /// Open a streaming call; throws UNAVAILABLE when the request cannot leave.
    std::shared_ptr<Stream::State> openStream(const ClientCall& call);
    /// Complete with DEADLINE_EXCEEDED every call whose deadline passed.
    void expire(Clock::time_point now);

    bool closed() const { return channel_->closed(); }
    const std::string& address() const noexcept { return address_; }
    void close() { channel_->close(); }

   private:
    struct Pending {
        OutcomeHandler done;
        Clock::time_point deadline;
    };

    void onFrame(const TransportMessageView& m);
    void onClose(Code code, std::string_view reason);
    void sendRequest(const ClientCall& call, std::uint64_t id, bool streaming,
                     SendTiming timing = SendTiming::kNow);

    std::string address_;
    std::shared_ptr<Channel> channel_ = std::make_shared<Channel>();
    std::atomic<std::uint64_t> nextId_{1};
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, Pending> pending_;
    std::unordered_map<std::uint64_t, std::weak_ptr<Stream::State>> streams_;
};

}  // namespace micro::rpc
