#include "file_store.hpp"

#include <filesystem>
#include <vector>

#include "common.hpp"
#include "failure_log.hpp"
#include "paths.hpp"

namespace micro::sqlite {

namespace {

bool validDatabaseName(std::string_view name) noexcept {
    if (name.empty() || name.size() > 63) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

void checkDatabaseName(std::string_view name) {
    if (!validDatabaseName(name)) {
        throw Error(Code::kInvalidArgument, "invalid database name '" + printable(name) +
                                                "': use 1 to 63 of [A-Za-z0-9_-]");
    }
}

void checkTableName(std::string_view name) {
    if (!StoreFile::validName(name)) {
        throw Error(Code::kInvalidArgument,
                    "invalid table name '" + printable(name) + "': use 1 to 63 of [A-Za-z0-9_]");
    }
}

std::int64_t boundedInt(const driver::Config& config, std::string_view key, std::int64_t fallback,
                        std::int64_t min, std::int64_t max) {
    std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > max) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be between " +
                                                std::to_string(min) + " and " +
                                                std::to_string(max) + ", got " + std::to_string(v));
    }
    return v;
}

void emit(const StoredRecord& r, bool keysOnly, driver::RecordSink& out,
          std::vector<micro_kv>& scratch) {
    if (keysOnly) {
        out.emit(r.key, {}, {}, r.expiryUnixMs, r.version);
        return;
    }
    scratch.clear();
    for (const auto& [k, v] : r.metadata) scratch.push_back(micro_kv{abi::str(k), abi::str(v)});
    out.emit(r.key, r.value, scratch, r.expiryUnixMs, r.version);
}

}  // namespace

FileStore::FileStore(const driver::Context& ctx)
    : host_(ctx.host), instanceName_(ctx.instanceName) {
    ctx.config.allowOnly({"dir", "database", "table", "sweep_ms", "busy_timeout_ms"});
    dir_ = ctx.config.getString("dir", "");
    if (ctx.config.find("dir") && dir_.empty()) {
        throw Error(Code::kInvalidArgument, "key 'dir': must not be empty");
    }
    if (dir_.empty()) dir_ = defaultStoreDir();
    defaultDatabase_ = ctx.config.getString("database", "micro");
    defaultTable_ = ctx.config.getString("table", "micro");
    try {
        checkDatabaseName(defaultDatabase_);
        checkTableName(defaultTable_);
    } catch (const Error& e) {
        throw Error(e.code(), std::string("key 'database' or 'table': ") + e.what());
    }
    sweepEvery_ = std::chrono::milliseconds(boundedInt(ctx.config, "sweep_ms", 1000, 1, 3'600'000));
    busyTimeoutMs_ = boundedInt(ctx.config, "busy_timeout_ms", 5000, 0, 3'600'000);
    ensureDirectory(dir_);
    open({}, true);  // the default database: a bad file fails here, not later
    sweeper_ = std::jthread([this](std::stop_token stop) { sweepLoop(stop); });
}

// sweeper_, the last member, is stopped and joined first.
FileStore::~FileStore() = default;

std::string_view FileStore::tableName(std::string_view table) const {
    return table.empty() ? std::string_view(defaultTable_) : table;
}

std::string FileStore::describe(std::string_view database, std::string_view table) const {
    return std::string(database.empty() ? defaultDatabase_ : database) + "/" +
           std::string(tableName(table));
}

FileStore::OpenFile::OpenFile(const std::string& path, std::int64_t busyTimeoutMs)
    : path(path), busyTimeoutMs(busyTimeoutMs), writer(path, busyTimeoutMs) {
    idleReaders.push_back(std::make_unique<StoreFile>(path, busyTimeoutMs));
}

FileStore::ReaderLease::ReaderLease(OpenFile& file) : file_(file) {
    {
        std::lock_guard lock(file_.readersMutex);
        if (!file_.idleReaders.empty()) {
            reader_ = std::move(file_.idleReaders.back());
            file_.idleReaders.pop_back();
            return;
        }
    }
    // Every reader is busy: one more, opened with no lock held.
    reader_ = std::make_unique<StoreFile>(file_.path, file_.busyTimeoutMs);
}

FileStore::ReaderLease::~ReaderLease() {
    std::unique_ptr<StoreFile> surplus;  // closed with no lock held
    std::lock_guard lock(file_.readersMutex);
    if (file_.idleReaders.size() < kIdleReaders) {
        file_.idleReaders.push_back(std::move(reader_));
    } else {
        surplus = std::move(reader_);
    }
}

