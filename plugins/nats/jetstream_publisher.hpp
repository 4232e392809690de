// plugins/nats/jetstream_publisher.hpp — JetStream publishes that wait for
// the stream's PubAck, off the caller's thread.
//
// Contract
//   enqueue() never blocks on the network: it queues the message and returns;
//   one thread of this object publishes queued messages in order (so one
//   publisher's messages are stored in the order it published them) and
//   completes each Done exactly once: OK (value = the stream sequence) once
//   the server has stored it; UNAVAILABLE when the client is not connected,
//   when no PubAck came within `timeoutMs` (the message may then be stored
//   or not), or when the server has no stream for the subject and it cannot
//   be created; RESOURCE_EXHAUSTED when `maxQueued` messages already wait.
//   Threads: enqueue() from any thread. The destructor completes what is
//   still queued with UNAVAILABLE and joins the thread.
//   Ownership: the connection and JetStream context outlive this object.
#pragma once

#include <micro/driver/plugin.hpp>

#include <nats/nats.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace micro::nats {

struct MsgDeleter {
    void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

class JetStreamPublisher {
 public:
    struct Params {
        natsConnection* connection = nullptr;
        jsCtx* js = nullptr;
        std::string stream;
        std::string url;  ///< for messages, password masked
        std::int64_t timeoutMs = 2000;
        std::size_t maxQueued = 65536;
        /// Makes sure the stream exists; throws micro::Error otherwise.
        std::function<void()> ensureStream;
    };

    explicit JetStreamPublisher(Params params);
    ~JetStreamPublisher();
    JetStreamPublisher(const JetStreamPublisher&) = delete;
    JetStreamPublisher& operator=(const JetStreamPublisher&) = delete;

    void enqueue(MsgPtr msg, driver::Done done);

 private:
    struct Job {
        MsgPtr msg;
        driver::Done done;
    };
    void run();
    void publish(Job& job);

    Params params_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace micro::nats
