// micro/driver/store.hpp — adapt a C++ class to micro_store_driver.
//
// The class T provides (synchronous form; each may instead take a trailing
// `Done&` and complete later):
//   explicit T(const Context&);
//   void read(const StoreQuery&, RecordSink&);        // NOT_FOUND for a missing exact key
//   std::uint64_t write(std::string_view database, std::string_view table,
//                       const RecordBatch& records);  // new version of the last
//   void erase(std::string_view database, std::string_view table, std::string_view key);
// All methods are called concurrently from many threads.
#pragma once

#include <micro/driver/dispatch.hpp>

#include <span>

namespace micro::driver {

struct StoreQuery {
    std::string_view database;
    std::string_view table;
    std::string_view key;
    std::uint32_t flags = 0;
    std::uint64_t limit = 0;
    std::uint64_t offset = 0;

    bool prefix() const noexcept { return (flags & MICRO_STORE_PREFIX) != 0; }
    bool suffix() const noexcept { return (flags & MICRO_STORE_SUFFIX) != 0; }
    bool keysOnly() const noexcept { return (flags & MICRO_STORE_KEYS_ONLY) != 0; }
    bool exact() const noexcept { return !prefix() && !suffix(); }
    /// Does `candidate` match this query's key (ignoring limit/offset)?
    bool matches(std::string_view candidate) const noexcept {
        if (exact()) return candidate == key;
        if (prefix() && !candidate.starts_with(key)) return false;
        if (suffix() && !candidate.ends_with(key)) return false;
        return true;
    }
};

/// The records of one write, indexed and iterated as `const micro_record&`.
class RecordBatch {
 public:
    RecordBatch(const micro_record* const* records, std::size_t count) noexcept
        : records_(records), count_(count) {}

    class Iterator {
     public:
        explicit Iterator(const micro_record* const* at) noexcept : at_(at) {}
        const micro_record& operator*() const noexcept { return **at_; }
        Iterator& operator++() noexcept {
            ++at_;
            return *this;
        }
        bool operator==(const Iterator&) const noexcept = default;

     private:
        const micro_record* const* at_;
    };

    std::size_t size() const noexcept { return count_; }
    bool empty() const noexcept { return count_ == 0; }
    const micro_record& operator[](std::size_t i) const noexcept { return *records_[i]; }
    Iterator begin() const noexcept { return Iterator(records_); }
    Iterator end() const noexcept { return Iterator(records_ + count_); }

 private:
    const micro_record* const* records_;
    std::size_t count_;
};

/// Emits records to the caller; each is borrowed only for the emit call.
class RecordSink {
 public:
    explicit RecordSink(micro_record_sink sink) noexcept : sink_(sink) {}
    void emit(const micro_record& record) const noexcept { sink_.fn(sink_.ctx, &record); }
    void emit(std::string_view key, std::string_view value, std::span<const micro_kv> metadata,
              std::int64_t expiryUnixMs, std::uint64_t version) const noexcept {
        micro_record r{sizeof(micro_record),
                       abi::bytes(key),
                       abi::bytes(value),
                       metadata.data(),
                       metadata.size(),
                       expiryUnixMs,
                       version};
        sink_.fn(sink_.ctx, &r);
    }

 private:
    micro_record_sink sink_;
};

template <typename T>
struct StoreDriver {
    static constexpr micro_kind kKind = MICRO_KIND_STORE;

    static void read(void* self, const micro_store_query* q, micro_record_sink sink,
                     micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        StoreQuery query{abi::view(q->database),
                         abi::view(q->table),
                         abi::view(q->key),
                         q->flags,
                         q->limit,
                         q->offset};
        RecordSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, read, query, out);
    }
    static void write(void* self, micro_str database, micro_str table,
                      const micro_record* const* records, size_t count, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        RecordBatch batch(records, count);
        MICRO_DETAIL_DISPATCH(done, t, write, abi::view(database), abi::view(table), batch);
    }
    static void erase(void* self, micro_str database, micro_str table, micro_bytes key,
                      micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, erase, abi::view(database), abi::view(table),
                              abi::view(key));
    }

    static constexpr micro_store_driver kTable = {Lifecycle<T>::base(sizeof(micro_store_driver)),
                                                  &read, &write, &erase};
};

}  // namespace micro::driver
