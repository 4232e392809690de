// plugins/redis/redis_store.hpp — store driver "redis": records in a Redis
// server, shared by every process that points at it.
//
// Contract
//   Config (unknown keys are refused, each bad value is INVALID_ARGUMENT
//   naming its key):
//     url                 redis://[[user]:password@]host[:port][/db]
//                         (default redis://127.0.0.1:6379/0; redis_url.hpp)
//     pool_size           connections and worker threads for range reads and
//                         for calls made on the driver's threads, 1..256
//                         (default 4); the pipeline adds one of each
//     connect_timeout_ms  bound on one connect, 1..600000 (default 1000)
//     command_timeout_ms  bound on one command's socket wait, and on a call's
//                         wait to be sent (for a free worker, a connection or
//                         a pipelined batch), 1..600000
//                         (default 2000)
//     database, table     the names used when a call passes an empty one
//                         (default "micro", "micro")
//     max_value_bytes     the largest value, key and metadata accepted,
//                         1..536870912 (default 4194304 = 4 MiB)
//     create() never touches the network: a service may start before its
//     Redis. Connections are made on first use.
//   Layout: key_layout.hpp. Names are 1..128 bytes of anything (checked
//     before anything is sent); keys are 1..max_value_bytes bytes of
//     anything. Oversized values, keys and metadata are refused with
//     INVALID_ARGUMENT before a byte is sent.
//   Semantics (as the memory store, proven by the conformance suite):
//     versions come from one counter per table, grow on every write and are
//     never reused; a write of one record without compare-and-set is one
//     short Lua script (increment, write, and the index only for a new
//     record, scripts.cpp); any other write batch is
//     one Lua script: every compare-and-set
//     is checked first (a key repeated in the batch against its earlier
//     entry), then every record is written, or nothing is and the call
//     completes with ABORTED naming the key; erase is atomic (record and
//     index entries together).
//   Expiry: native (PEXPIREAT at the record's expiry), judged by the Redis
//     server's clock. Index entries of expired records are skipped by
//     reads and removed lazily: by the range read that meets them, and by
//     writes to the table (up to 16 per write, from the expiry index).
//   Reads: an exact key is one HMGET. Prefix and suffix reads walk the
//     table's index in pages of up to 256 members (ZRANGEBYLEX, a prefix as
//     a lexicographic range, a suffix filtered server-side); never KEYS or a
//     keyspace SCAN. Offset and limit count live records in ascending key
//     order. Each page is atomic; a read spanning pages is not a snapshot.
//   Threads: every method is thread-safe and [non-blocking] in the ABI's
//     sense. Exact reads, writes and erases are pipelined (pipeline.hpp):
//     the call's command is queued on a shared connection; when nobody is
//     sending at that moment the caller sends everything queued in one
//     write and completes those calls before returning (one round trip, no
//     hop to another thread), else it returns at once and the thread that
//     is sending (a worker, once there is a backlog) sends it with the next
//     batch. Prefix and suffix reads run on the caller's thread when a
//     pooled connection is idle, else on a worker (micro/driver/worker_pool.hpp). No lock
//     is held while a sink or completion runs, and a call made from one
//     never waits for the lane or connection of the call that runs it (a
//     call made on a worker runs inline on a connection of its own), so
//     sinks and completions may call back into the store. A call that
//     waited longer than command_timeout_ms for a worker or to be sent
//     fails with UNAVAILABLE, and nothing is sent. Pipelined batches are
//     sent with MSG_NOSIGNAL; other round trips block SIGPIPE on the
//     calling thread only while they talk to Redis (connection.hpp,
//     ScopedSigpipeBlock).
//   Failures: connection_pool.hpp and connection.hpp. While the server is
//     down every call fails with UNAVAILABLE "redis HOST:PORT: ..." within
//     about connect_timeout_ms + command_timeout_ms (pipeline.hpp: what is
//     queued behind a batch that timed out fails unsent), and the pool
//     reconnects by itself once it is back. A write that fails with
//     UNAVAILABLE after its command was sent may or may not have been
//     applied (the message says so); a compare-and-set retry then tells
//     which.
#pragma once

#include <micro/driver/store.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connection_pool.hpp"
#include "key_layout.hpp"
#include "pipeline.hpp"

namespace micro::redis {

class RedisStore {
 public:
    explicit RedisStore(const driver::Context& ctx);
    ~RedisStore();
    RedisStore(const RedisStore&) = delete;
    RedisStore& operator=(const RedisStore&) = delete;

    void read(const driver::StoreQuery& query, driver::RecordSink& out, driver::Done& done);
    void write(std::string_view database, std::string_view table,
               const driver::RecordBatch& records, driver::Done& done);
    void erase(std::string_view database, std::string_view table, std::string_view key,
               driver::Done& done);

 private:
    /// An owned copy of a query, for the worker.
    struct Query {
        std::string database;  // resolved
        std::string table;     // resolved
        std::string key;
        std::uint32_t flags = 0;
        std::uint64_t limit = 0;
        std::uint64_t offset = 0;
    };

    /// `name`, or the default when empty; INVALID_ARGUMENT when too long.
    std::string_view resolve(std::string_view name, const std::string& fallback,
                             std::string_view what) const;
    /// A pipelined call: its command, and what completes it (defined in
    /// redis_store.cpp). Kept in a free list and reused.
    struct Op;
    Op& acquire();
    void recycle(Op& op) noexcept;
    /// An op from the free list for `what` on `database`.`table`, with the
    /// fields `fill` sets; back to the list if filling throws.
    template <typename Fill>
    Op& startOp(std::string_view what, bool write, std::string_view database,
                std::string_view table, Fill&& fill);
    /// Completes `op`'s call from its reply or failure, then recycles it.
    void complete(Op& op) noexcept;
    void finish(Op& op, driver::Done& done);
    /// Send `op` through the pipeline (or, on a worker, directly).
    template <typename Fill>
    void dispatch(Op& op, Fill&& fill);
    /// A connection lent to one call; empty once given back.
    using Borrowed = std::optional<ConnectionPool::Lease>;
    /// Run `body(lease, done)`: on the caller's thread with an idle pooled
    /// connection when there is one, else queued on a worker with an empty
    /// lease. Exceptions complete `done`.
    template <typename Body>
    void run(driver::Done& done, Body body);
    /// One round trip `fn(connection)` on `lease` (borrowing when it is
    /// empty); the connection goes back before this returns.
    template <typename Fn>
    Reply exchange(Borrowed& lease, Fn&& fn);

    /// An unconditional write of one record: the put script.
    void writeOne(std::string_view database, std::string_view table, const micro_record& record,
                  driver::Done& done);
    void readRange(const Query& query, Borrowed& lease, driver::RecordSink& out,
                   driver::Done& done);

    /// The config, checked (see the contract).
    struct Settings {
        ConnectOptions connect;
        std::size_t poolSize = 4;
        std::string defaultDatabase;
        std::string defaultTable;
        std::uint64_t maxValueBytes = 4u << 20;
    };
    static Settings parse(const driver::Config& config);

    const Settings settings_;
    const std::size_t lanes_;
    ConnectionPool pool_;
    /// Free ops, in shards so that threads seldom contend for one lock.
    struct FreeOps {
        std::mutex mutex;
        std::vector<std::unique_ptr<Op>> ops;  // guarded by mutex
    };
    static constexpr std::size_t kFreeShards = 8;
    std::array<FreeOps, kFreeShards> free_;
    Pipeline pipeline_;
    WorkerPool workers_;  // last: joined before the rest goes
};

}  // namespace micro::redis
