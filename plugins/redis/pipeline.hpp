// plugins/redis/pipeline.hpp — automatic pipelining: concurrent store calls
// share a few connections, and the commands that arrive while a round trip
// is in flight are sent together in one write.
//
// Contract
//   Lanes: `lanes` queues, each served by at most one thread at a time (its
//     leader) on one connection borrowed from the pool. submit() appends the
//     call's command to the queue of a lane nobody leads if there is one
//     (else of any lane) and:
//     - when the lane has no leader, the caller leads one round on its own
//       thread: it takes everything queued, sends it in one write, reads the
//       replies in order, gives the lane up, then completes each call (so a
//       lone caller pays one round trip and no thread hand-off). It never
//       connects or waits for a connection on the caller's thread: with no
//       idle connection it hands the lane to a worker.
//     - otherwise it returns at once; the leader sends the command with the
//       next batch.
//     A round that leaves commands queued hands the lane to a worker
//     (WorkerPool::post), which leads while commands keep coming: it sends
//     the next batch before completing the previous one, so Redis works
//     while the completions run, and gives the lane up when its queue is
//     empty.
//   runDirect(): the whole exchange on the calling thread with a connection
//     of its own (borrowed, waiting and connecting if need be). For calls
//     made on the driver's workers, e.g. from a completion that a leading
//     worker runs: such a call never waits for a lane, so it cannot wait
//     for its own thread.
//   Completion: PipelinedOp::complete() runs exactly once per submitted op,
//     on the thread that read its reply (or found its failure), with no lock
//     held, in the order the replies arrived. It may call back into the
//     store.
//   Failures (the op's code and message, "redis HOST:PORT: ..."):
//     - a command that waited longer than command_timeout before its batch
//       was sent fails UNAVAILABLE, and it is not sent; so does one queued
//       before a reply timed out (the server is probably hung), so that a
//       call takes about command_timeout at most, as if it had its own
//       connection, rather than its own timeout after the batch before it;
//     - no connection (server down): UNAVAILABLE from connecting, nothing
//       sent;
//     - a reply that does not come within command_timeout, a reset, EOF: the
//       connection is marked broken, and every command sent on it whose
//       reply had not come fails UNAVAILABLE; a write's message adds that
//       it may or may not have been applied. The pool heals as usual
//       (connection_pool.hpp): the next batch connects afresh.
//     - NOSCRIPT (the server lost its script cache, e.g. after a restart):
//       the command is sent again as EVAL with the script's text.
//     Error replies are handed to the op as they are.
//   Memory: each lane's buffers, batches and queues are reused; a command on
//     the hot path costs no allocation once they are warm (hiredis allocates
//     the reply objects).
//   Threads: submit() and runDirect() are thread-safe.
#pragma once

#include <micro/driver/worker_pool.hpp>
#include <micro/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connection.hpp"
#include "connection_pool.hpp"
#include "resp_writer.hpp"
#include "scripts.hpp"

namespace micro::redis {

using driver::Task;
using driver::WorkerPool;

/// One command and its outcome. The submitter owns it and must keep it alive
/// until complete() has run.
class PipelinedOp {
 public:
    virtual ~PipelinedOp() = default;
    /// The call's end: `reply` holds the reply (an error reply included), or
    /// `code`/`message` the failure. Must not throw.
    virtual void complete() noexcept = 0;

    // Set by the submitter before submit():
    std::string_view what;  ///< names the operation in messages ("read", ...)
    bool write = false;     ///< a failure after sending may have applied it
    /// For an EVALSHA command: the script, and where its arguments after the
    /// digest start (bytes from the command's start); set with RespWriter.
    std::optional<ScriptId> script;
    std::size_t afterDigest = 0;
    std::size_t argc = 0;

    // The outcome:
    Reply reply;
    Code code = Code::kOk;
    std::string message;

