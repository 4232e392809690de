// plugins/postgres/raw_statements.hpp — the statements of the hot path in
// plain libpq (raw_connection.hpp): the read of one record by its exact key
// and the unconditional write of one record, one send and one recv each.
//
// Contract
//   Both prepare their statement (sql.hpp: readExact, upsert) on
//   `connection` as `name` on first use, send binary parameters and read
//   binary results.
//   readExact() fills `row` with the live record at `nowMs` if there is one
//   (true) or leaves it alone (false). Metadata are decoded as
//   metadata_codec.hpp says (DATA_LOSS otherwise). `row`'s strings keep
//   their capacity: a reused row costs no allocation per read (libpq
//   allocates the result itself).
//   prepareUpsert() then upsert(): the version the write took. Separate so
//   that the caller can tell a failure before anything was sent (prepare:
//   safe to retry) from one after (the write may have been applied).
//   Errors: libpqxx's exceptions, as RawConnection::raise() throws them
//   (42P01 for a table never written, which a reader reads as nothing).
//   Threads: the thread holding the connection's session.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "raw_connection.hpp"

namespace micro::postgres {

struct ExactRow {
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::int64_t expiryUnixMs = 0;
    std::uint64_t version = 0;
};

/// The row of an exact read's successful binary result (false: none).
bool exactRowFrom(const PGresult* result, bool keysOnly, ExactRow& row);
/// A BIGINT parameter in binary: 8 bytes, big-endian.
void encodeInt8(std::int64_t value, char (&out)[8]) noexcept;

bool readExact(RawConnection& connection, const std::string& name, const std::string& qualified,
               bool keysOnly, std::string_view key, std::int64_t nowMs, ExactRow& row);

void prepareUpsert(RawConnection& connection, const std::string& name,
                   const std::string& qualified);
std::uint64_t upsert(RawConnection& connection, const std::string& name, std::string_view key,
                     std::string_view value, std::string_view metadata, std::int64_t expiryUnixMs);

}  // namespace micro::postgres
