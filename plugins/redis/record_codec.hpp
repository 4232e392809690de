// plugins/redis/record_codec.hpp — the fields of a record hash as bytes.
//
// Contract
//   Metadata ("m" field): for each pair, the key's length as an unsigned
//   LEB128 varint, the key, the value's length, the value. No metadata is
//   the empty string. Decoding returns views into the encoded bytes (no
//   copy) and refuses anything truncated or with trailing bytes.
//   Versions ("n") and expiries ("e") are decimal text.
//   Pure functions, safe from any thread.
#pragma once

#include <micro/abi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micro::redis {

std::string encodeMetadata(std::span<const micro_kv> metadata);
/// Replace `out` with views into `encoded`; false when it is malformed.
bool decodeMetadata(std::string_view encoded, std::vector<micro_kv>& out);
/// The size encodeMetadata would produce.
std::size_t encodedMetadataSize(std::span<const micro_kv> metadata) noexcept;

/// A decimal version > 0, or nullopt.
std::optional<std::uint64_t> parseVersion(std::string_view text) noexcept;
/// A decimal expiry (Unix ms, 0 = never), or nullopt.
std::optional<std::int64_t> parseExpiry(std::string_view text) noexcept;

}  // namespace micro::redis
