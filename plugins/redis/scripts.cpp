#include "scripts.hpp"

#include "sha1.hpp"

namespace micro::redis {

namespace {

// Removes up to 16 index entries whose record has expired, by the server's
// clock (the one Redis expires keys by). An entry whose record is still
// there gets its expiry score corrected from PTTL, so a record whose TTL was
// changed behind the driver's back cannot block the sweep.
#define MICRO_REDIS_SWEEP                                                                \
    "local t = redis.call('TIME')\n"                                                     \
    "local nowms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"          \
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', nowms, 'LIMIT', 0, 16)\n" \
    "for _, m in ipairs(dead) do\n"                                                      \
    "  local ttl = redis.call('PTTL', ARGV[2] .. m)\n"                                   \
    "  if ttl == -2 then\n"                                                              \
    "    redis.call('ZREM', KEYS[2], m)\n"                                               \
    "    redis.call('ZREM', KEYS[3], m)\n"                                               \
    "  elseif ttl == -1 then\n"                                                          \
    "    redis.call('ZREM', KEYS[3], m)\n"                                               \
    "  else\n"                                                                           \
    "    redis.call('ZADD', KEYS[3], nowms + ttl, m)\n"                                  \
    "  end\n"                                                                            \
    "end\n"

// KEYS: 1 version counter, 2 index, 3 expiry index, 3+i record key i.
// ARGV: 1 record count n, 2 record key prefix, then five per record i at
//   b = 2 + (i-1)*5: b+1 member (the user's key), b+2 expected version
//   ("" any, "-" absent, else decimal), b+3 value, b+4 encoded metadata,
//   b+5 expiry in Unix ms ("0" never).
// Returns {1, last version} or, on a version mismatch, {0, i, found} where
// i is the 1-based record and found its current version ("" absent).
// Records repeated in the batch are checked against their earlier entry.
constexpr std::string_view kWrite =
    "local n = tonumber(ARGV[1])\n"
    "local base = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local pending = {}\n"
    "for i = 1, n do\n"
    "  local b = 2 + (i - 1) * 5\n"
    "  local member = ARGV[b + 1]\n"
    "  local expected = ARGV[b + 2]\n"
    "  if expected ~= '' then\n"
    "    local current = pending[member]\n"
    "    if current == nil then current = redis.call('HGET', KEYS[3 + i], 'n') or '' end\n"
    "    if (expected == '-' and current ~= '') or (expected ~= '-' and current ~= expected) "
    "then\n"
    "      return {0, i, current}\n"
    "    end\n"
    "  end\n"
    "  pending[member] = string.format('%d', base + i)\n"
    "end\n" MICRO_REDIS_SWEEP
    "for i = 1, n do\n"
    "  local b = 2 + (i - 1) * 5\n"
    "  local key = KEYS[3 + i]\n"
    "  local member = ARGV[b + 1]\n"
    "  local expiry = ARGV[b + 5]\n"
    "  redis.call('DEL', key)\n"
    "  redis.call('HSET', key, 'v', ARGV[b + 3], 'm', ARGV[b + 4], 'e', expiry, 'n',\n"
    "             string.format('%d', base + i))\n"
    "  if expiry ~= '0' then\n"
    "    redis.call('PEXPIREAT', key, expiry)\n"
    "    redis.call('ZADD', KEYS[3], expiry, member)\n"
    "  else\n"
    "    redis.call('ZREM', KEYS[3], member)\n"
    "  end\n"
    "  redis.call('ZADD', KEYS[2], 0, member)\n"
    "end\n"
    "redis.call('INCRBY', KEYS[1], n)\n"
    "return {1, base + n}\n";

// kWrite for one record without compare-and-set, with the least work on
// the server (it runs on every unconditional write): no pending table, no
// read of the counter before it is incremented, the sweep only when the
// expiry index exists, and four commands for the common overwrite of a
// record that never expires. Same effect as kWrite with n = 1:
// - every field is overwritten, so no DEL;
// - HSET's count of new fields tells a new record (4: a fresh hash, which
//   has no TTL, so no PERSIST) from an existing one (0: it is already in the
//   index, since every record hash is, so no ZADD to the index).
// KEYS: 1 version counter, 2 index, 3 expiry index, 4 record key.
// ARGV: 1 member, 2 record key prefix, 3 value, 4 encoded metadata,
//   5 expiry in Unix ms ("0" never).
// Returns the record's new version.
constexpr std::string_view kPut =
    "local v = redis.call('INCR', KEYS[1])\n"
    "local expiring = redis.call('EXISTS', KEYS[3]) == 1\n"
    "if expiring then\n" MICRO_REDIS_SWEEP
    "end\n"
    "local key = KEYS[4]\n"
    "local expiry = ARGV[5]\n"
    "local added = redis.call('HSET', key, 'v', ARGV[3], 'm', ARGV[4], 'e', expiry, 'n', "
    "string.format('%d', v))\n"
    "if expiry ~= '0' then\n"
    "  redis.call('PEXPIREAT', key, expiry)\n"
    "  redis.call('ZADD', KEYS[3], expiry, ARGV[1])\n"
    "else\n"
    "  if added < 4 then redis.call('PERSIST', key) end\n"
    "  if expiring then redis.call('ZREM', KEYS[3], ARGV[1]) end\n"
    "end\n"
    "if added > 0 then redis.call('ZADD', KEYS[2], 0, ARGV[1]) end\n"
    "return v\n";

// KEYS: 1 record key, 2 index, 3 expiry index. ARGV: 1 member.
// Returns 1 when a live record was deleted, 0 when there was none (an
// expired record's index entries go too).
constexpr std::string_view kErase =
    "local deleted = redis.call('DEL', KEYS[1])\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "return deleted\n";

// KEYS: 1 index, 2 expiry index.
// ARGV: 1 record key prefix, 2 lex min, 3 lex max, 4 members to examine,
//   5 suffix ("" none), 6 live matches to skip, 7 matches to take (0 all),
//   8 "1" keys only, 9 byte budget of the page.
// Examines up to ARGV[4] index members in [min, max] in ascending order;
// members whose record is gone (expired or erased) are removed from both
// indexes. Returns {exhausted, last member examined, skipped, {entries}}:
// entries are member, expiry, version (and value, metadata unless keys only);
// exhausted is 1 when the range has no member after `last`.
constexpr std::string_view kRange =
    "local count = tonumber(ARGV[4])\n"
    "local members = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, count)\n"
    "local suffix = ARGV[5]\n"
    "local skip = tonumber(ARGV[6])\n"
    "local take = tonumber(ARGV[7])\n"
    "local keysOnly = ARGV[8] == '1'\n"
    "local budget = tonumber(ARGV[9])\n"
    "local skipped, taken, bytes = 0, 0, 0\n"
    "local out = {}\n"
    "local last = ''\n"
    "local stopped = false\n"
    "for _, m in ipairs(members) do\n"
    "  last = m\n"
    "  if #suffix == 0 or (#m >= #suffix and string.sub(m, -#suffix) == suffix) then\n"
    "    local rk = ARGV[1] .. m\n"
    "    if skipped < skip then\n"
    "      if redis.call('EXISTS', rk) == 1 then\n"
    "        skipped = skipped + 1\n"
    "      else\n"
    "        redis.call('ZREM', KEYS[1], m)\n"
    "        redis.call('ZREM', KEYS[2], m)\n"
    "      end\n"
    "    else\n"
    "      local f\n"
    "      if keysOnly then\n"
    "        f = redis.call('HMGET', rk, 'e', 'n')\n"
    "      else\n"
    "        f = redis.call('HMGET', rk, 'e', 'n', 'v', 'm')\n"
    "      end\n"
    "      if not f[2] then\n"
    "        redis.call('ZREM', KEYS[1], m)\n"
    "        redis.call('ZREM', KEYS[2], m)\n"
    "      else\n"
    "        out[#out + 1] = m\n"
    "        out[#out + 1] = f[1] or '0'\n"
    "        out[#out + 1] = f[2]\n"
    "        bytes = bytes + #m\n"
    "        if not keysOnly then\n"
    "          out[#out + 1] = f[3] or ''\n"
    "          out[#out + 1] = f[4] or ''\n"
    "          bytes = bytes + #(f[3] or '') + #(f[4] or '')\n"
    "        end\n"
    "        taken = taken + 1\n"
    "        if (take > 0 and taken >= take) or bytes >= budget then\n"
    "          stopped = true\n"
    "          break\n"
    "        end\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local exhausted = 0\n"
    "if not stopped and #members < count then exhausted = 1 end\n"
    "return {exhausted, last, skipped, out}\n";

#undef MICRO_REDIS_SWEEP

}  // namespace

std::string_view scriptText(ScriptId id) noexcept {
    switch (id) {
        case ScriptId::kWrite:
            return kWrite;
        case ScriptId::kErase:
            return kErase;
        case ScriptId::kRange:
            return kRange;
        case ScriptId::kPut:
            return kPut;
    }
    return {};
}

std::string_view scriptName(ScriptId id) noexcept {
    switch (id) {
        case ScriptId::kWrite:
            return "write";
        case ScriptId::kErase:
            return "erase";
        case ScriptId::kRange:
            return "range";
        case ScriptId::kPut:
            return "put";
    }
    return "script";
}

const std::string& scriptDigest(ScriptId id) {
    static const std::array<std::string, kScriptCount> digests = [] {
        std::array<std::string, kScriptCount> out;
        for (std::size_t i = 0; i < kScriptCount; ++i) {
            out[i] = sha1Hex(scriptText(static_cast<ScriptId>(i)));
        }
        return out;
    }();
    return digests[static_cast<std::size_t>(id)];
}

}  // namespace micro::redis
