#include "store_file.hpp"

#include <limits>

#include "common.hpp"

namespace micro::sqlite {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS micro_tables(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    last_version INTEGER NOT NULL);
PRAGMA user_version = 1;
)sql";

/// `"<prefix><id>_<name>"`: a quoted SQL identifier for a validated name.
std::string ident(char prefix, std::int64_t id, std::string_view name) {
    return std::string("\"") + prefix + std::to_string(id) + "_" + std::string(name) + "\"";
}

/// The smallest byte string greater than every string starting with
/// `prefix`; empty when there is none (the prefix is empty or all 0xff).
std::string upperBound(std::string_view prefix) {
    std::string upper(prefix);
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xff) upper.pop_back();
    if (!upper.empty())
        upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    return upper;
}

std::int64_t toSqlCount(std::uint64_t n, std::int64_t none) noexcept {
    if (n == 0) return none;
    return n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(n);
}

std::string versionText(std::uint64_t v) {
    if (v == MICRO_VERSION_ABSENT || v == 0) return "absent";
    return std::to_string(v);
}

}  // namespace

/// The prepared statements of one store table.
struct StoreFile::Table {
    Table(Database& db, std::int64_t tableId, std::string_view name)
        : id(tableId),
          records(ident('r', tableId, name)),
          metadata(ident('m', tableId, name)),
          exact(db, "SELECT r.value, r.expiry_unix_ms, r.version, m.name, m.value FROM " + records +
                        " AS r LEFT JOIN " + metadata +
                        " AS m ON m.key = r.key WHERE r.key = ?1 "
                        "AND (r.expiry_unix_ms = 0 OR r.expiry_unix_ms > ?2) ORDER BY m.name"),
          rangeBounded(db, rangeSql("key >= ?1 AND key < ?2")),
          rangeOpen(db, rangeSql("key >= ?1")),
          current(db, "SELECT version, expiry_unix_ms FROM " + records + " WHERE key = ?1"),
          upsert(db, "INSERT INTO " + records +
                         "(key, value, expiry_unix_ms, version) VALUES(?1, ?2, ?3, ?4) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value, "
                         "expiry_unix_ms = excluded.expiry_unix_ms, version = excluded.version"),
          deleteMetadata(db, "DELETE FROM " + metadata + " WHERE key = ?1"),
          insertMetadata(
              db, "INSERT OR REPLACE INTO " + metadata + "(key, name, value) VALUES(?1, ?2, ?3)"),
          erase(db, "DELETE FROM " + records + " WHERE key = ?1 RETURNING expiry_unix_ms"),
          anyExpired(db, "SELECT EXISTS(SELECT 1 FROM " + records +
                             " WHERE expiry_unix_ms != 0 AND expiry_unix_ms <= ?1)"),
          deleteExpiredMetadata(db, "DELETE FROM " + metadata + " WHERE key IN (SELECT key FROM " +
                                        records +
                                        " WHERE expiry_unix_ms != 0 AND expiry_unix_ms <= ?1)"),
          deleteExpired(db, "DELETE FROM " + records +
                                " WHERE expiry_unix_ms != 0 AND expiry_unix_ms <= ?1") {}

    /// Records in a key range (?1, ?2), optionally ending with a suffix of
    /// ?3 bytes (?4), live at ?5, paged by ?6 (limit) and ?7 (offset), each
    /// joined with its metadata rows.
    std::string rangeSql(const std::string& keyRange) const {
        return "SELECT r.key, r.value, r.expiry_unix_ms, r.version, m.name, m.value FROM "
               "(SELECT key, value, expiry_unix_ms, version FROM " +
               records + " WHERE " + keyRange +
               " AND (?3 = 0 OR substr(key, -?3) = ?4)"
               " AND (expiry_unix_ms = 0 OR expiry_unix_ms > ?5)"
               " ORDER BY key LIMIT ?6 OFFSET ?7) AS r LEFT JOIN " +
               metadata + " AS m ON m.key = r.key ORDER BY r.key, m.name";
    }

    std::int64_t id;
    std::string records;   // quoted SQL name
    std::string metadata;  // quoted SQL name
    Statement exact;
    Statement rangeBounded;
    Statement rangeOpen;
    Statement current;
    Statement upsert;
    Statement deleteMetadata;
    Statement insertMetadata;
    Statement erase;
    Statement anyExpired;
    Statement deleteExpiredMetadata;
    Statement deleteExpired;
};

