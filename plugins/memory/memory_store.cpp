#include "memory_store.hpp"

#include <cstring>
#include <map>

#include "common.hpp"

namespace micro::memory {

MemoryStore::MemoryStore(const driver::Context& ctx) {
    ctx.config.allowOnly({"database", "table"});
    defaultDatabase_ = ctx.config.getString("database", "micro");
    defaultTable_ = ctx.config.getString("table", "micro");
    if (defaultDatabase_.empty() || defaultTable_.empty()) {
        throw Error(Code::kInvalidArgument, "keys 'database' and 'table' must not be empty");
    }
}

std::string MemoryStore::describe(std::string_view database, std::string_view table) const {
    return std::string(database.empty() ? defaultDatabase_ : database) + "/" +
           std::string(table.empty() ? defaultTable_ : table);
}

std::shared_ptr<MemoryStore::Record> MemoryStore::build(const micro_record& in) {
    auto record = std::make_shared<Record>();
    record->key = abi::view(in.key);
    record->value = abi::view(in.value);
    record->expiryUnixMs = in.expiry_unix_ms;
    auto metadata = abi::view(in.metadata, in.metadata_count);
    if (!metadata.empty()) {
        std::size_t total = 0;
        for (const auto& kv : metadata) total += kv.key.size + kv.value.size;
        record->metadataBuffer = std::make_unique<char[]>(total == 0 ? 1 : total);
        record->metadata.reserve(metadata.size());
        char* cursor = record->metadataBuffer.get();
        auto copy = [&cursor](micro_str s) {
            micro_str out{cursor, s.size};
            if (s.size != 0) std::memcpy(cursor, s.data, s.size);
            cursor += s.size;
            return out;
        };
        for (const auto& kv : metadata) {
            micro_str key = copy(kv.key);
            micro_str value = copy(kv.value);
            record->metadata.push_back(micro_kv{key, value});
        }
    }
    return record;
}

void MemoryStore::emit(const Record& record, bool keysOnly, driver::RecordSink& out) {
    if (keysOnly) {
        out.emit(record.key, {}, {}, record.expiryUnixMs, record.version);
    } else {
        out.emit(record.key, record.value, record.metadata, record.expiryUnixMs, record.version);
    }
}

MemoryStore::Table* MemoryStore::find(std::string_view database, std::string_view table,
                                      bool create) {
    if (database.empty()) database = defaultDatabase_;
    if (table.empty()) table = defaultTable_;
    if (database == defaultDatabase_ && table == defaultTable_) return &defaults_;
    {
        std::shared_lock lock(namespacesMutex_);
        auto db = namespaces_.find(database);
        if (db != namespaces_.end()) {
            auto t = db->second.find(table);
            if (t != db->second.end()) return t->second.get();
        }
    }
    if (!create) return nullptr;
    std::unique_lock lock(namespacesMutex_);
    auto db = namespaces_.find(database);
    if (db == namespaces_.end())
        db = namespaces_.emplace(std::string(database), decltype(db->second){}).first;
    auto t = db->second.find(table);
    if (t == db->second.end()) {
        t = db->second.emplace(std::string(table), std::make_unique<Table>()).first;
    }
    return t->second.get();
}

void MemoryStore::purge(Table& table, std::span<const std::string> keys) {
    if (keys.empty()) return;
    std::int64_t now = unixNowMs();
    std::unique_lock lock(table.mutex);
    for (const auto& key : keys) {
        auto it = table.records.find(key);
        // Re-check: a writer may have replaced it since the reader saw it.
        if (it != table.records.end() && it->second->expiredAt(now)) table.records.erase(it);
    }
}

void MemoryStore::read(const driver::StoreQuery& query, driver::RecordSink& out,
                       driver::Done& done) {
    if (query.exact() && query.key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    Table* table = find(query.database, query.table, false);
    if (table == nullptr) {
        if (query.exact()) {
            done.fail(Code::kNotFound, "no record '" + printable(query.key) + "' in " +
                                           describe(query.database, query.table));
        } else {
            done.ok();  // a range over a table never written is empty
        }
        return;
    }
    if (query.exact()) {
        readExact(*table, query, out, done);
    } else {
        readRange(*table, query, out);
        done.ok();
    }
}

void MemoryStore::readExact(Table& table, const driver::StoreQuery& query, driver::RecordSink& out,
                            driver::Done& done) {
    // The hot path: one shared lock, one map lookup by string_view (no
    // allocation), one reference-count increment; the sink runs unlocked.
    RecordPtr record;
    {
        std::shared_lock lock(table.mutex);
        auto it = table.records.find(query.key);
        if (it != table.records.end()) record = it->second;
    }
    bool expired = record && record->expiryUnixMs != 0 && record->expiredAt(unixNowMs());
    if (!record || expired) {
        if (expired) {
            std::string key(query.key);
            purge(table, std::span<const std::string>(&key, 1));
        }
        done.fail(Code::kNotFound, "no record '" + printable(query.key) + "' in " +
                                       describe(query.database, query.table));
        return;
    }
    if (query.offset == 0) emit(*record, query.keysOnly(), out);
    done.ok();
}

void MemoryStore::readRange(Table& table, const driver::StoreQuery& query,
                            driver::RecordSink& out) {
    std::vector<RecordPtr> matches;
    std::vector<std::string> expired;
    {
        std::int64_t now = unixNowMs();
        std::uint64_t skipped = 0;
        std::shared_lock lock(table.mutex);
        auto it = query.prefix() ? table.records.lower_bound(query.key) : table.records.begin();
        for (; it != table.records.end(); ++it) {
            std::string_view key = it->first;
            if (query.prefix() && !key.starts_with(query.key)) break;  // sorted: past the prefix
            if (!query.matches(key)) continue;
            if (it->second->expiredAt(now)) {
                expired.push_back(it->first);
                continue;
            }
            if (skipped < query.offset) {
                ++skipped;
                continue;
            }
            matches.push_back(it->second);
            if (query.limit != 0 && matches.size() >= query.limit) break;
        }
    }
    purge(table, expired);
    for (const auto& record : matches) emit(*record, query.keysOnly(), out);
}

void MemoryStore::write(std::string_view database, std::string_view table,
                        const micro::driver::RecordBatch& records, driver::Done& done) {
    if (records.empty()) {
        done.ok(0);
        return;
    }
    // Copy everything before taking the lock so it is held only to check
    // and swap pointers.
    std::vector<std::shared_ptr<Record>> built;
    built.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (records[i].key.size == 0) {
            throw Error(Code::kInvalidArgument,
                        "record " + std::to_string(i) + " of the batch has an empty key");
        }
        built.push_back(build(records[i]));
    }
    Table& t = *find(database, table, true);

    std::string conflict;
    std::uint64_t lastVersion = 0;
    {
        std::unique_lock lock(t.mutex);
        std::int64_t now = unixNowMs();
        // Versions this batch will give its keys, so a key repeated in the
        // batch is checked against its earlier entry, not the stored one.
        std::map<std::string_view, std::uint64_t, std::less<>> pending;
        for (std::size_t i = 0; i < built.size() && conflict.empty(); ++i) {
            const std::string& key = built[i]->key;
            std::uint64_t current = 0;
            if (auto p = pending.find(key); p != pending.end()) {
                current = p->second;
            } else if (auto it = t.records.find(key);
                       it != t.records.end() && !it->second->expiredAt(now)) {
                current = it->second->version;
            }
            std::uint64_t expected = records[i].version;
            bool ok = expected == MICRO_VERSION_ANY ||
                      (expected == MICRO_VERSION_ABSENT ? current == 0 : current == expected);
            if (!ok) {
                conflict = "version conflict on key '" + printable(key) + "': expected " +
                           (expected == MICRO_VERSION_ABSENT ? std::string("absent")
                                                             : std::to_string(expected)) +
                           ", found " +
                           (current == 0 ? std::string("absent") : std::to_string(current));
                break;
            }
            if (built.size() > 1) pending[key] = t.lastVersion + i + 1;
        }
        if (conflict.empty()) {
            for (auto& record : built) {
                record->version = ++t.lastVersion;
                t.records.insert_or_assign(record->key, std::move(record));
            }
            lastVersion = t.lastVersion;
        }
    }
    // Complete with no lock held: the completion may call back into the store.
    if (!conflict.empty()) {
        done.fail(Code::kAborted, conflict);
    } else {
        done.ok(lastVersion);
    }
}

void MemoryStore::erase(std::string_view database, std::string_view table, std::string_view key,
                        driver::Done& done) {
    if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    Table* t = find(database, table, false);
    bool erased = false;
    if (t != nullptr) {
        std::unique_lock lock(t->mutex);
        auto it = t->records.find(key);
        if (it != t->records.end()) {
            erased = !it->second->expiredAt(unixNowMs());
            t->records.erase(it);  // an expired record goes too: lazy removal
        }
    }
    if (erased) {
        done.ok();
    } else {
        done.fail(Code::kNotFound,
                  "no record '" + printable(key) + "' in " + describe(database, table));
    }
}

}  // namespace micro::memory
