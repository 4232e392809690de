// plugins/memory/memory_store.hpp — store driver "memory": records in
// process memory, lost when the instance is destroyed.
//
// Contract
//   Threads: every method may be called concurrently from any thread. Each
//     (database, table) is a std::map under its own std::shared_mutex, so
//     readers of one table run in parallel and writers of different tables
//     never contend. Sinks are invoked with NO lock held (records are
//     immutable and reference-counted), so a sink may call back into the
//     store, including writing to the same table.
//   Ownership: the store copies everything it is given; what it emits is
//     borrowed until the sink returns.
//   Records: key (bytes, may hold NUL), value, metadata, absolute expiry in
//     Unix ms (0 = never), version. Expired records are never returned and
//     are removed lazily (by the read or write that finds them).
//   Versions: drawn from one counter per table, so a key's version grows
//     strictly on every write and is never reused, even after the key is
//     erased or expires and is written again (no ABA for compare-and-set).
//   Writes: a batch is atomic: every compare-and-set is checked first (a key
//     repeated in the batch is checked against its earlier entry), and if any
//     fails the call completes with MICRO_ABORTED and nothing changes.
//     An empty key is refused with INVALID_ARGUMENT (write, exact read,
//     erase); an empty key with PREFIX or SUFFIX matches every record.
//   Config: `database` (default "micro"), `table` (default "micro"): the
//     namespace used when a call passes an empty one.
#pragma once

#include <micro/driver/store.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micro::memory {

class MemoryStore {
 public:
    explicit MemoryStore(const driver::Context& ctx);

    // The asynchronous form (trailing Done&) is used only to report
    // NOT_FOUND and ABORTED without throwing: every call completes before it
    // returns. Expected misses are common enough that an exception per miss
    // would dominate the cost of a read.
    void read(const driver::StoreQuery& query, driver::RecordSink& out, driver::Done& done);
    void write(std::string_view database, std::string_view table,
               const micro::driver::RecordBatch& records, driver::Done& done);
    void erase(std::string_view database, std::string_view table, std::string_view key,
               driver::Done& done);

 private:
    /// One stored record. Immutable once built: a write replaces the whole
    /// record, so a reader can keep a reference and emit without a lock.
    struct Record {
        std::string key;
        std::string value;
        // Metadata strings live in one buffer that never moves, so the
        // micro_kv views into it stay valid for the record's life.
        std::unique_ptr<char[]> metadataBuffer;
        std::vector<micro_kv> metadata;
        std::int64_t expiryUnixMs = 0;
        std::uint64_t version = 0;

        bool expiredAt(std::int64_t nowMs) const noexcept {
            return expiryUnixMs != 0 && expiryUnixMs <= nowMs;
        }
    };
    using RecordPtr = std::shared_ptr<const Record>;

    struct Table {
        mutable std::shared_mutex mutex;
        std::map<std::string, RecordPtr, std::less<>> records;
        std::uint64_t lastVersion = 0;  // guarded by `mutex` (exclusive)
    };

    static std::shared_ptr<Record> build(const micro_record& in);
    static void emit(const Record& record, bool keysOnly, driver::RecordSink& out);

    /// The table for (database, table), empty names meaning the defaults;
    /// nullptr when it was never written and `create` is false. Tables are
    /// never removed while the store lives, so the pointer stays valid.
    Table* find(std::string_view database, std::string_view table, bool create);
    /// Remove `key` if it is still expired (re-checked under the write lock).
    static void purge(Table& table, std::span<const std::string> keys);
    /// "database/table" with the defaults filled in, for error messages.
    std::string describe(std::string_view database, std::string_view table) const;

    void readExact(Table& table, const driver::StoreQuery& query, driver::RecordSink& out,
                   driver::Done& done);
    void readRange(Table& table, const driver::StoreQuery& query, driver::RecordSink& out);

    std::string defaultDatabase_;
    std::string defaultTable_;
    Table defaults_;  // (defaultDatabase_, defaultTable_): the hot path skips the lookup

    std::shared_mutex namespacesMutex_;
    // database -> table -> Table; lookups by string_view allocate nothing.
    std::map<std::string, std::map<std::string, std::unique_ptr<Table>, std::less<>>, std::less<>>
        namespaces_;
};

}  // namespace micro::memory