bool StoreFile::validName(std::string_view name) noexcept {
    if (name.empty() || name.size() > 63) return false;
    for (char c : name) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

StoreFile::StoreFile(const std::string& path, std::int64_t busyTimeoutMs)
    : db_("store database", path, busyTimeoutMs),
      schemaReady_(ensureSchema(db_, kSchema, kSchemaVersion, "store")),
      findTable_(db_, "SELECT id FROM micro_tables WHERE name = ?1"),
      addTable_(db_, "INSERT OR IGNORE INTO micro_tables(name, last_version) VALUES(?1, 0)"),
      lastVersion_(db_, "SELECT last_version FROM micro_tables WHERE id = ?1"),
      setLastVersion_(db_, "UPDATE micro_tables SET last_version = ?2 WHERE id = ?1"),
      tableNames_(db_, "SELECT name FROM micro_tables ORDER BY id") {}

StoreFile::~StoreFile() = default;

StoreFile::Table* StoreFile::table(std::string_view name, bool create) {
    if (auto it = tables_.find(name); it != tables_.end()) return it->second.get();
    auto findId = [&]() -> std::int64_t {
        auto q = findTable_.use("looking up a table");
        q.bindText(1, name);
        return q.step() ? q.integer(0) : 0;
    };
    std::int64_t id = findId();
    if (id == 0) {
        if (!create) return nullptr;
        Transaction t(db_, "creating a table");
        addTable_.use("creating a table").bindText(1, name).run();
        id = findId();
        const std::string records = ident('r', id, name);
        const std::string metadata = ident('m', id, name);
        const std::string ddl =
            "CREATE TABLE IF NOT EXISTS " + records +
            "(key BLOB PRIMARY KEY, value BLOB NOT NULL, expiry_unix_ms INTEGER NOT NULL, "
            "version INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE INDEX IF NOT EXISTS " +
            ident('x', id, name) + " ON " + records +
            "(expiry_unix_ms) WHERE expiry_unix_ms != 0;"
            "CREATE TABLE IF NOT EXISTS " +
            metadata +
            "(key BLOB NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
            "PRIMARY KEY(key, name)) WITHOUT ROWID;";
        db_.exec(ddl.c_str(), "creating a table");
        t.commit();
    }
    auto created = std::make_unique<Table>(db_, id, name);
    Table* out = created.get();
    tables_.emplace(std::string(name), std::move(created));
    return out;
}

bool StoreFile::readExact(std::string_view tableName, std::string_view key, StoredRecord& out) {
    Table* t = table(tableName, false);
    if (t == nullptr) return false;
    auto q = t->exact.use("reading a record");
    q.bindBlob(1, key).bind(2, unixNowMs());
    if (!q.step()) return false;
    out.key = key;
    out.value = q.blob(0);
    out.expiryUnixMs = q.integer(1);
    out.version = static_cast<std::uint64_t>(q.integer(2));
    out.metadata.clear();
    do {
        if (!q.isNull(3)) out.metadata.emplace_back(q.text(3), q.text(4));
    } while (q.step());
    return true;
}

std::vector<StoredRecord> StoreFile::readRange(std::string_view tableName,
                                               const driver::StoreQuery& query) {
    std::vector<StoredRecord> out;
    Table* t = table(tableName, false);
    if (t == nullptr) return out;
    const std::string_view prefix = query.prefix() ? query.key : std::string_view{};
    const std::string_view suffix = query.suffix() ? query.key : std::string_view{};
    const std::string upper = upperBound(prefix);
    Statement& s = upper.empty() ? t->rangeOpen : t->rangeBounded;
    auto q = s.use("reading records");
    q.bindBlob(1, prefix);
    if (!upper.empty()) q.bindBlob(2, upper);
    q.bind(3, static_cast<std::int64_t>(suffix.size())).bindBlob(4, suffix);
    q.bind(5, unixNowMs());
    q.bind(6, toSqlCount(query.limit, -1)).bind(7, toSqlCount(query.offset, 0));
    while (q.step()) {
        std::string_view key = q.blob(0);
        if (out.empty() || out.back().key != key) {
            StoredRecord r;
            r.key = key;
            r.value = q.blob(1);
            r.expiryUnixMs = q.integer(2);
            r.version = static_cast<std::uint64_t>(q.integer(3));
            out.push_back(std::move(r));
        }
        if (!q.isNull(4)) out.back().metadata.emplace_back(q.text(4), q.text(5));
    }
    return out;
}

StoreFile::WriteResult StoreFile::write(std::string_view tableName,
                                        const driver::RecordBatch& records) {
    Table* t = table(tableName, true);
    Transaction tx(db_, "writing records");
    const std::int64_t now = unixNowMs();
    std::uint64_t base = 0;
    {
        auto q = lastVersion_.use("reading the version counter");
        q.bind(1, t->id);
        if (q.step()) base = static_cast<std::uint64_t>(q.integer(0));
    }
    // Versions this batch gives its keys, so a key repeated in the batch is
    // checked against its earlier entry, not the stored one.
    std::map<std::string_view, std::uint64_t, std::less<>> pending;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string_view key = abi::view(records[i].key);
        std::uint64_t current = 0;
        if (auto p = pending.find(key); p != pending.end()) {
            current = p->second;
        } else {
            auto q = t->current.use("checking a version");
            q.bindBlob(1, key);
            if (q.step()) {
                const std::int64_t expiry = q.integer(1);
                if (expiry == 0 || expiry > now) current = static_cast<std::uint64_t>(q.integer(0));
            }
        }
        const std::uint64_t expected = records[i].version;
        const bool ok = expected == MICRO_VERSION_ANY ||
                        (expected == MICRO_VERSION_ABSENT ? current == 0 : current == expected);
        if (!ok) {
            return {0, "version conflict on key '" + printable(key) + "': expected " +
                           versionText(expected) + ", found " + versionText(current)};
        }
        pending[key] = base + i + 1;
    }
    for (std::size_t i = 0; i < records.size(); ++i) {
        const micro_record& r = records[i];
        const std::string_view key = abi::view(r.key);
        t->upsert.use("writing a record")
            .bindBlob(1, key)
            .bindBlob(2, abi::view(r.value))
            .bind(3, r.expiry_unix_ms)
            .bind(4, static_cast<std::int64_t>(base + i + 1))
            .run();
        t->deleteMetadata.use("writing a record").bindBlob(1, key).run();
        for (const micro_kv& kv : abi::view(r.metadata, r.metadata_count)) {
            t->insertMetadata.use("writing metadata")
                .bindBlob(1, key)
                .bindText(2, abi::view(kv.key))
                .bindText(3, abi::view(kv.value))
                .run();
        }
    }
    const std::uint64_t last = base + records.size();
    setLastVersion_.use("advancing the version counter")
        .bind(1, t->id)
        .bind(2, static_cast<std::int64_t>(last))
        .run();
    tx.commit();
    return {last, {}};
}

