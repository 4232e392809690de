// hello_store.cpp — a store driver written against the installed micro SDK.
//
// A plain C++ class becomes a driver through one macro: the SDK's
// StoreDriver<HelloStore> adapts it to abi.h's C table, turns exceptions into
// status codes, and MICRO_PLUGIN exports the one entry symbol. The core and
// this plugin share nothing but the C ABI, so the plugin may be built with
// another compiler or standard library than the core.
//
// The store itself is a mutex-guarded std::map per (database, table): exact
// and prefix/suffix reads in key order, compare-and-set writes applied
// all-or-nothing, absolute expiry, erase.
#include <micro/sdk.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using micro::Code;
using micro::Error;
using micro::driver::RecordSink;
using micro::driver::StoreQuery;

struct Entry {
    std::string value;
    std::vector<std::pair<std::string, std::string>> metadata;
    std::int64_t expiryUnixMs = 0;
    std::uint64_t version = 0;
};

using Table = std::map<std::string, Entry, std::less<>>;

std::int64_t nowUnixMs() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

bool expired(const Entry& e, std::int64_t now) {
    return e.expiryUnixMs != 0 && e.expiryUnixMs <= now;
}

std::string space(std::string_view database, std::string_view table) {
    std::string db(database.empty() ? "micro" : database);
    std::string tb(table.empty() ? "micro" : table);
    return db + '\0' + tb;  // NUL cannot clash: names are text
}

class HelloStore {
 public:
    explicit HelloStore(const micro::driver::Context& ctx) {
        ctx.config.allowOnly({});  // no settings: any key is a typo to report
        ctx.log(MICRO_LOG_DEBUG, "hello store ready");
    }

    void read(const StoreQuery& q, RecordSink& out) {
        std::vector<std::pair<std::string, Entry>> found;
        {
            std::lock_guard lock(mutex_);
            auto space = spaces_.find(::space(q.database, q.table));
            std::int64_t now = nowUnixMs();
            if (q.exact()) {
                const Entry* e = nullptr;
                if (space != spaces_.end()) {
                    auto it = space->second.find(q.key);
                    if (it != space->second.end() && !expired(it->second, now)) e = &it->second;
                }
                if (e == nullptr)
                    throw Error(Code::kNotFound, "key '" + std::string(q.key) + "' not found");
                if (q.offset == 0) found.emplace_back(std::string(q.key), *e);
            } else if (space != spaces_.end()) {
                std::uint64_t skipped = 0;
                for (const auto& [key, e] : space->second) {
                    if (expired(e, now) || !q.matches(key)) continue;
                    if (skipped++ < q.offset) continue;
                    if (q.limit != 0 && found.size() >= q.limit) break;
                    found.emplace_back(key, e);
                }
            }
        }
        // Emit outside the lock: the caller's sink may call back into us.
        for (const auto& [key, e] : found) {
            std::vector<micro_kv> meta;
            if (!q.keysOnly()) {
                for (const auto& [k, v] : e.metadata)
                    meta.push_back({micro::abi::str(k), micro::abi::str(v)});
            }
            out.emit(key, q.keysOnly() ? std::string_view{} : std::string_view(e.value), meta,
                     e.expiryUnixMs, e.version);
        }
    }

    std::uint64_t write(std::string_view database, std::string_view table,
                        const micro::driver::RecordBatch& records) {
        std::lock_guard lock(mutex_);
        Table& space = spaces_[::space(database, table)];
        std::int64_t now = nowUnixMs();
        // Check every compare-and-set first, so a batch is all-or-nothing.
        // A key written earlier in the batch counts with its new version.
        std::map<std::string_view, std::uint64_t> pending;
        std::uint64_t version = lastVersion_;
        for (const micro_record& r : records) {
            std::string_view key = micro::abi::view(r.key);
            if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
            std::uint64_t current = 0;  // 0: absent
            if (auto p = pending.find(key); p != pending.end()) {
                current = p->second;
            } else if (auto it = space.find(key); it != space.end() && !expired(it->second, now)) {
                current = it->second.version;
            }
            bool ok = r.version == MICRO_VERSION_ANY ||
                      (r.version == MICRO_VERSION_ABSENT ? current == 0 : r.version == current);
            if (!ok)
                throw Error(Code::kAborted, "version conflict on key '" + std::string(key) + "'");
            pending[key] = ++version;
        }
        version = lastVersion_;
        for (const micro_record& r : records) {
            Entry e{std::string(micro::abi::view(r.value)), {}, r.expiry_unix_ms, ++version};
            for (const micro_kv& kv : micro::abi::view(r.metadata, r.metadata_count)) {
                e.metadata.emplace_back(micro::abi::view(kv.key), micro::abi::view(kv.value));
            }
            space.insert_or_assign(std::string(micro::abi::view(r.key)), std::move(e));
        }
        lastVersion_ = version;
        return version;
    }

    void erase(std::string_view database, std::string_view table, std::string_view key) {
        std::lock_guard lock(mutex_);
        auto space = spaces_.find(::space(database, table));
        if (space != spaces_.end()) {
            auto it = space->second.find(key);
            if (it != space->second.end()) {
                bool live = !expired(it->second, nowUnixMs());
                space->second.erase(it);
                if (live) return;
            }
        }
        throw Error(Code::kNotFound, "key '" + std::string(key) + "' not found");
    }

 private:
    std::mutex mutex_;
    std::map<std::string, Table, std::less<>> spaces_;
    std::uint64_t lastVersion_ = 0;
};

}  // namespace

MICRO_PLUGIN("hello-store", "1.0.0", "An example plugin built outside the micro tree",
             MICRO_DRIVER(micro::driver::StoreDriver<HelloStore>, "hello", "1.0.0",
                          "A std::map store: the smallest complete store driver"));
