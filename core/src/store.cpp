#include <micro/store.hpp>

#include <chrono>

#include "blocking_call.hpp"

namespace micro {

namespace {

std::int64_t nowUnixMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

micro_store_query makeQuery(std::string_view key, const ReadOptions& o) noexcept {
    std::uint32_t flags = MICRO_STORE_EXACT;
    if (o.prefix) flags |= MICRO_STORE_PREFIX;
    if (o.suffix) flags |= MICRO_STORE_SUFFIX;
    if (o.keysOnly) flags |= MICRO_STORE_KEYS_ONLY;
    return micro_store_query{sizeof(micro_store_query),
                             abi::str(o.database),
                             abi::str(o.table),
                             abi::bytes(key),
                             flags,
                             o.limit,
                             o.offset};
}

RecordView viewOf(const micro_record& r) noexcept {
    return RecordView{abi::view(r.key), abi::view(r.value), abi::view(r.metadata, r.metadata_count),
                      r.expiry_unix_ms, r.version};
}

// A record as the ABI sees it; `metadata` must outlive the returned value.
micro_record abiRecord(const RecordView& r, std::uint64_t expected) noexcept {
    return micro_record{sizeof(micro_record),
                        abi::bytes(r.key),
                        abi::bytes(r.value),
                        r.metadata.data(),
                        r.metadata.size(),
                        r.expiryUnixMs,
                        expected};
}

std::int64_t expiryFor(std::int64_t recordExpiry, const WriteOptions& o) {
    return o.ttl.count() > 0 ? nowUnixMs() + o.ttl.count() : recordExpiry;
}

std::vector<micro_kv> metadataOf(const Record& r) {
    std::vector<micro_kv> kv;
    kv.reserve(r.metadata.size());
    for (const auto& [k, v] : r.metadata) kv.push_back({abi::str(k), abi::str(v)});
    return kv;
}

}  // namespace

Record RecordView::toRecord() const {
    Record r{std::string(key), std::string(value), {}, expiryUnixMs, version};
    for (const auto& kv : metadata) r.metadata.emplace(abi::view(kv.key), abi::view(kv.value));
    return r;
}

Store::Store(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_store_driver>()) {}

void Store::scan(std::string_view key, const ReadOptions& options,
                 const std::function<void(const RecordView&)>& visit) const {
    micro_store_query query = makeQuery(key, options);
    auto emit = [](void* ctx, const micro_record* r) {
        (*static_cast<const std::function<void(const RecordView&)>*>(ctx))(viewOf(*r));
    };
    detail::BlockingCall call;
    table_->read(
        handle_.self(), &query,
        micro_record_sink{const_cast<std::function<void(const RecordView&)>*>(&visit), emit},
        call.done());
    call.wait();
}

std::vector<Record> Store::read(std::string_view key, const ReadOptions& options) const {
    std::vector<Record> out;
    scan(key, options, [&](const RecordView& r) { out.push_back(r.toRecord()); });
    return out;
}

std::uint64_t Store::writeView(const RecordView& record, const WriteOptions& options) {
    micro_record r = abiRecord(record, options.expectedVersion);
    r.expiry_unix_ms = expiryFor(record.expiryUnixMs, options);
    const micro_record* one = &r;
    detail::BlockingCall call;
    table_->write(handle_.self(), abi::str(options.database), abi::str(options.table), &one, 1,
                  call.done());
    return call.wait();
}

std::uint64_t Store::write(const Record& record, const WriteOptions& options) {
    std::vector<micro_kv> metadata = metadataOf(record);
    RecordView view{record.key, record.value, metadata, record.expiryUnixMs, 0};
    return writeView(view, options);
}

std::uint64_t Store::writeBatch(std::span<const Record> records, const WriteOptions& options) {
    std::vector<std::vector<micro_kv>> metadata;
    std::vector<micro_record> batch;
    metadata.reserve(records.size());
    batch.reserve(records.size());
    for (const Record& r : records) {
        metadata.push_back(metadataOf(r));
        RecordView view{r.key, r.value, metadata.back(), expiryFor(r.expiryUnixMs, options), 0};
        batch.push_back(abiRecord(view, r.version));
    }
    std::vector<const micro_record*> pointers;
    pointers.reserve(batch.size());
    for (const micro_record& r : batch) pointers.push_back(&r);
    detail::BlockingCall call;
    table_->write(handle_.self(), abi::str(options.database), abi::str(options.table),
                  pointers.data(), pointers.size(), call.done());
    return call.wait();
}

void Store::erase(std::string_view key, const ScopeOptions& options) {
    detail::BlockingCall call;
    table_->erase(handle_.self(), abi::str(options.database), abi::str(options.table),
                  abi::bytes(key), call.done());
    call.wait();
}

std::vector<std::string> Store::list(std::string_view match, ReadOptions options) const {
    if (!options.suffix) options.prefix = true;  // list without a filter lists everything
    options.keysOnly = true;
    std::vector<std::string> keys;
    scan(match, options, [&](const RecordView& r) { keys.emplace_back(r.key); });
    return keys;
}

}  // namespace micro
