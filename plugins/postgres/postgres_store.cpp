#include "postgres_store.hpp"

#include <micro/abi_view.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <new>
#include <random>

#include "common.hpp"
#include "conninfo.hpp"
#include "errors.hpp"
#include "metadata_codec.hpp"
#include "names.hpp"
#include "sql.hpp"

namespace micro::postgres {
namespace {

constexpr int kConflictRetries = 5;
constexpr std::int64_t kMaxValueLimit = 256LL * 1024 * 1024;

std::int64_t intKey(const driver::Config& config, std::string_view key, std::int64_t fallback,
                    std::int64_t min, std::int64_t max) {
    const std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > max) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': " + std::to_string(v) +
                                                " is out of range " + std::to_string(min) + ".." +
                                                std::to_string(max));
    }
    return v;
}

pqxx::binarystring bytes(std::string_view s) { return pqxx::binarystring(s.data(), s.size()); }

std::string bytesOf(const pqxx::field& field) {
    if (field.is_null()) return {};
    const pqxx::binarystring b(field);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

std::int64_t clampToInt64(std::uint64_t v) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(v > kMax ? kMax : v);
}

bool liveAt(std::int64_t expiryUnixMs, std::int64_t nowMs) {
    return expiryUnixMs == 0 || expiryUnixMs > nowMs;
}

/// The smallest byte string greater than every string starting with
/// `prefix`, or "" when there is none (the prefix is all 0xff bytes).
std::string successor(std::string prefix) {
    while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
        prefix.pop_back();
    }
    if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
    return prefix;
}

std::string versionText(std::uint64_t v) {
    if (v == MICRO_VERSION_ABSENT) return "absent";
    return std::to_string(v);
}

}  // namespace

PostgresStore::PostgresStore(const driver::Context& ctx)
    : host_(ctx.host), instanceName_(ctx.instanceName) {
    const driver::Config& config = ctx.config;
    config.allowOnly({"url", "pool_size", "connect_timeout_ms", "statement_timeout_ms", "database",
                      "table", "sweep_ms", "max_value_bytes"});
    const std::string url =
        config.getString("url", "postgresql://postgres@127.0.0.1:5432/postgres");
    const std::int64_t poolSize = intKey(config, "pool_size", 4, 1, 64);
    const std::int64_t connectTimeoutMs = intKey(config, "connect_timeout_ms", 2000, 1, 600000);
    statementTimeoutMs_ = intKey(config, "statement_timeout_ms", 5000, 0, 3600000);
    sweepInterval_ = std::chrono::milliseconds(intKey(config, "sweep_ms", 30000, 1, 86400000));
    maxValueBytes_ = intKey(config, "max_value_bytes", 4 * 1024 * 1024, 1, kMaxValueLimit);
    defaultDatabase_ = config.getString("database", "micro");
    defaultTable_ = config.getString("table", "micro");
    checkName("database", defaultDatabase_);
    checkName("table", defaultTable_);

    const ConnectionTarget target = parseUrl(url, connectTimeoutMs);
    label_ = "postgres " + target.label + ": ";

    ConnectionPool::Options options;
    options.conninfo = target.conninfo;
    options.label = target.label;
    options.size = static_cast<std::size_t>(poolSize);
    options.statementTimeoutMs = statementTimeoutMs_;
    // Workers never outnumber connections, so only the sweeper or a nested
    // call ever waits for one; the bound covers a connect and a statement.
    options.waitTimeout = std::chrono::milliseconds(
        connectTimeoutMs + (statementTimeoutMs_ == 0 ? 30000 : statementTimeoutMs_) + 1000);
    options.notice = [this](std::string_view message) {
        log(MICRO_LOG_INFO, label_ + std::string(message));
    };
    ReadPipeline::Options reads;
    reads.conninfo = options.conninfo;
    reads.label = options.label;
    reads.statementTimeoutMs = statementTimeoutMs_;
    // One lane per four calling threads, as pgbench multiplexes four
    // connections per thread: enough reads share a round trip to save the
    // server most of its system calls, few enough that each round is short.
    reads.lanes = static_cast<std::size_t>((poolSize + 3) / 4);
    reads.replyTimeout =
        std::chrono::milliseconds((statementTimeoutMs_ == 0 ? 30000 : statementTimeoutMs_) + 2000);
    reads.notice = options.notice;
    pipeline_ = std::make_unique<ReadPipeline>(std::move(reads));
    pool_ = std::make_unique<ConnectionPool>(std::move(options));
    workers_ = std::make_unique<WorkerPool>(static_cast<std::size_t>(poolSize));
    sweeper_ = std::thread([this] { sweepLoop(); });
}

