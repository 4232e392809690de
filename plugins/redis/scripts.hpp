// plugins/redis/scripts.hpp — the Lua scripts that make store calls atomic.
//
// Contract: constant text, no state. Each script runs atomically on the
// Redis server (no other command interleaves), which is what gives batches
// and compare-and-set their all-or-nothing behaviour. The key layout they
// work on is key_layout.hpp's; the argument layouts are documented at each
// script in scripts.cpp. Every script declares the keys it addresses by name
// in KEYS; record keys reached from an index member are built from the
// table's record prefix, and all keys of one table share a cluster hash tag.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace micro::redis {

enum class ScriptId : std::size_t {
    kWrite = 0,  ///< check every expected version, then write all records
    kErase = 1,  ///< delete one record and its index entries
    kRange = 2,  ///< one page of a prefix/suffix read, skipping expired records
    kPut = 3,    ///< write one record with no compare-and-set (kWrite's fast path)
};
inline constexpr std::size_t kScriptCount = 4;

/// The Lua source of `id`.
std::string_view scriptText(ScriptId id) noexcept;
/// A short name for messages ("write", "erase", "range", "put").
std::string_view scriptName(ScriptId id) noexcept;
/// The script's SHA-1 in hex, as EVALSHA names it (computed once).
const std::string& scriptDigest(ScriptId id);

}  // namespace micro::redis