FileStore::OpenFile* FileStore::open(std::string_view database, bool create) {
    std::string_view name = database.empty() ? std::string_view(defaultDatabase_) : database;
    checkDatabaseName(name);
    {
        std::shared_lock lock(filesMutex_);
        if (auto it = files_.find(name); it != files_.end()) return it->second.get();
    }
    const std::string path = dir_ + "/" + std::string(name) + ".db";
    if (!create) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) return nullptr;  // never written: nothing to read
    }
    std::unique_lock lock(filesMutex_);
    if (auto it = files_.find(name); it != files_.end()) return it->second.get();
    auto file = std::make_unique<OpenFile>(path, busyTimeoutMs_);
    OpenFile* out = file.get();
    files_.emplace(std::string(name), std::move(file));
    return out;
}

void FileStore::read(const driver::StoreQuery& query, driver::RecordSink& out, driver::Done& done) {
    if (query.exact() && query.key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    const std::string_view table = tableName(query.table);
    checkTableName(table);
    OpenFile* f = open(query.database, false);
    if (query.exact()) {
        StoredRecord record;
        bool found = false;
        if (f != nullptr) found = ReaderLease(*f)->readExact(table, query.key, record);
        if (!found) {
            done.fail(Code::kNotFound, "no record '" + printable(query.key) + "' in " +
                                           describe(query.database, query.table));
            return;
        }
        std::vector<micro_kv> scratch;
        if (query.offset == 0) emit(record, query.keysOnly(), out, scratch);
        done.ok();
        return;
    }
    std::vector<StoredRecord> records;
    if (f != nullptr) records = ReaderLease(*f)->readRange(table, query);
    std::vector<micro_kv> scratch;
    for (const auto& r : records) emit(r, query.keysOnly(), out, scratch);
    done.ok();
}

void FileStore::write(std::string_view database, std::string_view table,
                      const driver::RecordBatch& records, driver::Done& done) {
    const std::string_view name = tableName(table);
    checkTableName(name);
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (records[i].key.size == 0) {
            throw Error(Code::kInvalidArgument,
                        "record " + std::to_string(i) + " of the batch has an empty key");
        }
    }
    if (records.empty()) {
        done.ok(0);
        return;
    }
    OpenFile* f = open(database, true);
    StoreFile::WriteResult result;
    {
        std::lock_guard lock(f->writeMutex);
        result = f->writer.write(name, records);
    }
    if (!result.conflict.empty()) {
        done.fail(Code::kAborted, result.conflict + " in " + describe(database, table));
        return;
    }
    done.ok(result.lastVersion);
}

void FileStore::erase(std::string_view database, std::string_view table, std::string_view key,
                      driver::Done& done) {
    if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    const std::string_view name = tableName(table);
    checkTableName(name);
    OpenFile* f = open(database, false);
    bool erased = false;
    if (f != nullptr) {
        std::lock_guard lock(f->writeMutex);
        erased = f->writer.erase(name, key);
    }
    if (!erased) {
        done.fail(Code::kNotFound,
                  "no record '" + printable(key) + "' in " + describe(database, table));
        return;
    }
    done.ok();
}

void FileStore::sweepLoop(std::stop_token stop) {
    FailureLog log(host_, instanceName_, "sweeping expired records");
    std::unique_lock lock(stopMutex_);
    while (!stop.stop_requested()) {
        // Nothing but a stop ends the wait early.
        stopWake_.wait_for(lock, stop, sweepEvery_, [] { return false; });
        if (stop.stop_requested()) break;
        lock.unlock();
        try {
            std::vector<OpenFile*> files;
            {
                std::shared_lock filesLock(filesMutex_);
                for (const auto& [name, f] : files_) files.push_back(f.get());
            }
            std::string failures;
            for (OpenFile* f : files) {
                try {
                    std::lock_guard fileLock(f->writeMutex);
                    f->writer.sweep();
                } catch (const std::exception& e) {
                    failures += failures.empty() ? e.what() : std::string("; ") + e.what();
                }
            }
            if (failures.empty()) {
                log.ok();
            } else {
                log.failed(failures);
            }
        } catch (const std::exception& e) {
            log.failed(e.what());
        }
        lock.lock();
    }
}

}  // namespace micro::sqlite
