// plugins/sqlite/store_file.hpp — one database of the "file" store: one
// SQLite file in WAL mode holding that database's tables, and every query
// the store driver runs on it.
//
// Contract
//   Schema (schema version 1 in PRAGMA user_version):
//     micro_tables(id INTEGER PRIMARY KEY, name TEXT UNIQUE, last_version)
//       one row per store table: its SQL tables are "r<id>_<name>" (records)
//       and "m<id>_<name>" (metadata), and last_version is the table's
//       version counter. Names compare case-sensitively here even though
//       SQL identifiers do not, so "Orders" and "orders" stay two tables.
//     r<id>_<name>(key BLOB PRIMARY KEY, value BLOB, expiry_unix_ms, version)
//     m<id>_<name>(key BLOB, name TEXT, value TEXT, PRIMARY KEY(key, name))
//   Table names: the caller passes names that match [A-Za-z0-9_]{1,63}
//     (validName); they are quoted into SQL, never anything else.
//   Versions: every record written takes the next value of its table's
//     counter, in the same IMMEDIATE transaction as the write, so versions
//     grow on every write and never repeat, across processes, even after a
//     key is erased or expires.
//   Writes: a batch is one IMMEDIATE transaction: every compare-and-set is
//     checked first (a key repeated in the batch against its earlier entry;
//     an expired record counts as absent) and on a conflict nothing changes.
//   Reads never return a record whose expiry has passed; sweep() deletes
//     them (each table: a read first, the write lock only when needed).
//   Keys are compared as bytes: ranges come back in ascending byte order.
//   Threads: not thread-safe; the owner serialises all calls.
#pragma once

#include <micro/driver/store.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqlite_db.hpp"

namespace micro::sqlite {

struct StoredRecord {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::int64_t expiryUnixMs = 0;
    std::uint64_t version = 0;
};

class StoreFile {
 public:
    static constexpr std::int64_t kSchemaVersion = 1;

    /// Open (or create) the database file at `path`; throws micro::Error
    /// naming it when it cannot be opened, is not a database, or holds
    /// another schema version.
    StoreFile(const std::string& path, std::int64_t busyTimeoutMs);
    ~StoreFile();
    StoreFile(const StoreFile&) = delete;
    StoreFile& operator=(const StoreFile&) = delete;

    /// True when `name` may name a table: [A-Za-z0-9_]{1,63}.
    static bool validName(std::string_view name) noexcept;

    /// The live record under `key`, if any.
    bool readExact(std::string_view table, std::string_view key, StoredRecord& out);
    /// The live records matching `query` (prefix and/or suffix), ascending,
    /// after `query.offset`, at most `query.limit` (0: all).
    std::vector<StoredRecord> readRange(std::string_view table, const driver::StoreQuery& query);

    /// The outcome of a write: the version of the last record, or the
    /// compare-and-set conflict that aborted it (then nothing changed).
    struct WriteResult {
        std::uint64_t lastVersion = 0;
        std::string conflict;
    };
    WriteResult write(std::string_view table, const driver::RecordBatch& records);
    /// Remove `key`; true when a live record was removed.
    bool erase(std::string_view table, std::string_view key);
    /// Delete every expired record of every table; returns how many.
    std::size_t sweep();

    const std::string& path() const noexcept { return db_.path(); }

 private:
    struct Table;
    /// The statements of `table`; nullptr when it does not exist and
    /// `create` is false.
    Table* table(std::string_view name, bool create);

    Database db_;  // first: destroyed after every statement
    [[maybe_unused]] bool schemaReady_;
    Statement findTable_;
    Statement addTable_;
    Statement lastVersion_;
    Statement setLastVersion_;
    Statement tableNames_;
    std::map<std::string, std::unique_ptr<Table>, std::less<>> tables_;
};

}  // namespace micro::sqlite
