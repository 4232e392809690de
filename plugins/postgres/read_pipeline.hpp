// plugins/postgres/read_pipeline.hpp — exact reads from many threads share
// a few plain libpq connections in pipeline mode: the reads that arrive
// while a round trip is in flight leave together in one write.
//
// Why: with one connection per calling thread every read costs the client
// a send, a poll and a recv, and the server a recv and a send, each a
// system call, and both sides a context switch. In a round, the server
// reads the whole batch at once and the client's one leader thread reads
// the replies of all of them.
//
// Contract
//   Lanes: `lanes` queues, each with its own connection (opened on first
//     use with the store's conninfo, statement_timeout and notices, as
//     raw_connection.hpp says). run(request) queues the request on a lane
//     (the calling thread's own lane, or an idle one) and:
//     - when the lane has no leader, the caller leads: it takes everything
//       queued, prepares on the connection the statements it has not yet
//       defined (outside pipeline mode), sends the batch in pipeline mode
//       with one Sync (one write), reads the results in order and
//       completes each request;
//     - otherwise it waits; the leader sends the request with its next
//       batch. When a leader's own request is complete and requests are
//       queued, it hands the lane to the owner of the first one, which
//       leads the next round; else it gives the lane up.
//     run() returns once the request is complete (its outcome set), on the
//     caller's thread: the caller then runs its own sink and completion.
//   Outcome per request: found and `row` filled, or not found (also when
//     the table does not exist: 42P01 / 3F000), or `code`/`message`:
//     - a server error: translateSqlError (errors.hpp), e.g.
//       DEADLINE_EXCEEDED at statement_timeout; the requests after it in
//       the same batch (aborted by the pipeline) go in the next round;
//     - cannot connect: connectError, UNAVAILABLE (UNAUTHENTICATED for a
//       rejected password), within libpq's connect_timeout;
//     - the connection broke (server restart, kill, terminated backend) or
//       no reply came within `replyTimeout`: the connection is closed and
//       every request without a result is sent once more on a fresh one
//       (reads are idempotent), so a restart costs no failed call; a
//       request that breaks a second connection fails UNAVAILABLE.
//     A connection idle for more than 100 ms is checked before a round
//     (raw_connection.hpp idleHealthy) and replaced when the server closed it.
//   Memory: requests live on their callers' stacks; a lane's queue and
//     batch vectors are reused; no allocation per read once warm beyond
//     libpq's result (and the row's strings when a value outgrows them).
//   Threads: run() is thread-safe. Not for the store's worker threads (a
//     completion that reads the store again would wait for the lane it is
//     leading): they read through their own session.
#pragma once

#include <micro/error.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "raw_connection.hpp"
#include "raw_statements.hpp"

namespace micro::postgres {

class ReadPipeline {
 public:
    struct Options {
        std::string conninfo;
        std::string label;  ///< "host:port", for messages
        std::int64_t statementTimeoutMs = 5000;
        std::size_t lanes = 1;
        std::chrono::milliseconds replyTimeout{30000};
        std::function<void(std::string_view)> notice;
    };

    /// One exact read. The caller fills the first block and keeps the
    /// request (and what it points to) alive until run() returns.
    struct Request {
        const std::string* statement = nullptr;  ///< name to prepare it under
        const std::string* qualified = nullptr;  ///< the table's SQL name
        bool keysOnly = false;
        std::string_view key;
        std::int64_t nowMs = 0;
        ExactRow* row = nullptr;

        bool found = false;
        Code code = Code::kOk;
        std::string message;

     private:
        friend class ReadPipeline;
        enum class State { kQueued, kDone, kLead };
        int attempts_ = 0;
        char now_[8] = {};
        State state_ = State::kQueued;  // guarded by mutex_
        std::mutex mutex_;
        std::condition_variable wake_;
    };

    explicit ReadPipeline(Options options);
    ~ReadPipeline();
    ReadPipeline(const ReadPipeline&) = delete;
    ReadPipeline& operator=(const ReadPipeline&) = delete;

    void run(Request& request) noexcept;

 private:
    struct Lane;
    Lane& pick() noexcept;
    void lead(Lane& lane, Request& self) noexcept;
    /// One round trip for `batch`; requests to send again go to `again`.
    void round(Lane& lane, std::vector<Request*>& batch, std::vector<Request*>& again) noexcept;
    /// The connection broke: close it; `pending` go again or fail.
    /// Clears each of their slots.
    void broke(Lane& lane, const std::string& why, Request** pending, std::size_t count,
               std::vector<Request*>& again) noexcept;
    /// Mark `request` complete and wake its owner.
    static void finish(Request& request) noexcept;

    const Options options_;
    std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace micro::postgres
