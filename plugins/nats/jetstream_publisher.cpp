#include "jetstream_publisher.hpp"

#include <micro/error.hpp>

namespace micro::nats {

JetStreamPublisher::JetStreamPublisher(Params params)
    : params_(std::move(params)), thread_([this] { run(); }) {}

JetStreamPublisher::~JetStreamPublisher() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    for (Job& job : queue_) {
        job.done.fail(Code::kUnavailable, "nats: the broker was destroyed before the publish");
    }
}

void JetStreamPublisher::enqueue(MsgPtr msg, driver::Done done) {
    std::unique_lock lock(mutex_);
    if (stopping_) {
        lock.unlock();
        done.fail(Code::kUnavailable, "nats: the broker is shutting down");
        return;
    }
    if (queue_.size() >= params_.maxQueued) {
        lock.unlock();
        done.fail(Code::kResourceExhausted,
                  "nats: " + std::to_string(params_.maxQueued) +
                      " JetStream publishes are already waiting for their PubAck");
        return;
    }
    queue_.push_back(Job{std::move(msg), std::move(done)});
    lock.unlock();
    wake_.notify_one();
}

void JetStreamPublisher::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        Job job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        publish(job);  // completes job.done with no lock held
        lock.lock();
    }
}

void JetStreamPublisher::publish(Job& job) {
    const std::string subject = natsMsg_GetSubject(job.msg.get());
    for (int attempt = 0;; ++attempt) {
        if (natsConnection_Status(params_.connection) != NATS_CONN_STATUS_CONNECTED) {
            job.done.fail(Code::kUnavailable, "nats: not connected to " + params_.url +
                                                  " (the client is reconnecting); '" + subject +
                                                  "' was not published");
            return;
        }
        jsPubOptions options;
        jsPubOptions_Init(&options);
        options.MaxWait = params_.timeoutMs;
        jsPubAck* ack = nullptr;
        jsErrCode jerr = static_cast<jsErrCode>(0);
        const natsStatus s = js_PublishMsg(&ack, params_.js, job.msg.get(), &options, &jerr);
        if (s == NATS_OK) {
            const std::uint64_t seq = ack != nullptr ? ack->Sequence : 0;
            jsPubAck_Destroy(ack);
            job.done.ok(seq);
            return;
        }
        const std::string why = nats_GetLastError(nullptr) != nullptr
                                    ? std::string(nats_GetLastError(nullptr))
                                    : std::string(natsStatus_GetText(s));
        if (s == NATS_NO_RESPONDERS && attempt == 0) {
            // No stream listens on the subject (deleted, or a server that lost
            // its store): create it again once, then retry.
            try {
                params_.ensureStream();
                continue;
            } catch (const Error& e) {
                job.done.fail(Code::kUnavailable, "nats: no JetStream stream stores '" + subject +
                                                      "' and it could not be created: " + e.what());
                return;
            }
        }
        if (s == NATS_TIMEOUT) {
            job.done.fail(Code::kUnavailable, "nats: no PubAck from stream '" + params_.stream +
                                                  "' within " + std::to_string(params_.timeoutMs) +
                                                  " ms for '" + subject +
                                                  "' (timeout_ms); it may or may not be stored");
            return;
        }
        const Code code = (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
                           s == NATS_NO_RESPONDERS || s == NATS_IO_ERROR)
                              ? Code::kUnavailable
                          : s == NATS_MAX_PAYLOAD ? Code::kInvalidArgument
                                                  : Code::kUnknown;
        job.done.fail(code, "nats: JetStream publish to '" + subject + "' failed: " + why +
                                (jerr != 0 ? " (JetStream error " +
                                                 std::to_string(static_cast<int>(jerr)) + ")"
                                           : std::string()));
        return;
    }
}

}  // namespace micro::nats
