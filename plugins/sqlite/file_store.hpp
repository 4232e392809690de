// plugins/sqlite/file_store.hpp — store driver "file": the embedded default
// store, records kept in SQLite files in WAL mode, one file per database,
// safe to share between the processes of one host.
//
// Contract
//   Config (unknown keys are refused):
//     dir              where database files go: <dir>/<database>.db; default
//                      ${XDG_DATA_HOME:-$HOME/.local/share}/micro/store.
//                      Missing folders are created with mode 0700.
//     database, table  the names used when a call passes an empty one
//                      (default "micro", "micro").
//     sweep_ms         how often expired records are deleted, 1..3600000
//                      (default 1000).
//     busy_timeout_ms  how long a call waits for another process's write
//                      lock before failing with UNAVAILABLE (default 5000).
//     create() opens the default database, so a bad folder or a file that is
//     not a database fails there, naming the path.
//   Names: databases match [A-Za-z0-9_-]{1,63} (they name files), tables
//     [A-Za-z0-9_]{1,63}; anything else is INVALID_ARGUMENT naming it.
//   Records, versions, batches, compare-and-set: as store_file.hpp. Expired
//     records are never returned; a background thread deletes them every
//     sweep_ms from the databases this instance has opened (any process's
//     sweeper may delete them; reads filter them regardless).
//   Reading a database or table that was never written reads nothing (an
//     exact key is NOT_FOUND) and creates no file.
//   Calls run on the caller's thread: per database file and instance, one
//     connection for writes, guarded by a mutex, and a pool of connections
//     for reads: a read borrows an idle one (or opens another), so reads on
//     several threads run in parallel (WAL readers do not block each other);
//     at most kIdleReaders stay open when idle. Each call is one short
//     transaction. Writes may wait up to busy_timeout_ms
//     for another process; reads never wait for writers. The sinks run with
//     no lock held. SQLITE_BUSY and I/O errors complete with UNAVAILABLE
//     naming the file.
//   Threads: one sweeper per instance, joined by the destructor.
#pragma once

#include <micro/driver/store.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store_file.hpp"

namespace micro::sqlite {

class FileStore {
 public:
    explicit FileStore(const driver::Context& ctx);
    ~FileStore();
    FileStore(const FileStore&) = delete;
    FileStore& operator=(const FileStore&) = delete;

    // The asynchronous form (trailing Done&) reports NOT_FOUND and ABORTED
    // without throwing; every call completes before it returns.
    void read(const driver::StoreQuery& query, driver::RecordSink& out, driver::Done& done);
    void write(std::string_view database, std::string_view table,
               const driver::RecordBatch& records, driver::Done& done);
    void erase(std::string_view database, std::string_view table, std::string_view key,
               driver::Done& done);

 private:
    static constexpr std::size_t kIdleReaders = 16;

    /// One database file, with a connection for writes and a pool for
    /// reads, so that a write waiting for another process's lock does not
    /// hold up this instance's reads (WAL readers never wait for a writer),
    /// and reads do not wait for each other.
    struct OpenFile {
        OpenFile(const std::string& path, std::int64_t busyTimeoutMs);
        std::string path;
        std::int64_t busyTimeoutMs;
        std::mutex writeMutex;  // guards `writer`
        StoreFile writer;
        std::mutex readersMutex;                              // guards `idleReaders`
        std::vector<std::unique_ptr<StoreFile>> idleReaders;  // most recent last
    };

    /// A read connection of one file, lent to one call; back to the pool
    /// (or closed when the pool is full) when the lease ends.
    class ReaderLease {
     public:
        explicit ReaderLease(OpenFile& file);
        ~ReaderLease();
        ReaderLease(const ReaderLease&) = delete;
        ReaderLease& operator=(const ReaderLease&) = delete;
        StoreFile* operator->() const noexcept { return reader_.get(); }

     private:
        OpenFile& file_;
        std::unique_ptr<StoreFile> reader_;
    };

    /// The database named `database` (empty: the default), opened on first
    /// use; nullptr when its file does not exist and `create` is false.
    OpenFile* open(std::string_view database, bool create);
    std::string_view tableName(std::string_view table) const;
    /// "database/table" with the defaults filled in, for messages.
    std::string describe(std::string_view database, std::string_view table) const;
    void sweepLoop(std::stop_token stop);

    const micro_host* host_;
    std::string instanceName_;
    std::string dir_;
    std::string defaultDatabase_;
    std::string defaultTable_;
    std::int64_t busyTimeoutMs_ = 5000;
    std::chrono::milliseconds sweepEvery_{1000};

    std::shared_mutex filesMutex_;  // guards files_ (the map, not the files)
    std::map<std::string, std::unique_ptr<OpenFile>, std::less<>> files_;

    std::mutex stopMutex_;  // only for stopWake_: the stop itself is sweeper_'s
    std::condition_variable_any stopWake_;
    std::jthread sweeper_;  // last: started after, and joined before, everything it uses
};

}  // namespace micro::sqlite
