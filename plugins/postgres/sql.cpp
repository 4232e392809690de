#include "sql.hpp"

namespace micro::postgres::sql {
namespace {
const char* const kLive = "(expiry_ms = 0 OR expiry_ms > $2)";
}

std::string createCatalogSchema() { return "CREATE SCHEMA IF NOT EXISTS micro"; }

std::string createCatalogTable() {
    return "CREATE TABLE IF NOT EXISTS micro.tables ("
           "database_name TEXT NOT NULL, table_name TEXT NOT NULL, "
           "last_version BIGINT NOT NULL DEFAULT 0, "
           "PRIMARY KEY (database_name, table_name))";
}

std::string registerTable() {
    return "INSERT INTO micro.tables (database_name, table_name, last_version) "
           "VALUES ($1, $2, 0) ON CONFLICT (database_name, table_name) DO NOTHING";
}

std::string highestCatalogVersion() {
    return "SELECT COALESCE(MAX(last_version), 0) FROM micro.tables";
}

std::string createVersionSequence(std::int64_t start) {
    return "CREATE SEQUENCE IF NOT EXISTS micro.versions START WITH " + std::to_string(start);
}

std::string listTables() {
    return "SELECT database_name, table_name FROM micro.tables ORDER BY database_name, "
           "table_name";
}

std::string createSchema(const std::string& quotedSchema) {
    return "CREATE SCHEMA IF NOT EXISTS " + quotedSchema;
}

std::string createTable(const std::string& qualified) {
    return "CREATE TABLE IF NOT EXISTS " + qualified +
           " (key BYTEA PRIMARY KEY, value BYTEA NOT NULL, metadata BYTEA, "
           "expiry_ms BIGINT NOT NULL DEFAULT 0, version BIGINT NOT NULL)";
}

std::string liveVersion(const std::string& qualified) {
    return "SELECT version FROM " + qualified + " WHERE key = $1 AND " + kLive;
}

namespace {
// Evaluated once the row is locked (ON CONFLICT DO UPDATE and UPDATE take
// the row lock before computing SET), so of two writes to one key the one
// that commits later always gets the larger version.
const char* const kNextVersion = "nextval('micro.versions')";

std::string insertRow(const std::string& qualified) {
    return std::string("INSERT INTO ") + qualified +
           " AS r (key, value, metadata, expiry_ms, version) VALUES ($1, $2, $3, $4, " +
           kNextVersion +
           ") ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
           "metadata = excluded.metadata, expiry_ms = excluded.expiry_ms, version = " +
           kNextVersion;
}
}  // namespace

std::string upsert(const std::string& qualified) {
    return insertRow(qualified) + " RETURNING version";
}

std::string insertIfAbsent(const std::string& qualified) {
    return insertRow(qualified) + " WHERE r.expiry_ms <> 0 AND r.expiry_ms <= $5 RETURNING version";
}

std::string updateIfVersion(const std::string& qualified) {
    return "UPDATE " + qualified +
           " SET value = $2, metadata = $3, expiry_ms = $4, version = " + kNextVersion +
           " WHERE key = $1 AND version = $5 AND (expiry_ms = 0 OR expiry_ms > $6) "
           "RETURNING version";
}

namespace {
std::string columns(bool keysOnly) {
    return keysOnly ? "key, expiry_ms, version" : "key, value, metadata, expiry_ms, version";
}
}  // namespace

std::string readExact(const std::string& qualified, bool keysOnly) {
    return "SELECT " + columns(keysOnly) + " FROM " + qualified + " WHERE key = $1 AND " + kLive;
}

std::string readRange(const std::string& qualified, const RangeShape& shape) {
    std::string out = "SELECT " + columns(shape.keysOnly) + " FROM " + qualified +
                      " WHERE (expiry_ms = 0 OR expiry_ms > $1)";
    int next = 4;
    if (shape.lower) out += " AND key >= $" + std::to_string(next++);
    if (shape.upper) out += " AND key < $" + std::to_string(next++);
    if (shape.suffix) {
        std::string s(1, '$');
        s += std::to_string(next++);
        s += "::BYTEA";
        out += " AND length(key) >= length(" + s + ") AND substring(key, length(key) - length(" +
               s + ") + 1) = " + s;
    }
    return out + " ORDER BY key LIMIT $2 OFFSET $3";
}

std::string eraseKey(const std::string& qualified) {
    return "DELETE FROM " + qualified + " WHERE key = $1 RETURNING expiry_ms";
}

std::string probeExpired(const std::string& qualified) {
    return "SELECT 1 FROM " + qualified + " WHERE expiry_ms <> 0 AND expiry_ms <= $1 LIMIT 1";
}

std::string deleteExpired(const std::string& qualified) {
    return "DELETE FROM " + qualified + " WHERE expiry_ms <> 0 AND expiry_ms <= $1";
}

}  // namespace micro::postgres::sql
