// plugins/sqlite/registry_tables.hpp — the registry's tables in one SQLite
// database file, and every query the "local" registry driver runs on them.
//
// Contract
//   Schema (created on first use, schema version 1 in PRAGMA user_version):
//     nodes(service, node, record BLOB, ttl_ms, expires_at_ms)  key (service, node)
//       expires_at_ms: Unix ms when the node expires; NULL = never (ttl 0).
//     events(seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms, service, node,
//            type, record BLOB, ttl_ms)
//       a change log: type is MICRO_REGISTRY_CREATED/UPDATED/DELETED; seq
//       only grows (AUTOINCREMENT never reuses one, even after a trim), so a
//       reader in any process sees every change after the last seq it read.
//   Every change and its event are written in one IMMEDIATE transaction:
//     register: CREATED when the node is absent, UPDATED when it is live;
//       when it is present but expired (not yet swept) a DELETED for the old
//       node comes first, then CREATED.
//     deregister: DELETED (with the last record) when the row existed.
//     sweep: DELETE ... RETURNING of every expired row, one DELETED each.
//       Writers are serialised by SQLite, so a row is returned by exactly one
//       process's DELETE: each expiry is reported once, whoever sweeps.
//   Reads (lookup, services) never return a row whose expires_at_ms has
//     passed, swept or not.
//   Times are wall-clock Unix ms (common.hpp), passed in by the caller.
//   Threads: not thread-safe; the owner serialises all calls.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_db.hpp"

namespace micro::sqlite {

struct NodeRow {
    std::string node;
    std::string record;
    std::int64_t ttlMs = 0;
};

struct EventRow {
    std::int64_t seq = 0;
    std::int32_t type = 0;
    std::string service;
    std::string node;
    std::string record;
    std::int64_t ttlMs = 0;
};

class RegistryTables {
 public:
    static constexpr std::int64_t kSchemaVersion = 1;

    /// Open (or create) the database at `path`; throws micro::Error naming
    /// the path when it cannot be opened, is not a database, or holds a
    /// schema of another version.
    RegistryTables(const std::string& path, std::int64_t busyTimeoutMs);

    /// Create or refresh a node; its expiry is now + ttlMs (0: never).
    void registerNode(std::string_view service, std::string_view node, std::string_view record,
                      std::int64_t ttlMs);
    /// Remove a node; true when it was live (false: absent or expired).
    bool deregisterNode(std::string_view service, std::string_view node);
    /// The live nodes of `service`, ordered by node name.
    std::vector<NodeRow> lookup(std::string_view service);
    /// The services with a live node, sorted, each once.
    std::vector<std::string> services();
    /// Delete expired nodes with their DELETED events; returns how many.
    /// Takes the write lock only when a read shows there is something to do.
    std::size_t sweep();
    /// Delete events older than `maxAgeMs`; returns how many.
    std::size_t trimEvents(std::int64_t maxAgeMs);
    /// The highest seq written so far (0 when none).
    std::int64_t lastSeq();
    /// Up to `limit` events with seq > `after`, in seq order.
    std::vector<EventRow> eventsAfter(std::int64_t after, std::int64_t limit);

    const std::string& path() const noexcept { return db_.path(); }

 private:
    void appendEvent(std::int64_t atMs, std::string_view service, std::string_view node,
                     std::int32_t type, std::string_view record, std::int64_t ttlMs);

    /// Create the tables when the file has none; check the schema version.

    Database db_;                        // first: the statements below are destroyed before it
    [[maybe_unused]] bool schemaReady_;  // ensureSchema() runs before the statements are prepared
    Statement selectNode_;
    Statement upsertNode_;
    Statement deleteNode_;
    Statement insertEvent_;
    Statement lookup_;
    Statement services_;
    Statement anyExpired_;
    Statement deleteExpired_;
    Statement anyOldEvents_;
    Statement deleteOldEvents_;
    Statement lastSeq_;
    Statement eventsAfter_;
};

}  // namespace micro::sqlite