PostgresStore::~PostgresStore() {
    closing_ = true;
    {
        std::lock_guard lock(sweepMutex_);
        sweepStop_ = true;
    }
    sweepWake_.notify_all();
    if (sweeper_.joinable()) sweeper_.join();
    workers_.reset();  // queued calls complete with CANCELLED (runJob)
    pool_.reset();
    pipeline_.reset();
}

void PostgresStore::log(std::int32_t level, std::string_view message) const noexcept {
    if (host_ != nullptr && host_->log != nullptr) {
        host_->log(host_, level, abi::str(instanceName_), abi::str(message));
    }
}

std::string PostgresStore::effectiveDatabase(std::string_view database) const {
    return database.empty() ? defaultDatabase_ : std::string(database);
}

std::string PostgresStore::effectiveTable(std::string_view table) const {
    return table.empty() ? defaultTable_ : std::string(table);
}

// --- dispatch and retries -------------------------------------------------

template <typename Job>
void PostgresStore::runJob(driver::Done& done, Job& job, Borrowed& lease) noexcept {
    if (closing_) {
        done.fail(Code::kCancelled, label_ + "the store is shutting down");
        return;
    }
    try {
        job(done, lease);
    } catch (...) {
        failWithCurrent(done);
    }
}

void PostgresStore::failWithCurrent(driver::Done& done) const noexcept {
    try {
        throw;
    } catch (const Error& e) {
        done.fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        done.fail(Code::kResourceExhausted, "out of memory");
    } catch (const std::exception& e) {
        done.fail(Code::kInternal, label_ + e.what());
    } catch (...) {
        done.fail(Code::kInternal, label_ + "unknown exception");
    }
}

template <typename Job>
void PostgresStore::dispatch(driver::Done& done, Job job) {
    if (workers_->onWorkerThread()) {
        Borrowed none;
        runJob(done, job, none);
        return;
    }
    // An idle connection means no wait: the statement on this thread costs
    // less than two thread wake-ups.
    if (Borrowed lease = pool_->tryBorrow()) {
        runJob(done, job, lease);
        return;
    }
    workers_->submit([this, d = driver::Done(std::move(done)), job = std::move(job)]() mutable {
        Borrowed none;
        runJob(d, job, none);
    });
}

template <typename Body>
std::invoke_result_t<Body&, Session&> PostgresStore::withSession(Body&& body) {
    Borrowed none;
    return withSession(none, std::forward<Body>(body));
}

template <typename Body>
std::invoke_result_t<Body&, Session&> PostgresStore::withSession(Borrowed& first, Body&& body) {
    int lost = 0;
    int conflicts = 0;
    for (;;) {
        if (conflicts > 0) {
            // Back off a little, with jitter, before retrying a conflict.
            thread_local std::minstd_rand random(std::random_device{}());
            const int ceiling = 2 << std::min(conflicts, 6);
            std::this_thread::sleep_for(
                std::chrono::milliseconds(1 + static_cast<int>(random() % ceiling)));
        }
        ConnectionPool::Lease lease = [&] {
            if (!first) return pool_->borrow();
            ConnectionPool::Lease given = std::move(*first);
            first.reset();
            return given;
        }();
        try {
            return body(lease.session());
        } catch (const ChangeInDoubt& e) {
            lease.discard();
            throw Error(Code::kUnavailable,
                        label_ + "connection lost during a write: the change may or may not " +
                            "have been applied (" + e.reason + ")");
        } catch (const pqxx::in_doubt_error& e) {
            lease.discard();
            throw Error(Code::kUnavailable,
                        label_ + "connection lost during COMMIT: the change may or may not " +
                            "have been applied (" + firstLine(e.what()) + ")");
        } catch (const pqxx::broken_connection& e) {
            lease.discard();
            if (++lost <= 1) continue;
            throw Error(Code::kUnavailable, label_ + firstLine(e.what()));
        } catch (const pqxx::statement_completion_unknown& e) {
            lease.discard();
            throw Error(Code::kUnavailable,
                        label_ + "statement outcome unknown: " + firstLine(e.what()));
        } catch (const pqxx::transaction_rollback& e) {
            // Serialisation failure (40001) or deadlock (40P01).
            if (++conflicts <= kConflictRetries) continue;
            throw Error(Code::kAborted, label_ + "transaction conflict, retried " +
                                            std::to_string(kConflictRetries) +
                                            " times: " + firstLine(e.what()));
        } catch (const pqxx::sql_error& e) {
            const std::string& state = e.sqlstate();
            if (sessionLost(state) || !lease.session().connection().is_open()) {
                lease.discard();
                if (++lost <= 1) continue;
                throw Error(Code::kUnavailable, label_ + firstLine(e.what()));
            }
            if (state == "40001" || state == "40P01") {
                if (++conflicts <= kConflictRetries) continue;
            }
            throw translateSqlError(pool_->label(), state, e.what(), statementTimeoutMs_);
        } catch (const pqxx::failure& e) {
            if (!lease.session().connection().is_open()) {
                lease.discard();
                if (++lost <= 1) continue;
                throw Error(Code::kUnavailable, label_ + firstLine(e.what()));
            }
            throw Error(Code::kInternal, label_ + firstLine(e.what()));
        }
    }
}

