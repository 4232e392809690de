// plugins/redis/broker_pipeline.hpp — the broker's command connection: one
// thread that sends queued commands (XADD, PUBLISH, XACK, ...) to Redis in
// pipelined batches and completes each from its reply.
//
// Contract
//   Threads: submit() is thread-safe and never blocks on the network; the
//     pipeline's own thread does all I/O (with SIGPIPE blocked) and runs the
//     completions, never holding a lock (a completion may submit again).
//   Timeouts: every job completes within about `timeout` of its submit:
//     a job still queued at its deadline completes UNAVAILABLE unsent; the
//     connect and every reply wait at most until the batch's earliest
//     deadline. Order: jobs are sent in submit order on one connection.
//   Failure: an I/O error or timeout completes the job it hit and every
//     later job of the batch UNAVAILABLE (the effect of a sent command is
//     then unknown), and drops the connection. The next batch reconnects
//     at once; while that fails, reconnects are spaced by a backoff (50 ms
//     doubling to 1 s) and the jobs in between complete UNAVAILABLE with
//     the last error, so a down server never hangs nor spins the caller.
//   Destruction sends what is queued (each within its deadline), then
//     joins the thread: no completion runs after the destructor returns.
#pragma once

#include <micro/driver/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "broker_config.hpp"
#include "broker_link.hpp"

namespace micro::redis {

/// One command and what to do with its reply.
struct PipelineJob {
    enum class Kind {
        kAdd,      ///< XADD: OK once the server replied with the entry id
        kPublish,  ///< PUBLISH: NOT_FOUND when no subscriber received it
        kQuiet     ///< no completion; a failure is logged
    };
    PipelineJob(Kind k, driver::Done&& d) noexcept : kind(k), done(std::move(d)) {}
    /// A kQuiet job.
    PipelineJob() noexcept : kind(Kind::kQuiet), done(micro_done{nullptr, nullptr}) {}
    PipelineJob(PipelineJob&&) noexcept = default;

    void arg(std::string_view a) {
        args.append(a);
        sizes.push_back(static_cast<std::uint32_t>(a.size()));
    }
    /// One argument made of `head` then `tail`.
    void arg(std::string_view head, std::string_view tail) {
        args.append(head);
        args.append(tail);
        sizes.push_back(static_cast<std::uint32_t>(head.size() + tail.size()));
    }

    Kind kind;
    driver::Done done;
    std::string args;                  ///< every argument, back to back
    std::vector<std::uint32_t> sizes;  ///< each argument's length
    std::string topic;                 ///< for messages
    std::chrono::steady_clock::time_point deadline{};
};

class CommandPipeline {
 public:
    CommandPipeline(RedisUrl url, std::chrono::milliseconds timeout, const BrokerLog& log);
    ~CommandPipeline();
    CommandPipeline(const CommandPipeline&) = delete;
    CommandPipeline& operator=(const CommandPipeline&) = delete;

    /// Queue `job` (its deadline is set here).
    void submit(PipelineJob job);

 private:
    void run(std::stop_token stop);
    void process(std::vector<PipelineJob>& batch);
    void fail(PipelineJob& job, Code code, std::string_view message) noexcept;
    void settle(PipelineJob& job, const redisReply& reply) noexcept;

    const RedisUrl url_;
    const std::string endpoint_;
    const std::chrono::milliseconds timeout_;
    const BrokerLog& log_;

    std::mutex mutex_;
    std::condition_variable_any wake_;
    std::deque<PipelineJob> queue_;  // guarded by mutex_

    // The thread's own state.
    std::unique_ptr<Link> link_;
    std::chrono::steady_clock::time_point nextAttempt_{};
    std::chrono::milliseconds backoff_{0};
    std::string lastError_;
    bool down_ = false;  // logged as unreachable, not yet as back

    std::jthread thread_;  // last: started after, and joined before, everything it uses
};

}  // namespace micro::redis
