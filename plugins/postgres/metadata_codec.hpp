// plugins/postgres/metadata_codec.hpp — a record's metadata (a string map)
// as the bytes of its `metadata BYTEA` column.
//
// Contract
//   Encoding: for each pair in order, the key's length as 4 bytes
//   big-endian, the key's bytes, the value's length likewise, the value's
//   bytes. No metadata encodes as zero bytes. Any byte may appear in keys
//   and values, so nothing is escaped or lost.
//   decodeMetadata() refuses (DATA_LOSS, naming the column) bytes that are
//   not such an encoding: a length that runs past the end.
//   Pure functions; safe from any thread.
#pragma once

#include <micro/abi.h>

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro::postgres {

std::string encodeMetadata(std::span<const micro_kv> metadata);

std::vector<std::pair<std::string, std::string>> decodeMetadata(std::string_view bytes);

}  // namespace micro::postgres