// --- tables -----------------------------------------------------------------

PostgresStore::Table& PostgresStore::table(std::string_view database, std::string_view name,
                                           Session& session) {
    const std::string key = std::string(database) + "/" + std::string(name);
    {
        std::shared_lock lock(tablesMutex_);
        auto it = tables_.find(key);
        if (it != tables_.end()) return *it->second;
    }
    auto t = std::make_unique<Table>();
    t->database = database;
    t->name = name;
    // Names were validated ([A-Za-z0-9_]); quoting is the second guard.
    t->quotedSchema = session.connection().quote_name(schemaOf(database));
    t->qualified = t->quotedSchema + "." + session.connection().quote_name(t->name);
    std::unique_lock lock(tablesMutex_);
    auto it = tables_.find(key);
    if (it != tables_.end()) return *it->second;
    t->statementPrefix = "t" + std::to_string(nextTableId_++) + "_";
    t->exactRead[0] = t->statementPrefix + "xv";
    t->exactRead[1] = t->statementPrefix + "xk";
    t->rawUpsert = t->statementPrefix + "xput";
    return *tables_.emplace(key, std::move(t)).first->second;
}

PostgresStore::Table* PostgresStore::knownTable(std::string_view database, std::string_view name) {
    std::string key;
    key.reserve(database.size() + 1 + name.size());
    key.append(database).append(1, '/').append(name);
    std::shared_lock lock(tablesMutex_);
    auto it = tables_.find(key);
    return it == tables_.end() ? nullptr : it->second.get();
}

void PostgresStore::ensureCreated(Session& session, Table& t) {
    // The catalog's schema, table and version sequence; the database's
    // schema; the table.
    constexpr int kCreatedObjects = 5;
    if (t.created.load(std::memory_order_acquire)) return;
    for (int attempt = 1;; ++attempt) {
        try {
            pqxx::nontransaction tx(session.connection());
            if (!catalogReady_.load(std::memory_order_acquire)) {
                tx.exec0(sql::createCatalogSchema());
                tx.exec0(sql::createCatalogTable());
                // A schema made before the sequence existed kept each
                // table's counter in the catalog: start above all of them,
                // so no version is ever handed out twice.
                const auto highest = tx.exec1(sql::highestCatalogVersion())[0].as<std::int64_t>();
                tx.exec0(sql::createVersionSequence(highest + 1));
            }
            tx.exec0(sql::createSchema(t.quotedSchema));
            tx.exec0(sql::createTable(t.qualified));
            tx.exec_params0(sql::registerTable(), t.database, t.name);
            catalogReady_.store(true, std::memory_order_release);
            t.created.store(true, std::memory_order_release);
            return;
        } catch (const pqxx::sql_error& e) {
            // Two sessions running CREATE ... IF NOT EXISTS at once may both
            // decide to create; PostgreSQL then fails one on its catalog's
            // unique indexes (23505) or as a duplicate (42710 type, 42P06
            // schema, 42P07 table). The loser only fails once the winner has
            // committed, so the next attempt finds that object there: every
            // lost race leaves one more of the objects in place, and a
            // session that loses the race for each of them still succeeds
            // on the attempt after.
            const std::string& state = e.sqlstate();
            const bool raced =
                state == "23505" || state == "42710" || state == "42P06" || state == "42P07";
            if (!raced || attempt > kCreatedObjects) throw;
        }
    }
}

