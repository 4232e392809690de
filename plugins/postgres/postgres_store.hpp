// plugins/postgres/postgres_store.hpp — store driver "postgres": records in
// tables of a PostgreSQL (or CockroachDB) database, shared by every process
// that points at the same server.
//
// Contract
//   Config (unknown keys are refused; a bad value names its key):
//     url                   libpq connection URI (conninfo.hpp); default
//                           postgresql://postgres@127.0.0.1:5432/postgres.
//                           The only difference between PostgreSQL and
//                           CockroachDB is this string.
//     pool_size             connections and worker threads, 1..64 (4)
//     connect_timeout_ms    bound on opening a connection, 1..600000 (2000)
//     statement_timeout_ms  server-side bound on each statement,
//                           0..3600000, 0 = none (5000)
//     database, table       the names used when a call passes an empty one
//                           ("micro", "micro")
//     sweep_ms              how often expired records are deleted,
//                           1..86400000 (30000)
//     max_value_bytes       largest value, and largest encoded metadata, a
//                           record may have, 1..268435456 (4194304)
//     create() checks the config and parses the url but does not connect:
//     a store can be created while the server is down.
//   Mapping (sql.hpp): micro database D is the SQL schema micro_D, table T
//     the table micro_D.T, created with the catalog on the first write to
//     it (CREATE ... IF NOT EXISTS; each instance remembers what it
//     created). Reading or erasing a table never written reads nothing (an
//     exact key is NOT_FOUND) and creates nothing. Names: names.hpp.
//   Records: keys are bytes (NUL, invalid UTF-8 and quotes are data, bound
//     as parameters), 1..1024 bytes (PostgreSQL's index rows are limited);
//     values and metadata up to max_value_bytes, checked before anything is
//     sent. Ranges come back in ascending byte order of keys; limit and
//     offset apply to that order. Expired records are never returned; every
//     instance deletes the expired records of every table in the catalog
//     every sweep_ms (one background thread).
//   Versions and writes: every record written takes a new version from one
//     sequence (sql.hpp), inside the statement that writes it, once that
//     statement holds the record's row lock. A write of one record is one
//     autocommit statement: an upsert, or for a compare-and-set an UPDATE
//     ... WHERE version = expected (an INSERT ... ON CONFLICT DO UPDATE
//     WHERE the old row expired, for "absent"). A batch runs the same
//     statements in one transaction, in order, so a key repeated in the
//     batch is checked against its earlier entry. When a compare-and-set
//     matches no row nothing changes and the call completes with ABORTED
//     naming the key (an expired record counts as absent). Versions grow on
//     every write of a key, in commit order, and are never reused (even
//     after an erase or an expiry), across processes; writes to different
//     keys share no lock. Serialisation failures and deadlocks are retried
//     up to 5 times before ABORTED.
//   Failures (errors.hpp): while the server is down every call completes
//     with UNAVAILABLE "postgres host:port: ..." within about
//     connect_timeout_ms; a statement is cut at statement_timeout_ms
//     (DEADLINE_EXCEEDED). A connection that broke is replaced: a call that
//     finds its connection broken (the server restarted) retries once on a
//     new one, so the store recovers by itself when the server is back. A
//     connection lost during COMMIT completes with UNAVAILABLE saying the
//     write may or may not have been applied.
//   Threads: every call checks its arguments on the caller's thread
//     (INVALID_ARGUMENT completes at once) and copies them. When a pooled
//     connection is idle at that moment the call runs its statements on the
//     caller's thread and completes before returning (no hop to another
//     thread); otherwise it is queued on the driver's pool_size worker
//     threads, each of which borrows one pooled connection, and the
//     completion runs on a worker. A call made from a worker (a sink or
//     completion calling back into a store) runs inline on that worker.
//     Sinks and completions run with no lock held and no connection
//     borrowed.
//   Exact reads from the caller's threads, of a table this instance has met
//     (written or read before), go through the read pipeline
//     (read_pipeline.hpp): (pool_size + 3) / 4 plain libpq connections in
//     pipeline mode that concurrent readers share, one caller leading each
//     round trip for all; every reader completes on its own thread before
//     its call returns. Other exact reads (the first of a table, and those
//     made on a worker) and unconditional one-record writes run on the
//     session's plain libpq connection (raw_connection.hpp), the rest on
//     its libpqxx one: the server sees up to 2 x pool_size + (pool_size +
//     3) / 4 connections per instance. The destructor completes
//     calls still queued with CANCELLED, stops the sweeper and joins every thread.
#pragma once

#include <micro/driver/store.hpp>
#include <micro/driver/worker_pool.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "connection_pool.hpp"
#include "raw_statements.hpp"
#include "read_pipeline.hpp"

namespace micro::postgres {

using driver::WorkerPool;

inline constexpr std::size_t kMaxKeyBytes = 1024;

class PostgresStore {
 public:
    explicit PostgresStore(const driver::Context& ctx);
    ~PostgresStore();
    PostgresStore(const PostgresStore&) = delete;
    PostgresStore& operator=(const PostgresStore&) = delete;

    void read(const driver::StoreQuery& query, driver::RecordSink& out, driver::Done& done);
    void write(std::string_view database, std::string_view table,
               const driver::RecordBatch& records, driver::Done& done);
    void erase(std::string_view database, std::string_view table, std::string_view key,
               driver::Done& done);

