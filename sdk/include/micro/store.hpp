// micro/store.hpp — records under (database, table, key), whatever the engine.
//
// Contract: every method is thread-safe and blocks until the driver
// completes (the driver may complete on another thread). Failures throw
// micro::Error: NOT_FOUND for a missing exact key, ABORTED when a
// compare-and-set lost, INVALID_ARGUMENT for bad names or sizes, UNAVAILABLE
// when the engine cannot be reached. Views passed in are borrowed for the
// call; views passed to a visitor are valid only inside that call.
#pragma once

#include <micro/driver_handle.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micro {

/// Expected-version values for Store::write (see WriteOptions).
inline constexpr std::uint64_t kAnyVersion = MICRO_VERSION_ANY;
inline constexpr std::uint64_t kAbsentVersion = MICRO_VERSION_ABSENT;

/// A stored record, owning its data.
struct Record {
    std::string key{};
    std::string value{};
    std::map<std::string, std::string> metadata{};
    std::int64_t expiryUnixMs = 0;  ///< 0: never expires
    std::uint64_t version = 0;      ///< set by reads; > 0 for a stored record
};

/// A borrowed record, as visitors receive it.
struct RecordView {
    std::string_view key{};
    std::string_view value{};
    std::span<const micro_kv> metadata{};
    std::int64_t expiryUnixMs = 0;
    std::uint64_t version = 0;

    Record toRecord() const;
};

struct ReadOptions {
    std::string_view database{};  ///< empty: the driver's default
    std::string_view table{};     ///< empty: the driver's default
    bool prefix = false;          ///< every key starting with the given key
    bool suffix = false;          ///< every key ending with the given key
    bool keysOnly = false;        ///< values are left empty
    std::uint64_t limit = 0;      ///< 0: no limit
    std::uint64_t offset = 0;
};

struct WriteOptions {
    std::string_view database{};
    std::string_view table{};
    /// Time to live; wins over Record::expiryUnixMs when non-zero.
    std::chrono::milliseconds ttl{0};
    /// Compare-and-set: kAnyVersion writes unconditionally, kAbsentVersion
    /// only if the key is absent, any other value only if it is the current
    /// version. Applies to a single-record write; a batch uses each record's
    /// `version` field as its expected version.
    std::uint64_t expectedVersion = kAnyVersion;
};

struct ScopeOptions {
    std::string_view database{};
    std::string_view table{};
};

class Store {
 public:
    explicit Store(DriverHandle handle);

    /// Records for `key` per `options`, in ascending key order. An exact key
    /// that does not exist throws NOT_FOUND; a prefix/suffix read that
    /// matches nothing returns an empty vector.
    std::vector<Record> read(std::string_view key, const ReadOptions& options = {}) const;
    /// Zero-copy form: `visit` sees each record, borrowed for the call.
    void scan(std::string_view key, const ReadOptions& options,
              const std::function<void(const RecordView&)>& visit) const;
    /// Write one record; returns its new version.
    std::uint64_t write(const Record& record, const WriteOptions& options = {});
    std::uint64_t writeView(const RecordView& record, const WriteOptions& options = {});
    /// Write several records atomically where the engine allows; returns the
    /// version of the last one.
    std::uint64_t writeBatch(std::span<const Record> records, const WriteOptions& options = {});
    /// Erase one key; NOT_FOUND when absent.
    void erase(std::string_view key, const ScopeOptions& options = {});
    /// Keys matching `options` (prefix/suffix taken from `match`).
    std::vector<std::string> list(std::string_view match = {}, ReadOptions options = {}) const;

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_store_driver* table_;
};

}  // namespace micro