bool StoreFile::erase(std::string_view tableName, std::string_view key) {
    Table* t = table(tableName, false);
    if (t == nullptr) return false;
    Transaction tx(db_, "erasing a record");
    const std::int64_t now = unixNowMs();
    bool live = false;
    {
        auto q = t->erase.use("erasing a record");
        q.bindBlob(1, key);
        if (q.step()) {
            const std::int64_t expiry = q.integer(0);
            live = expiry == 0 || expiry > now;
            q.run();
        }
    }
    t->deleteMetadata.use("erasing a record").bindBlob(1, key).run();
    tx.commit();
    return live;
}

std::size_t StoreFile::sweep() {
    std::vector<std::string> names;
    {
        auto q = tableNames_.use("listing tables");
        while (q.step()) names.emplace_back(q.text(0));
    }
    std::size_t removed = 0;
    for (const auto& name : names) {
        Table* t = table(name, false);
        if (t == nullptr) continue;
        {
            auto q = t->anyExpired.use("looking for expired records");
            q.bind(1, unixNowMs());
            if (!q.step() || q.integer(0) == 0) continue;
        }
        Transaction tx(db_, "removing expired records");
        const std::int64_t now = unixNowMs();
        t->deleteExpiredMetadata.use("removing expired records").bind(1, now).run();
        t->deleteExpired.use("removing expired records").bind(1, now).run();
        removed += static_cast<std::size_t>(db_.changes());
        tx.commit();
    }
    return removed;
}

}  // namespace micro::sqlite
