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

#include <cstddef>
#include <string>
#include <string_view>

namespace micro::redis {

/// The base every key of table (database, table) starts with,
/// `micro:{<len>:<database>:<len>:<table>}:`, in pieces: for writing a key
/// into a command buffer without building it as a string first. Views the
/// names it is given: they must outlive it.
class TableBase {
 public:
    TableBase(std::string_view database, std::string_view table) noexcept;
    std::size_t size() const noexcept;
    /// Calls `put(std::string_view)` once per piece, in order.
    template <typename Put>
    void write(Put&& put) const {
        put(std::string_view("micro:{"));
        put(std::string_view(databaseLength_, databaseDigits_));
        put(std::string_view(":"));
        put(database_);
        put(std::string_view(":"));
        put(std::string_view(tableLength_, tableDigits_));
        put(std::string_view(":"));
        put(table_);
        put(std::string_view("}:"));
    }

 private:
    std::string_view database_;
    std::string_view table_;
    char databaseLength_[24];
    char tableLength_[24];
    std::size_t databaseDigits_ = 0;
    std::size_t tableDigits_ = 0;
};

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