 private:
    friend class Pipeline;
    std::size_t size_ = 0;  // bytes of its command in the batch (0: dropped)
    std::chrono::steady_clock::time_point queued_;
    bool sent_ = false;
};

class Pipeline {
 public:
    /// Commands sent in one write, and their ops in order.
    struct Batch {
        std::string bytes;
        std::vector<PipelinedOp*> ops;
        std::string retry;  // one NOSCRIPT command rewritten as EVAL
    };

    Pipeline(ConnectionPool& pool, WorkerPool& workers, std::size_t lanes,
             std::chrono::milliseconds commandTimeout);
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    /// Queue `op`, whose command `fill(RespWriter&)` appends (see the
    /// contract); may lead a round on this thread. Not for worker threads.
    /// If it throws (out of memory), `op` was not queued and will not be
    /// completed.
    template <typename Fill>
    void submit(PipelinedOp& op, Fill&& fill) {
        Lane& lane = pick();
        bool lead = false;
        {
            std::lock_guard lock(lane.mutex);
            const std::size_t start = lane.buffer.size();
            try {
                RespWriter writer(lane.buffer);
                fill(writer);
                prepare(op, lane.buffer.size() - start);
                lane.queue.push_back(&op);
            } catch (...) {
                lane.buffer.resize(start);  // no half command in the stream
                throw;
            }
            lead = !lane.active;
            if (lead) setActive(lane, true);
        }
        if (lead) leadOnce(lane);
    }

    /// The whole exchange of `op` on this thread (see the contract). If it
    /// throws (out of memory), `op` was not sent and will not be completed.
    template <typename Fill>
    void runDirect(PipelinedOp& op, Fill&& fill) {
        const Scratch scratch;
        RespWriter writer(scratch.batch.bytes);
        fill(writer);
        prepare(op, scratch.batch.bytes.size());
        scratch.batch.ops.push_back(&op);
        exchangeDirect(scratch.batch);
    }

 private:
    struct Lane {
        std::mutex mutex;
        std::string buffer;               // queued commands; guarded by mutex
        std::vector<PipelinedOp*> queue;  // their ops, in order; guarded
        bool active = false;              // someone leads; guarded
        bool drainPosted = false;         // a worker is asked to lead; guarded
        std::atomic<bool> busy{false};    // mirrors active, for pick()
        Batch batches[2];                 // the leading worker's
    };
    using Lease = std::optional<ConnectionPool::Lease>;

    Lane& pick() noexcept;
    void prepare(PipelinedOp& op, std::size_t size) noexcept;
    static void setActive(Lane& lane, bool active) noexcept;
    /// A batch of this thread's own while it lives, one per nesting level (a
    /// completion that calls the store again gets the next one).
    struct Scratch {
        Scratch();
        ~Scratch();
        Scratch(const Scratch&) = delete;
        Scratch& operator=(const Scratch&) = delete;
        Batch& batch;
    };
    void leadOnce(Lane& lane) noexcept;
    void drain(Lane& lane) noexcept;
    void exchangeDirect(Batch& batch) noexcept;
    /// Give the lane up; a worker takes over if commands are queued.
    void release(Lane& lane) noexcept;
    void take(Lane& lane, Batch& batch) noexcept;
    /// Drop what waited too long, borrow a connection unless `lease` holds
    /// a sound one (waiting, connecting), write. With `mayReplace`, a
    /// connection older than the pool's last failure is replaced first.
    void send(Lease& lease, Batch& batch, bool mayReplace) noexcept;
    /// Read one reply per sent op, then retry NOSCRIPT ones as EVAL.
    void receive(Lease& lease, Batch& batch) noexcept;
    void fail(PipelinedOp& op, Code code, std::string_view message) noexcept;
    /// Complete every op of `batch` and empty it.
    static void finish(Batch& batch) noexcept;

    ConnectionPool& pool_;
    WorkerPool& workers_;
    const std::chrono::milliseconds timeout_;
    std::vector<std::unique_ptr<Lane>> lanes_;
    std::atomic<std::size_t> next_{0};
    /// When a reply last timed out (steady clock ticks; 0 never).
    std::atomic<std::chrono::steady_clock::rep> hungAt_{0};
};

}  // namespace micro::redis