// --- read -------------------------------------------------------------------

void PostgresStore::read(const driver::StoreQuery& query, driver::RecordSink& out,
                         driver::Done& done) {
    Query q;
    q.database = effectiveDatabase(query.database);
    q.table = effectiveTable(query.table);
    checkName("database", q.database);
    checkName("table", q.table);
    if (query.exact() && query.key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    if (query.key.size() > kMaxKeyBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(query.key.size()) +
                                                " bytes exceeds the " +
                                                std::to_string(kMaxKeyBytes) + "-byte key limit");
    }
    q.key = query.key;
    q.flags = query.flags;
    q.limit = query.limit;
    q.offset = query.offset;
    // An exact read of a table this instance has met, from a thread of the
    // caller's: through the read pipeline (read_pipeline.hpp). A worker
    // thread (a sink or completion reading again) keeps to its session.
    if ((q.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0 && !workers_->onWorkerThread()) {
        if (Table* t = knownTable(q.database, q.table)) {
            readPipelined(*t, q, out, done);
            return;
        }
    }
    // The caller keeps the sink's context alive until the completion runs.
    dispatch(done, [this, q = std::move(q), sink = out](driver::Done& d, Borrowed& lease) mutable {
        readNow(q, sink, d, lease);
    });
}

std::vector<PostgresStore::Row> PostgresStore::fetch(Session& session, Table& t, const Query& q) {
    const bool exact = (q.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0;
    const bool keysOnly = (q.flags & MICRO_STORE_KEYS_ONLY) != 0;
    const std::int64_t now = unixNowMs();
    pqxx::result result;
    try {
        pqxx::nontransaction tx(session.connection());
        if (exact) {
            const std::string name = t.statementPrefix + (keysOnly ? "rk" : "rv");
            session.prepare(name, [&] { return sql::readExact(t.qualified, keysOnly); });
            result = tx.exec_prepared(name, bytes(q.key), now);
        } else {
            sql::RangeShape shape;
            std::vector<pqxx::binarystring> bounds;
            std::string upper;
            if ((q.flags & MICRO_STORE_PREFIX) != 0 && !q.key.empty()) {
                shape.lower = true;
                bounds.push_back(bytes(q.key));
                upper = successor(q.key);
                if (!upper.empty()) {
                    shape.upper = true;
                    bounds.push_back(bytes(upper));
                }
            }
            if ((q.flags & MICRO_STORE_SUFFIX) != 0 && !q.key.empty()) {
                shape.suffix = true;
                bounds.push_back(bytes(q.key));
            }
            shape.keysOnly = keysOnly;
            const std::string name = t.statementPrefix + "g" + std::to_string(shape.id());
            session.prepare(name, [&] { return sql::readRange(t.qualified, shape); });
            const std::int64_t limit =
                q.limit == 0 ? std::numeric_limits<std::int64_t>::max() : clampToInt64(q.limit);
            result = tx.exec_prepared(name, now, limit, clampToInt64(q.offset),
                                      pqxx::prepare::make_dynamic_params(bounds));
        }
    } catch (const pqxx::sql_error& e) {
        if (undefinedTable(e.sqlstate())) return {};  // never written: nothing to read
        throw;
    }
    std::vector<Row> rows;
    rows.reserve(result.size());
    for (const auto& r : result) {
        Row row;
        row.key = bytesOf(r[0]);
        if (keysOnly) {
            row.expiryUnixMs = r[1].as<std::int64_t>();
            row.version = static_cast<std::uint64_t>(r[2].as<std::int64_t>());
        } else {
            row.value = bytesOf(r[1]);
            row.metadata = decodeMetadata(bytesOf(r[2]));
            row.expiryUnixMs = r[3].as<std::int64_t>();
            row.version = static_cast<std::uint64_t>(r[4].as<std::int64_t>());
        }
        rows.push_back(std::move(row));
    }
    return rows;
}

namespace {

/// A row (and the views of its metadata handed to the sink) taken from
/// this thread's spares and given back afterwards, so an exact read reuses
/// the buffers of the previous one; a sink that reads the store again takes
/// another spare.
struct Spare {
    ExactRow row;
    std::vector<micro_kv> metadata;
};

class SpareRow {
 public:
    SpareRow() {
        if (spares().empty()) {
            row_ = std::make_unique<Spare>();
        } else {
            row_ = std::move(spares().back());
            spares().pop_back();
        }
    }
    ~SpareRow() {
        try {
            spares().push_back(std::move(row_));
        } catch (...) {  // out of memory: the row is simply freed
        }
    }
    SpareRow(const SpareRow&) = delete;
    SpareRow& operator=(const SpareRow&) = delete;
    Spare& operator*() noexcept { return *row_; }

 private:
    static std::vector<std::unique_ptr<Spare>>& spares() {
        thread_local std::vector<std::unique_ptr<Spare>> rows;
        return rows;
    }
    std::unique_ptr<Spare> row_;
};

/// The end of an exact read: NOT_FOUND, or the record (none at an offset).
void emitExact(const std::string& database, const std::string& table, const std::string& key,
               std::uint64_t offset, bool found, Spare& spare, driver::RecordSink& out,
               driver::Done& done) {
    if (!found) {
        done.fail(Code::kNotFound,
                  "no record '" + printable(key) + "' in " + database + "/" + table);
        return;
    }
    if (offset == 0) {  // an exact read has one record, at offset 0
        const ExactRow& row = spare.row;
        spare.metadata.clear();
        for (const auto& [k, v] : row.metadata) {
            spare.metadata.push_back({abi::str(k), abi::str(v)});
        }
        out.emit(row.key, row.value, spare.metadata, row.expiryUnixMs, row.version);
    }
    done.ok();
}

}  // namespace

void PostgresStore::readExactNow(const Query& q, driver::RecordSink& out, driver::Done& done,
                                 Borrowed& lease) {
    const bool keysOnly = (q.flags & MICRO_STORE_KEYS_ONLY) != 0;
    SpareRow spare;
    ExactRow& row = (*spare).row;
    const bool found = withSession(lease, [&](Session& session) {
        Table& t = table(q.database, q.table, session);
        try {
            return readExact(session.raw(), t.exactRead[keysOnly ? 1 : 0], t.qualified, keysOnly,
                             q.key, unixNowMs(), row);
        } catch (const pqxx::sql_error& e) {
            if (undefinedTable(e.sqlstate())) return false;  // never written: nothing to read
            throw;
        }
    });
    // The connection is back in the pool: the sink may call into the store.
    emitExact(q.database, q.table, q.key, q.offset, found, *spare, out, done);
}

void PostgresStore::readPipelined(Table& t, const Query& q, driver::RecordSink& out,
                                  driver::Done& done) noexcept {
    if (closing_) {
        done.fail(Code::kCancelled, label_ + "the store is shutting down");
        return;
    }
    try {
        SpareRow spare;
        ReadPipeline::Request request;
        const bool keysOnly = (q.flags & MICRO_STORE_KEYS_ONLY) != 0;
        request.statement = &t.exactRead[keysOnly ? 1 : 0];
        request.qualified = &t.qualified;
        request.keysOnly = keysOnly;
        request.key = q.key;
        request.nowMs = unixNowMs();
        request.row = &(*spare).row;
        pipeline_->run(request);
        if (request.code != Code::kOk) {
            done.fail(request.code, request.message);
            return;
        }
        emitExact(q.database, q.table, q.key, q.offset, request.found, *spare, out, done);
    } catch (...) {
        failWithCurrent(done);
    }
}

void PostgresStore::readNow(const Query& q, driver::RecordSink& out, driver::Done& done,
                            Borrowed& lease) {
    if ((q.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0) {
        readExactNow(q, out, done, lease);
        return;
    }
    std::vector<Row> rows = withSession(lease, [&](Session& session) {
        return fetch(session, table(q.database, q.table, session), q);
    });
    // The connection is back in the pool: the sink may call into the store.
    const bool exact = (q.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0;
    if (exact) {
        if (rows.empty()) {
            done.fail(Code::kNotFound,
                      "no record '" + printable(q.key) + "' in " + q.database + "/" + q.table);
            return;
        }
        if (q.offset != 0) rows.clear();  // an exact read has one record, at offset 0
    }
    std::vector<micro_kv> metadata;
    for (const Row& row : rows) {
        metadata.clear();
        for (const auto& [k, v] : row.metadata) metadata.push_back({abi::str(k), abi::str(v)});
        out.emit(row.key, row.value, metadata, row.expiryUnixMs, row.version);
    }
    done.ok();
}

// --- write ------------------------------------------------------------------

void PostgresStore::write(std::string_view database, std::string_view table,
                          const driver::RecordBatch& records, driver::Done& done) {
    std::string db = effectiveDatabase(database);
    std::string tbl = effectiveTable(table);
    checkName("database", db);
    checkName("table", tbl);
    if (records.empty()) {
        done.ok(0);
        return;
    }
    // Check every record before copying any: a 100 MiB value is refused
    // without being copied or sent.
    const auto where = [&](std::size_t i, std::string_view key) {
        std::string w = "key '" + printable(key) + "'";
        if (records.size() > 1) w = "record " + std::to_string(i) + " of the batch (" + w + ")";
        return w;
    };
    for (std::size_t i = 0; i < records.size(); ++i) {
        const micro_record& r = records[i];
        const std::string_view key = abi::view(r.key);
        if (key.empty()) {
            throw Error(Code::kInvalidArgument,
                        records.size() > 1
                            ? "record " + std::to_string(i) + " of the batch has an empty key"
                            : std::string("empty key"));
        }
        if (key.size() > kMaxKeyBytes) {
            throw Error(Code::kInvalidArgument,
                        where(i, key.substr(0, 32)) + ": key of " + std::to_string(key.size()) +
                            " bytes exceeds the " + std::to_string(kMaxKeyBytes) +
                            "-byte key limit");
        }
        if (r.value.size > static_cast<std::uint64_t>(maxValueBytes_)) {
            throw Error(Code::kInvalidArgument, where(i, key) + ": value of " +
                                                    std::to_string(r.value.size) +
                                                    " bytes exceeds max_value_bytes (" +
                                                    std::to_string(maxValueBytes_) + ")");
        }
        std::uint64_t metadataBytes = 0;
        for (const micro_kv& kv : abi::view(r.metadata, r.metadata_count)) {
            metadataBytes += 8 + kv.key.size + kv.value.size;
        }
        if (metadataBytes > static_cast<std::uint64_t>(maxValueBytes_)) {
            throw Error(Code::kInvalidArgument, where(i, key) + ": metadata of " +
                                                    std::to_string(metadataBytes) +
                                                    " bytes exceeds max_value_bytes (" +
                                                    std::to_string(maxValueBytes_) + ")");
        }
    }
    std::vector<PendingRecord> pending;
    pending.reserve(records.size());
    for (const micro_record& r : records) {
        PendingRecord p;
        p.key = abi::view(r.key);
        p.value = abi::view(r.value);
        p.metadata = encodeMetadata(abi::view(r.metadata, r.metadata_count));
        p.expiryUnixMs = r.expiry_unix_ms;
        p.expectedVersion = r.version;
        pending.push_back(std::move(p));
    }
    dispatch(done, [this, db = std::move(db), tbl = std::move(tbl), pending = std::move(pending)](
                       driver::Done& d, Borrowed& lease) { writeNow(db, tbl, pending, d, lease); });
}

void PostgresStore::writeNow(const std::string& database, const std::string& tableName,
                             const std::vector<PendingRecord>& records, driver::Done& done,
                             Borrowed& lease) {
    WriteOutcome outcome;
    for (int attempt = 0;; ++attempt) {
        try {
            outcome = withSession(lease, [&](Session& session) {
                Table& t = table(database, tableName, session);
                ensureCreated(session, t);
                return writeBatch(session, t, records);
            });
            break;
        } catch (const TableMissing&) {
            if (attempt >= 1) {
                throw Error(Code::kUnavailable, label_ + "table " + database + "/" + tableName +
                                                    " disappeared while writing to it");
            }
        }
    }
    if (!outcome.conflict.empty()) {
        done.fail(Code::kAborted, outcome.conflict);
    } else {
        done.ok(outcome.lastVersion);
    }
}

PostgresStore::WriteOutcome PostgresStore::writeBatch(Session& session, Table& t,
                                                      const std::vector<PendingRecord>& records) {
    const std::int64_t now = unixNowMs();
    const std::string versionOf = t.statementPrefix + "ver";
    const std::string upsert = t.statementPrefix + "put";
    const std::string ifAbsent = t.statementPrefix + "new";
    const std::string ifVersion = t.statementPrefix + "cas";
    session.prepare(upsert, [&] { return sql::upsert(t.qualified); });
    bool conditional = false;
    for (const PendingRecord& r : records) conditional |= r.expectedVersion != MICRO_VERSION_ANY;
    if (conditional) {
        session.prepare(versionOf, [&] { return sql::liveVersion(t.qualified); });
        session.prepare(ifAbsent, [&] { return sql::insertIfAbsent(t.qualified); });
        session.prepare(ifVersion, [&] { return sql::updateIfVersion(t.qualified); });
    }
    // One statement per record; each compare-and-set is part of its
    // statement (checked on the locked row), so a key repeated in a batch is
    // checked against its earlier entry. One record is one autocommit
    // statement; a batch is one transaction.
    auto writeOne = [&](auto& tx, const PendingRecord& r) -> pqxx::result {
        if (r.expectedVersion == MICRO_VERSION_ANY) {
            return tx.exec_prepared(upsert, bytes(r.key), bytes(r.value), bytes(r.metadata),
                                    r.expiryUnixMs);
        }
        if (r.expectedVersion == MICRO_VERSION_ABSENT) {
            return tx.exec_prepared(ifAbsent, bytes(r.key), bytes(r.value), bytes(r.metadata),
                                    r.expiryUnixMs, now);
        }
        return tx.exec_prepared(ifVersion, bytes(r.key), bytes(r.value), bytes(r.metadata),
                                r.expiryUnixMs, clampToInt64(r.expectedVersion), now);
    };
    auto conflict = [&](auto& tx, const PendingRecord& r) {
        // Only for the message: what the key holds now.
        const pqxx::result v = tx.exec_prepared(versionOf, bytes(r.key), now);
        const std::uint64_t current =
            v.empty() ? 0 : static_cast<std::uint64_t>(v[0][0].as<std::int64_t>());
        return "version conflict on key '" + printable(r.key) + "' in " + t.database + "/" +
               t.name + ": expected " + versionText(r.expectedVersion) + ", found " +
               (current == 0 ? std::string("absent") : std::to_string(current));
    };
    try {
        if (records.size() == 1 && records[0].expectedVersion == MICRO_VERSION_ANY) {
            // The common write, in plain libpq (raw_statements.hpp).
            const PendingRecord& r = records[0];
            RawConnection& raw = session.raw();
            prepareUpsert(raw, t.rawUpsert, t.qualified);  // nothing written yet: may retry
            try {
                return {
                    postgres::upsert(raw, t.rawUpsert, r.key, r.value, r.metadata, r.expiryUnixMs),
                    ""};
            } catch (const pqxx::broken_connection& e) {
                throw ChangeInDoubt{firstLine(e.what())};
            }
        }
        if (records.size() == 1) {
            pqxx::nontransaction tx(session.connection());
            const pqxx::result written = [&] {
                try {
                    return writeOne(tx, records[0]);
                } catch (const pqxx::broken_connection& e) {
                    throw ChangeInDoubt{firstLine(e.what())};
                }
            }();
            if (written.empty()) return {0, conflict(tx, records[0])};
            return {static_cast<std::uint64_t>(written[0][0].as<std::int64_t>()), ""};
        }
        pqxx::work tx(session.connection());
        std::uint64_t last = 0;
        for (const PendingRecord& r : records) {
            const pqxx::result written = writeOne(tx, r);
            if (written.empty()) {
                std::string message = conflict(tx, r);
                tx.abort();
                return {0, std::move(message)};
            }
            last = static_cast<std::uint64_t>(written[0][0].as<std::int64_t>());
        }
        tx.commit();
        return {last, ""};
    } catch (const pqxx::sql_error& e) {
        // 42P01: the table, or the version sequence, was dropped by hand.
        if (!undefinedTable(e.sqlstate())) throw;
        t.created = false;
        catalogReady_ = false;
        throw TableMissing{};
    }
}

// --- erase ------------------------------------------------------------------

void PostgresStore::erase(std::string_view database, std::string_view table, std::string_view key,
                          driver::Done& done) {
    std::string db = effectiveDatabase(database);
    std::string tbl = effectiveTable(table);
    checkName("database", db);
    checkName("table", tbl);
    if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    if (key.size() > kMaxKeyBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(key.size()) +
                                                " bytes exceeds the " +
                                                std::to_string(kMaxKeyBytes) + "-byte key limit");
    }
    dispatch(done, [this, db = std::move(db), tbl = std::move(tbl), k = std::string(key)](
                       driver::Done& d, Borrowed& lease) { eraseNow(db, tbl, k, d, lease); });
}

void PostgresStore::eraseNow(const std::string& database, const std::string& tableName,
                             const std::string& key, driver::Done& done, Borrowed& lease) {
    const bool erased = withSession(lease, [&](Session& session) {
        Table& t = table(database, tableName, session);
        const std::string remove = t.statementPrefix + "del";
        session.prepare(remove, [&] { return sql::eraseKey(t.qualified); });
        const std::int64_t now = unixNowMs();
        try {
            // One statement: atomic on its own, no transaction needed.
            pqxx::nontransaction tx(session.connection());
            const pqxx::result r = [&] {
                try {
                    return tx.exec_prepared(remove, bytes(key));
                } catch (const pqxx::broken_connection& e) {
                    throw ChangeInDoubt{firstLine(e.what())};
                }
            }();
            // An expired record is removed too, but it was already gone.
            return !r.empty() && liveAt(r[0][0].as<std::int64_t>(), now);
        } catch (const pqxx::sql_error& e) {
            if (undefinedTable(e.sqlstate())) return false;  // never written
            throw;
        }
    });
    if (erased) {
        done.ok();
    } else {
        done.fail(Code::kNotFound,
                  "no record '" + printable(key) + "' in " + database + "/" + tableName);
    }
}

// --- sweeper ----------------------------------------------------------------

void PostgresStore::sweepLoop() noexcept {
    for (;;) {
        {
            std::unique_lock lock(sweepMutex_);
            if (sweepWake_.wait_for(lock, sweepInterval_, [&] { return sweepStop_; })) return;
        }
        try {
            sweepOnce();
        } catch (const Error& e) {
            // While the server is down every round fails the same way: the
            // calls report it; the sweeper only notes it.
            log(e.code() == Code::kUnavailable ? MICRO_LOG_DEBUG : MICRO_LOG_WARN,
                std::string("sweep: ") + e.what());
        } catch (const std::exception& e) {
            log(MICRO_LOG_WARN, std::string("sweep: ") + e.what());
        } catch (...) {
            log(MICRO_LOG_WARN, "sweep: unknown exception");
        }
    }
}

void PostgresStore::sweepOnce() {
    using Names = std::vector<std::pair<std::string, std::string>>;
    const Names names = withSession([&](Session& session) {
        Names out;
        session.prepare("micro_list", [] { return sql::listTables(); });
        try {
            pqxx::nontransaction tx(session.connection());
            for (const auto& row : tx.exec_prepared("micro_list")) {
                out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
            }
        } catch (const pqxx::sql_error& e) {
            if (!undefinedTable(e.sqlstate())) throw;
        }
        return out;
    });
    for (const auto& [database, name] : names) {
        {
            std::lock_guard lock(sweepMutex_);
            if (sweepStop_) return;
        }
        if (!validName(database) || !validName(name)) continue;  // not one of ours
        const std::int64_t deleted = withSession([&](Session& session) -> std::int64_t {
            Table& t = table(database, name, session);
            const std::string probe = t.statementPrefix + "probe";
            const std::string sweep = t.statementPrefix + "sweep";
            session.prepare(probe, [&] { return sql::probeExpired(t.qualified); });
            session.prepare(sweep, [&] { return sql::deleteExpired(t.qualified); });
            const std::int64_t now = unixNowMs();
            try {
                // Most rounds find nothing: look before deleting. The DELETE
                // checks expiry again on each row it locks, so a record
                // rewritten meanwhile (live again) stays.
                pqxx::nontransaction tx(session.connection());
                if (tx.exec_prepared(probe, now).empty()) return 0;
                const pqxx::result r = tx.exec_prepared(sweep, now);
                return static_cast<std::int64_t>(r.affected_rows());
            } catch (const pqxx::sql_error& e) {
                if (undefinedTable(e.sqlstate())) return 0;
                throw;
            }
        });
        if (deleted > 0) {
            log(MICRO_LOG_DEBUG, "sweep: deleted " + std::to_string(deleted) +
                                     " expired records from " + database + "/" + name);
        }
    }
}

}  // namespace micro::postgres
