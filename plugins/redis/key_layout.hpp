// plugins/redis/key_layout.hpp — where a store table lives in Redis.
//
// Contract
//   A table (database, table) owns four kinds of Redis keys, all starting
//   with its base "micro:{<len>:<database>:<len>:<table>}:" where <len> is the
//   decimal byte length of the name that follows:
//     <base>r:<key>   a hash per record: v value, m metadata (record_codec),
//                     e expiry in Unix ms ("0" never), n version; the key
//                     carries a native PEXPIREAT when e is not 0
//     <base>idx       sorted set, every member score 0 and the record's key:
//                     ZRANGEBYLEX lists keys in ascending byte order
//     <base>exp       sorted set of the keys with an expiry, scored by it:
//                     lets writes sweep index entries of expired records
//     <base>ver       the table's version counter (never reset or reused)
//   The length prefixes make the encoding injective and prefix-free: no
//   bytes in a name (':', '{', '}', NUL, quotes, invalid UTF-8) can make
//   two tables share or overlap a key. Names and keys are sent as binary
//   arguments, never as command text. The braces are a Redis Cluster hash
//   tag: all keys of one table hash to one slot, as the scripts need.
//   Pure data, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace micro::redis {

class TableKeys {
 public:
    /// `database` and `table` are the resolved (non-empty) names.
    TableKeys(std::string_view database, std::string_view table);

    std::string record(std::string_view key) const { return recordPrefix_ + std::string(key); }
    /// record(key) of table (database, table), without building the rest.
    static std::string recordKey(std::string_view database, std::string_view table,
                                 std::string_view key);
    const std::string& recordPrefix() const noexcept { return recordPrefix_; }
    const std::string& index() const noexcept { return index_; }
    const std::string& expiries() const noexcept { return expiries_; }
    const std::string& versions() const noexcept { return versions_; }

 private:
    std::string recordPrefix_;
    std::string index_;
    std::string expiries_;
    std::string versions_;
};

/// ZRANGEBYLEX bounds covering exactly the members that start with
/// `prefix` ("-" and "+" for an empty prefix).
std::string lexMin(std::string_view prefix);
std::string lexMax(std::string_view prefix);

}  // namespace micro::redis
