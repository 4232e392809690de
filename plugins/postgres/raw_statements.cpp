#include "raw_statements.hpp"

#include <micro/error.hpp>

#include "metadata_codec.hpp"
#include "sql.hpp"

namespace micro::postgres {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;

std::string_view bytesAt(const PGresult* r, int column) {
    if (PQgetisnull(r, 0, column) != 0) return {};
    return {PQgetvalue(r, 0, column), static_cast<std::size_t>(PQgetlength(r, 0, column))};
}

/// A BIGINT column in binary: 8 bytes, big-endian.
std::int64_t int8At(const PGresult* r, int column) {
    if (PQgetisnull(r, 0, column) != 0 || PQgetlength(r, 0, column) != 8) {
        throw Error(Code::kDataLoss,
                    "postgres: malformed BIGINT in column " + std::string(PQfname(r, column)));
    }
    const auto* p = reinterpret_cast<const unsigned char*>(PQgetvalue(r, 0, column));
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return static_cast<std::int64_t>(v);
}

/// A BIGINT parameter in binary.
struct Int8 {
    explicit Int8(std::int64_t value) { encodeInt8(value, bytes); }
    char bytes[8];
};

int lengthOf(std::string_view s) { return static_cast<int>(s.size()); }

}  // namespace

void encodeInt8(std::int64_t value, char (&out)[8]) noexcept {
    const auto v = static_cast<std::uint64_t>(value);
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
}

bool exactRowFrom(const PGresult* r, bool keysOnly, ExactRow& row) {
    if (PQntuples(r) == 0) return false;
    row.key.assign(bytesAt(r, 0));
    if (keysOnly) {
        row.value.clear();
        row.metadata.clear();
        row.expiryUnixMs = int8At(r, 1);
        row.version = static_cast<std::uint64_t>(int8At(r, 2));
    } else {
        row.value.assign(bytesAt(r, 1));
        const std::string_view metadata = bytesAt(r, 2);
        if (metadata.empty()) {
            row.metadata.clear();  // keeps its capacity
        } else {
            row.metadata = decodeMetadata(metadata);
        }
        row.expiryUnixMs = int8At(r, 3);
        row.version = static_cast<std::uint64_t>(int8At(r, 4));
    }
    return true;
}

bool readExact(RawConnection& connection, const std::string& name, const std::string& qualified,
               bool keysOnly, std::string_view key, std::int64_t nowMs, ExactRow& row) {
    if (!connection.prepared(name)) {
        static constexpr Oid kTypes[] = {kByteaOid, kInt8Oid};
        connection.prepare(name, sql::readExact(qualified, keysOnly), kTypes, 2);
    }
    const Int8 now(nowMs);
    const char* values[] = {key.data(), now.bytes};
    const int lengths[] = {lengthOf(key), 8};
    const RawResult r = connection.execPrepared(name, 2, values, lengths);
    return exactRowFrom(r.get(), keysOnly, row);
}

void prepareUpsert(RawConnection& connection, const std::string& name,
                   const std::string& qualified) {
    if (connection.prepared(name)) return;
    static constexpr Oid kTypes[] = {kByteaOid, kByteaOid, kByteaOid, kInt8Oid};
    connection.prepare(name, sql::upsert(qualified), kTypes, 4);
}

std::uint64_t upsert(RawConnection& connection, const std::string& name, std::string_view key,
                     std::string_view value, std::string_view metadata, std::int64_t expiryUnixMs) {
    const Int8 expiry(expiryUnixMs);
    // libpq sends a null pointer as SQL NULL: an empty value is "" instead.
    const char* values[] = {key.data(), value.data() != nullptr ? value.data() : "",
                            metadata.data() != nullptr ? metadata.data() : "", expiry.bytes};
    const int lengths[] = {lengthOf(key), lengthOf(value), lengthOf(metadata), 8};
    const RawResult r = connection.execPrepared(name, 4, values, lengths);
    if (PQntuples(r.get()) != 1) {
        throw Error(Code::kInternal,
                    "postgres: an upsert returned " + std::to_string(PQntuples(r.get())) + " rows");
    }
    return static_cast<std::uint64_t>(int8At(r.get(), 0));
}

}  // namespace micro::postgres