 private:
    /// One micro table: its names, its quoted SQL name, and whether this
    /// instance made sure it exists. Never removed while the store lives.
    struct Table {
        std::string database;
        std::string name;
        std::string quotedSchema;
        std::string qualified;        ///< "micro_<database>"."<name>"
        std::string statementPrefix;  ///< "t<id>_": names of its prepared statements
        std::string exactRead[2];     ///< on the raw connection: values, keys only
        std::string rawUpsert;        ///< on the raw connection
        std::atomic<bool> created{false};
    };
    /// A record read, owned (the result is copied out before the connection
    /// goes back to the pool).
    struct Row {
        std::string key;
        std::string value;
        std::vector<std::pair<std::string, std::string>> metadata;
        std::int64_t expiryUnixMs = 0;
        std::uint64_t version = 0;
    };
    struct Query {
        std::string database;
        std::string table;
        std::string key;
        std::uint32_t flags = 0;
        std::uint64_t limit = 0;
        std::uint64_t offset = 0;
    };
    struct PendingRecord {
        std::string key;
        std::string value;
        std::string metadata;  ///< encoded (metadata_codec.hpp)
        std::int64_t expiryUnixMs = 0;
        std::uint64_t expectedVersion = 0;
    };
    struct WriteOutcome {
        std::uint64_t lastVersion = 0;
        std::string conflict;  ///< non-empty: nothing was written
    };
    /// The connection broke while an autocommit statement that changes
    /// records was out: it may or may not have been applied, so it must not
    /// be retried (withSession reports UNAVAILABLE saying so).
    struct ChangeInDoubt {
        std::string reason;
    };
    /// The table vanished behind this instance's back (dropped by hand):
    /// forget that it exists and create it again.
    struct TableMissing {};

    /// A connection lent to one call before it runs; empty otherwise.
    using Borrowed = std::optional<ConnectionPool::Lease>;

    /// Run `job(done, lease)` now when on a worker thread (empty lease) or
    /// when a pooled connection is idle (lease holds it), else queue it on a
    /// worker (empty lease); either way `done` completes exactly once with
    /// what the job did or threw.
    template <typename Job>
    void dispatch(driver::Done& done, Job job);
    template <typename Job>
    void runJob(driver::Done& done, Job& job, Borrowed& lease) noexcept;
    /// Completes `done` with the exception being handled (call in a catch).
    void failWithCurrent(driver::Done& done) const noexcept;

    /// Run `body(session)` on a borrowed connection, translating libpqxx
    /// failures (errors.hpp) and retrying: once on a fresh connection when
    /// the borrowed one broke, and up to 5 times on a serialisation failure
    /// or deadlock.
    template <typename Body>
    std::invoke_result_t<Body&, Session&> withSession(Body&& body);
    /// The same, first on `first` when it holds a connection (taken from it).
    template <typename Body>
    std::invoke_result_t<Body&, Session&> withSession(Borrowed& first, Body&& body);

    Table& table(std::string_view database, std::string_view name, Session& session);
    /// The table if this instance has met it, else null (no I/O).
    Table* knownTable(std::string_view database, std::string_view name);
    void ensureCreated(Session& session, Table& table);

    void readNow(const Query& query, driver::RecordSink& out, driver::Done& done, Borrowed& lease);
    /// An exact read, on the session's plain libpq connection
    /// (raw_statements.hpp) into a row this thread reuses.
    void readExactNow(const Query& query, driver::RecordSink& out, driver::Done& done,
                      Borrowed& lease);
    /// An exact read through the read pipeline, on the caller's thread.
    void readPipelined(Table& table, const Query& query, driver::RecordSink& out,
                       driver::Done& done) noexcept;
    std::vector<Row> fetch(Session& session, Table& table, const Query& query);
    void writeNow(const std::string& database, const std::string& table,
                  const std::vector<PendingRecord>& records, driver::Done& done, Borrowed& lease);
    WriteOutcome writeBatch(Session& session, Table& table,
                            const std::vector<PendingRecord>& records);
    void eraseNow(const std::string& database, const std::string& table, const std::string& key,
                  driver::Done& done, Borrowed& lease);
    void sweepLoop() noexcept;
    void sweepOnce();

    std::string effectiveDatabase(std::string_view database) const;
    std::string effectiveTable(std::string_view table) const;
    void log(std::int32_t level, std::string_view message) const noexcept;

    const micro_host* host_;
    std::string instanceName_;
    std::string defaultDatabase_;
    std::string defaultTable_;
    std::int64_t statementTimeoutMs_ = 5000;
    std::int64_t maxValueBytes_ = 4 * 1024 * 1024;
    std::chrono::milliseconds sweepInterval_{30000};
    std::string label_;  ///< "postgres host:port: "

    std::atomic<bool> closing_{false};
    std::atomic<bool> catalogReady_{false};

    std::shared_mutex tablesMutex_;
    std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;  // "database/table"
    int nextTableId_ = 0;                                                // guarded by tablesMutex_

    std::unique_ptr<ConnectionPool> pool_;
    std::unique_ptr<ReadPipeline> pipeline_;
    std::unique_ptr<WorkerPool> workers_;  // destroyed before pool_: its tasks use it

    std::mutex sweepMutex_;
    std::condition_variable sweepWake_;
    bool sweepStop_ = false;  // guarded by sweepMutex_
    std::thread sweeper_;
};

}  // namespace micro::postgres
