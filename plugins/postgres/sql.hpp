// plugins/postgres/sql.hpp — every SQL statement the PostgreSQL store runs,
// in one place, within the subset that PostgreSQL 12+ and CockroachDB 21.2+
// both speak.
//
// Contract
//   Schema
//     micro.tables(database_name TEXT, table_name TEXT, last_version BIGINT,
//                  PRIMARY KEY (database_name, table_name))
//       the catalog: one row per micro table, created with the table; the
//       sweeper lists it. last_version is no longer written: schemas made
//       before the version sequence kept each table's counter there, and
//       the sequence is created above the highest of them.
//     micro.versions, a sequence: every write of a record takes its version
//       from it (nextval), inside the statement that writes the record and
//       after that statement has locked the record's row, so versions are
//       never reused and the versions of one key grow in commit order.
//       Writers of different keys share no lock.
//     micro_<database>.<table>(key BYTEA PRIMARY KEY, value BYTEA NOT NULL,
//                              metadata BYTEA, expiry_ms BIGINT NOT NULL
//                              DEFAULT 0, version BIGINT NOT NULL)
//       the records. BYTEA keys hold any bytes (NUL, invalid UTF-8) and
//       compare byte by byte, so ORDER BY key is ascending byte order.
//       expiry_ms is absolute Unix ms, 0 = never. metadata: see
//       metadata_codec.hpp.
//     The schema "micro" cannot collide with a database's schema, which is
//     always "micro_" followed by at least one character.
//   The SQL subset (what a compatible server must support)
//     CREATE SCHEMA IF NOT EXISTS; CREATE TABLE IF NOT EXISTS with BYTEA,
//     BIGINT, TEXT columns and a PRIMARY KEY; INSERT ... ON CONFLICT (cols)
//     DO NOTHING / DO UPDATE SET col = excluded.col [WHERE ...], with a
//     table alias (INSERT INTO t AS r); UPDATE ... RETURNING; DELETE ...
//     RETURNING; CREATE SEQUENCE IF NOT EXISTS ... START WITH n and
//     nextval('micro.versions'); MAX and COALESCE; ORDER BY, LIMIT $n
//     OFFSET $n with BIGINT parameters; comparison of BYTEA values;
//     length(BYTEA) and substring(BYTEA, INT); $n::BYTEA casts; the session
//     settings statement_timeout and client_min_messages; BEGIN/COMMIT at
//     the server's default isolation (READ COMMITTED on PostgreSQL,
//     SERIALIZABLE on CockroachDB: both are correct here because every
//     compare-and-set is the WHERE of the statement that writes, checked
//     on the locked row; serialisation failures, SQLSTATE 40001, are
//     retried). Parameters are bound (binary for BYTEA), never spliced.
//     Not used: advisory locks, triggers, stored procedures, arrays, JSON,
//     temporary tables, LISTEN/NOTIFY.
//   Identifiers: `schema` and `table` arguments are already-quoted SQL
//   identifiers (pqxx::connection::quote_name of a validated name).
//   Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace micro::postgres::sql {

// The catalog.
std::string createCatalogSchema();
std::string createCatalogTable();
/// $1 database, $2 table.
std::string registerTable();
/// The highest last_version in the catalog (kept by schemas made before
/// the version sequence existed; 0 when none).
std::string highestCatalogVersion();
/// The version sequence, starting at `start` when it is created.
std::string createVersionSequence(std::int64_t start);
/// Every (database_name, table_name).
std::string listTables();

// One table; `qualified` is "schema"."table", both quoted.
std::string createSchema(const std::string& quotedSchema);
std::string createTable(const std::string& qualified);
/// $1 key, $2 now: the live record's version.
std::string liveVersion(const std::string& qualified);
/// $1 key, $2 value, $3 metadata, $4 expiry_ms: writes the record with a
/// new version; returns it.
std::string upsert(const std::string& qualified);
/// As upsert, $5 now: only when no live record has the key (none, or an
/// expired one); returns the new version, or no row.
std::string insertIfAbsent(const std::string& qualified);
/// As upsert, $5 expected version, $6 now: only when the live record has
/// that version; returns the new version, or no row.
std::string updateIfVersion(const std::string& qualified);
/// $1 key, $2 now: key, [value, metadata,] expiry_ms, version.
std::string readExact(const std::string& qualified, bool keysOnly);

/// The shape of a range read: which optional conditions it has.
struct RangeShape {
    bool lower = false;   ///< key >= prefix
    bool upper = false;   ///< key < successor of prefix
    bool suffix = false;  ///< key ends with suffix
    bool keysOnly = false;
    /// A small integer naming the shape, for the prepared statement's name.
    int id() const noexcept {
        return (lower ? 1 : 0) | (upper ? 2 : 0) | (suffix ? 4 : 0) | (keysOnly ? 8 : 0);
    }
};
/// $1 now, $2 limit, $3 offset, then in order: [lower], [upper], [suffix].
/// Columns as readExact.
std::string readRange(const std::string& qualified, const RangeShape& shape);
/// $1 key: deletes it, returns its expiry_ms.
std::string eraseKey(const std::string& qualified);
/// $1 now: one row when some record has expired.
std::string probeExpired(const std::string& qualified);
/// $1 now: deletes every expired record.
std::string deleteExpired(const std::string& qualified);

}  // namespace micro::postgres::sql
