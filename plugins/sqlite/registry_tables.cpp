#include "registry_tables.hpp"

#include <micro/abi.h>

#include <limits>

#include "common.hpp"

namespace micro::sqlite {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS nodes(
    service TEXT NOT NULL,
    node TEXT NOT NULL,
    record BLOB NOT NULL,
    ttl_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    PRIMARY KEY(service, node));
CREATE INDEX IF NOT EXISTS nodes_by_expiry ON nodes(expires_at_ms);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    node TEXT NOT NULL,
    type INTEGER NOT NULL,
    record BLOB NOT NULL,
    ttl_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_time ON events(at_ms);
PRAGMA user_version = 1;
)sql";

/// now + ttl, saturating; SQL NULL (never) is left to the caller for ttl 0.
std::int64_t expiryOf(std::int64_t now, std::int64_t ttlMs) noexcept {
    if (ttlMs > std::numeric_limits<std::int64_t>::max() - now) {
        return std::numeric_limits<std::int64_t>::max();
    }
    return now + ttlMs;
}

bool liveAt(const Statement::Use& row, int expiresColumn, std::int64_t now) noexcept {
    return row.isNull(expiresColumn) || row.integer(expiresColumn) > now;
}

}  // namespace

RegistryTables::RegistryTables(const std::string& path, std::int64_t busyTimeoutMs)
    : db_("registry database", path, busyTimeoutMs),
      schemaReady_(ensureSchema(db_, kSchema, kSchemaVersion, "registry")),
      selectNode_(
          db_, "SELECT record, ttl_ms, expires_at_ms FROM nodes WHERE service = ?1 AND node = ?2"),
      upsertNode_(db_,
                  "INSERT INTO nodes(service, node, record, ttl_ms, expires_at_ms) "
                  "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(service, node) DO UPDATE SET "
                  "record = excluded.record, ttl_ms = excluded.ttl_ms, "
                  "expires_at_ms = excluded.expires_at_ms"),
      deleteNode_(db_,
                  "DELETE FROM nodes WHERE service = ?1 AND node = ?2 "
                  "RETURNING record, ttl_ms, expires_at_ms"),
      insertEvent_(db_,
                   "INSERT INTO events(at_ms, service, node, type, record, ttl_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
      lookup_(db_,
              "SELECT node, record, ttl_ms FROM nodes WHERE service = ?1 "
              "AND (expires_at_ms IS NULL OR expires_at_ms > ?2) ORDER BY node"),
      services_(db_,
                "SELECT DISTINCT service FROM nodes "
                "WHERE expires_at_ms IS NULL OR expires_at_ms > ?1 ORDER BY service"),
      anyExpired_(db_, "SELECT EXISTS(SELECT 1 FROM nodes WHERE expires_at_ms <= ?1)"),
      deleteExpired_(db_,
                     "DELETE FROM nodes WHERE expires_at_ms <= ?1 "
                     "RETURNING service, node, record, ttl_ms"),
      anyOldEvents_(db_, "SELECT EXISTS(SELECT 1 FROM events WHERE at_ms < ?1)"),
      deleteOldEvents_(db_, "DELETE FROM events WHERE at_ms < ?1"),
      lastSeq_(db_, "SELECT COALESCE(MAX(seq), 0) FROM events"),
      eventsAfter_(db_,
                   "SELECT seq, type, service, node, record, ttl_ms FROM events "
                   "WHERE seq > ?1 ORDER BY seq LIMIT ?2") {}

void RegistryTables::appendEvent(std::int64_t atMs, std::string_view service, std::string_view node,
                                 std::int32_t type, std::string_view record, std::int64_t ttlMs) {
    auto q = insertEvent_.use("appending a change event");
    q.bind(1, atMs).bindText(2, service).bindText(3, node).bind(4, type).bindBlob(5, record);
    q.bind(6, ttlMs).run();
}

void RegistryTables::registerNode(std::string_view service, std::string_view node,
                                  std::string_view record, std::int64_t ttlMs) {
    Transaction t(db_, "registering a node");
    const std::int64_t now = unixNowMs();  // after the lock: waiting must not shorten the TTL
    std::int32_t type = MICRO_REGISTRY_CREATED;
    {
        auto q = selectNode_.use("registering a node");
        q.bindText(1, service).bindText(2, node);
        if (q.step()) {
            if (liveAt(q, 2, now)) {
                type = MICRO_REGISTRY_UPDATED;
            } else {
                // Expired, not yet swept: watchers saw it created, so they
                // see it deleted before it is created again.
                appendEvent(now, service, node, MICRO_REGISTRY_DELETED, q.blob(0), q.integer(1));
            }
        }
    }
    {
        auto q = upsertNode_.use("registering a node");
        q.bindText(1, service).bindText(2, node).bindBlob(3, record).bind(4, ttlMs);
        if (ttlMs > 0) {
            q.bind(5, expiryOf(now, ttlMs));
        } else {
            q.bindNull(5);
        }
        q.run();
    }
    appendEvent(now, service, node, type, record, ttlMs);
    t.commit();
}

bool RegistryTables::deregisterNode(std::string_view service, std::string_view node) {
    Transaction t(db_, "deregistering a node");
    const std::int64_t now = unixNowMs();
    bool existed = false;
    bool live = false;
    std::string record;
    std::int64_t ttlMs = 0;
    {
        auto q = deleteNode_.use("deregistering a node");
        q.bindText(1, service).bindText(2, node);
        if (q.step()) {
            existed = true;
            live = liveAt(q, 2, now);
            record = q.blob(0);
            ttlMs = q.integer(1);
            q.run();
        }
    }
    // An expired row is reported gone now rather than by a later sweep.
    if (existed) appendEvent(now, service, node, MICRO_REGISTRY_DELETED, record, ttlMs);
    t.commit();
    return live;
}

std::vector<NodeRow> RegistryTables::lookup(std::string_view service) {
    std::vector<NodeRow> out;
    auto q = lookup_.use("looking up a service");
    q.bindText(1, service).bind(2, unixNowMs());
    while (q.step())
        out.push_back(NodeRow{std::string(q.text(0)), std::string(q.blob(1)), q.integer(2)});
    return out;
}

std::vector<std::string> RegistryTables::services() {
    std::vector<std::string> out;
    auto q = services_.use("listing services");
    q.bind(1, unixNowMs());
    while (q.step()) out.emplace_back(q.text(0));
    return out;
}

std::size_t RegistryTables::sweep() {
    {
        auto q = anyExpired_.use("looking for expired nodes");
        q.bind(1, unixNowMs());
        if (!q.step() || q.integer(0) == 0) return 0;
    }
    Transaction t(db_, "removing expired nodes");
    const std::int64_t now = unixNowMs();
    std::vector<EventRow> gone;
    {
        auto q = deleteExpired_.use("removing expired nodes");
        q.bind(1, now);
        while (q.step()) {
            gone.push_back(EventRow{0, MICRO_REGISTRY_DELETED, std::string(q.text(0)),
                                    std::string(q.text(1)), std::string(q.blob(2)), q.integer(3)});
        }
    }
    for (const auto& e : gone) appendEvent(now, e.service, e.node, e.type, e.record, e.ttlMs);
    t.commit();
    return gone.size();
}

std::size_t RegistryTables::trimEvents(std::int64_t maxAgeMs) {
    {
        auto q = anyOldEvents_.use("looking for old events");
        q.bind(1, unixNowMs() - maxAgeMs);
        if (!q.step() || q.integer(0) == 0) return 0;
    }
    Transaction t(db_, "trimming old events");
    {
        auto q = deleteOldEvents_.use("trimming old events");
        q.bind(1, unixNowMs() - maxAgeMs).run();
    }
    auto n = static_cast<std::size_t>(db_.changes());
    t.commit();
    return n;
}

std::int64_t RegistryTables::lastSeq() {
    auto q = lastSeq_.use("reading the last event");
    return q.step() ? q.integer(0) : 0;
}

std::vector<EventRow> RegistryTables::eventsAfter(std::int64_t after, std::int64_t limit) {
    std::vector<EventRow> out;
    auto q = eventsAfter_.use("reading change events");
    q.bind(1, after).bind(2, limit);
    while (q.step()) {
        out.push_back(EventRow{q.integer(0), static_cast<std::int32_t>(q.integer(1)),
                               std::string(q.text(2)), std::string(q.text(3)),
                               std::string(q.blob(4)), q.integer(5)});
    }
    return out;
}

}  // namespace micro::sqlite
