#include "redis_store.hpp"

#include <micro/error.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <limits>
#include <new>
#include <vector>

#include "printable.hpp"
#include "record_codec.hpp"
#include "resp_writer.hpp"
#include "scripts.hpp"
#include "sigpipe.hpp"

namespace micro::redis {

namespace {

constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kPageMembers = 256;
constexpr std::size_t kPageBytes = 8u << 20;  // a page stops once its records pass this
// Pipelined connections. One keeps Redis's single thread busy, since its
// leader sends each batch before completing the previous one; more lanes
// made smaller batches and more thread hand-offs, and measured slower at
// every concurrency (docs/benchmarks.md).
constexpr std::size_t kLanes = 1;

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

std::string describe(std::string_view database, std::string_view table) {
    std::string out(1, '\'');
    out += printable(database);
    out += '/';
    out += printable(table);
    out += '\'';
    return out;
}

std::string_view text(const redisReply& r) noexcept {
    return r.str == nullptr ? std::string_view{} : std::string_view(r.str, r.len);
}

[[noreturn]] void malformed(const std::string& endpoint, std::string_view what) {
    throw Error(Code::kDataLoss, "redis " + endpoint + ": " + std::string(what));
}

/// One record as a reply holds it: views into the reply.
struct Fields {
    std::string_view key;
    const redisReply* expiry = nullptr;
    const redisReply* version = nullptr;
    const redisReply* value = nullptr;     // null when keys only
    const redisReply* metadata = nullptr;  // null when keys only
};

/// Decode and emit one record; DATA_LOSS naming it when a field is bad.
/// The table as messages name it: "database/table", built only on failure.
struct Where {
    std::string_view database;
    std::string_view table;
};

void emitRecord(const Fields& f, const std::string& endpoint, const Where& where,
                driver::RecordSink& out, std::vector<micro_kv>& scratch) {
    auto fail = [&](std::string_view field) {
        malformed(endpoint, "record '" + printable(f.key) + "' in " +
                                describe(where.database, where.table) + " has a malformed " +
                                std::string(field) + " field");
    };
    auto isString = [](const redisReply* r) {
        return r != nullptr && r->type == REDIS_REPLY_STRING;
    };
    if (!isString(f.version)) fail("version");
    std::optional<std::uint64_t> version = parseVersion(text(*f.version));
    if (!version) fail("version");
    std::optional<std::int64_t> expiry =
        isString(f.expiry) ? parseExpiry(text(*f.expiry)) : std::optional<std::int64_t>(0);
    if (!expiry) fail("expiry");
    if (f.value == nullptr) {
        out.emit(f.key, {}, {}, *expiry, *version);
        return;
    }
    std::string_view value = isString(f.value) ? text(*f.value) : std::string_view{};
    std::string_view metadata = isString(f.metadata) ? text(*f.metadata) : std::string_view{};
    if (!decodeMetadata(metadata, scratch)) fail("metadata");
    out.emit(f.key, value, scratch, *expiry, *version);
}

}  // namespace

RedisStore::Settings RedisStore::parse(const driver::Config& config) {
    config.allowOnly({"url", "pool_size", "connect_timeout_ms", "command_timeout_ms", "database",
                      "table", "max_value_bytes"});
    Settings s;
    s.connect.url = parseRedisUrl(config.getString("url", "redis://127.0.0.1:6379/0"));
    s.poolSize = static_cast<std::size_t>(boundedInt(config, "pool_size", 4, 1, 256));
    s.connect.connectTimeout =
        std::chrono::milliseconds(boundedInt(config, "connect_timeout_ms", 1000, 1, 600'000));
    s.connect.commandTimeout =
        std::chrono::milliseconds(boundedInt(config, "command_timeout_ms", 2000, 1, 600'000));
    s.maxValueBytes = static_cast<std::uint64_t>(
        boundedInt(config, "max_value_bytes", 4 << 20, 1, std::int64_t{512} << 20));
    s.defaultDatabase = config.getString("database", "micro");
    s.defaultTable = config.getString("table", "micro");
    for (auto [key, value] :
         {std::pair<std::string_view, const std::string*>{"database", &s.defaultDatabase},
          {"table", &s.defaultTable}}) {
        if (value->empty() || value->size() > kMaxNameBytes) {
            throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be 1 to " +
                                                    std::to_string(kMaxNameBytes) + " bytes");
        }
    }
    return s;
}

RedisStore::RedisStore(const driver::Context& ctx)
    : settings_(parse(ctx.config)),
      lanes_(std::min(settings_.poolSize, kLanes)),
      pool_(settings_.connect, settings_.poolSize + lanes_),
      pipeline_(pool_, workers_, lanes_, settings_.connect.commandTimeout),
      workers_(settings_.poolSize + lanes_, blockSigpipeInThisThread) {
    ctx.log(MICRO_LOG_INFO, "redis store at " + settings_.connect.url.redacted() + ", pool_size " +
                                std::to_string(settings_.poolSize) + " (connects on first use)");
}

std::string_view RedisStore::resolve(std::string_view name, const std::string& fallback,
                                     std::string_view what) const {
    if (name.empty()) return fallback;
    if (name.size() > kMaxNameBytes) {
        throw Error(Code::kInvalidArgument, std::string(what) + " name '" + printable(name) +
                                                "' is " + std::to_string(name.size()) +
                                                " bytes: at most " + std::to_string(kMaxNameBytes));
    }
    return name;
}

namespace {

/// Run `f`; an exception completes `done` with its code instead.
template <typename F>
void completing(driver::Done& done, F&& f) noexcept {
    try {
        f();
    } catch (const Error& e) {
        done.fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        done.fail(Code::kResourceExhausted, "out of memory");
    } catch (const std::exception& e) {
        done.fail(Code::kInternal, e.what());
    } catch (...) {
        done.fail(Code::kInternal, "unknown exception");
    }
}

/// Writes one key argument: the table's base, then `suffix` (and `key`).
void keyArg(RespWriter& w, const TableBase& base, std::string_view suffix,
            std::string_view key = {}) {
    w.header(base.size() + suffix.size() + key.size());
    base.write([&](std::string_view piece) { w.raw(piece); });
    w.raw(suffix);
    w.raw(key);
    w.end();
}

/// Starts an EVALSHA of `id` with `argc` arguments in all, and records
/// where the digest ends (for a NOSCRIPT retry).
void evalsha(RespWriter& w, PipelinedOp& op, ScriptId id, std::size_t argc, std::size_t numkeys) {
    op.script = id;
    op.argc = argc;
    w.array(argc);
    w.bulk("EVALSHA");
    w.bulk(scriptDigest(id));
    op.afterDigest = w.written();
    w.bulk(static_cast<std::int64_t>(numkeys));
}

// 0 never expires; a time at or before the epoch is simply past.
std::int64_t expiryOf(std::int64_t expiryUnixMs) noexcept {
    return expiryUnixMs == 0 ? 0 : expiryUnixMs < 0 ? 1 : expiryUnixMs;
}

}  // namespace

struct RedisStore::Op final : PipelinedOp {
    explicit Op(RedisStore& s) : store(s) {}
    void complete() noexcept override { store.complete(*this); }

    enum class Kind { kRead, kPut, kWrite, kErase };
    RedisStore& store;
    std::size_t shard = 0;  // the free list it goes back to
    Kind kind = Kind::kRead;
    std::optional<driver::Done> done;
    std::optional<driver::RecordSink> sink;  // kRead
    // The resolved names and the key, for the record and for messages.
    std::string database;
    std::string table;
    std::string key;
    bool keysOnly = false;              // kRead
    bool emit = true;                   // kRead: false with an offset, which skips the one record
    std::size_t records = 0;            // kWrite
    std::vector<std::string> keys;      // kWrite: each record's key
    std::vector<std::string> expected;  // kWrite: "" any, "-" absent, else the version
    std::vector<std::string> metadata;  // kWrite, kPut ([0]): encoded
    std::vector<micro_kv> scratch;      // kRead: decoded metadata
};

template <typename Fill>
RedisStore::Op& RedisStore::startOp(std::string_view what, bool write, std::string_view database,
                                    std::string_view table, Fill&& fill) {
    Op& op = acquire();
    try {
        op.what = what;
        op.write = write;
        op.database.assign(database);
        op.table.assign(table);
        fill(op);
    } catch (...) {
        recycle(op);
        throw;
    }
    return op;
}

RedisStore::~RedisStore() = default;

namespace {
// This thread's shard of the free ops: threads are spread over the shards
// in the order they first call.
std::size_t shardOfThisThread(std::size_t shards) noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
    return mine % shards;
}
}  // namespace

RedisStore::Op& RedisStore::acquire() {
    const std::size_t shard = shardOfThisThread(kFreeShards);
    FreeOps& f = free_[shard];
    std::unique_ptr<Op> op;
    {
        std::lock_guard lock(f.mutex);
        if (!f.ops.empty()) {
            op = std::move(f.ops.back());
            f.ops.pop_back();
        }
    }
    if (!op) op = std::make_unique<Op>(*this);
    op->shard = shard;
    // In flight, the op is owned by the call: recycle() takes it back.
    return *op.release();
}

void RedisStore::recycle(Op& op) noexcept {
    std::unique_ptr<Op> owned(&op);
    owned->reply.reset();
    owned->done.reset();
    owned->sink.reset();
    FreeOps& f = free_[owned->shard];
    try {
        std::lock_guard lock(f.mutex);
        f.ops.push_back(std::move(owned));
    } catch (...) {
        // out of memory: the op is freed instead of kept
    }
}

template <typename Fill>
void RedisStore::dispatch(Op& op, Fill&& fill) {
    try {
        if (workers_.onWorkerThread()) {
            // A call from a completion or sink that a worker runs: on its
            // own connection, never behind a lane that worker may be leading.
            pipeline_.runDirect(op, fill);
        } else {
            pipeline_.submit(op, fill);
        }
    } catch (...) {
        // Out of memory while queueing: nothing was sent.
        op.reply.reset();
        op.code = Code::kResourceExhausted;
        op.message = "out of memory";  // short enough to need no allocation
        complete(op);
    }
}

void RedisStore::complete(Op& op) noexcept {
    driver::Done done = std::move(*op.done);
    op.done.reset();
    completing(done, [&] { finish(op, done); });
    recycle(op);
}

void RedisStore::finish(Op& op, driver::Done& done) {
    if (op.code != Code::kOk) {
        done.fail(op.code, op.message);
        return;
    }
    const redisReply& r = *op.reply;
    if (r.type == REDIS_REPLY_ERROR) {
        std::string what(op.what);
        if (op.script) what += " (script " + std::string(scriptName(*op.script)) + ")";
        throwServerError(pool_.endpoint(), what, text(r));
    }
    const Where where{op.database, op.table};
    switch (op.kind) {
        case Op::Kind::kRead: {
            if (r.type != REDIS_REPLY_ARRAY || r.elements != (op.keysOnly ? 2u : 4u)) {
                malformed(pool_.endpoint(), "read: unexpected reply to HMGET");
            }
            if (r.element[1]->type == REDIS_REPLY_NIL) {
                done.fail(Code::kNotFound, "no record '" + printable(op.key) + "' in " +
                                               describe(op.database, op.table));
                return;
            }
            if (op.emit) {
                Fields f{op.key, r.element[0], r.element[1], op.keysOnly ? nullptr : r.element[2],
                         op.keysOnly ? nullptr : r.element[3]};
                emitRecord(f, pool_.endpoint(), where, *op.sink, op.scratch);
            }
            done.ok();
            return;
        }
        case Op::Kind::kPut:
            if (r.type != REDIS_REPLY_INTEGER || r.integer <= 0) {
                malformed(pool_.endpoint(), "write: unexpected reply from the put script");
            }
            done.ok(static_cast<std::uint64_t>(r.integer));
            return;
        case Op::Kind::kWrite: {
            if (r.type != REDIS_REPLY_ARRAY || r.elements < 2 ||
                r.element[0]->type != REDIS_REPLY_INTEGER ||
                r.element[1]->type != REDIS_REPLY_INTEGER) {
                malformed(pool_.endpoint(), "write: unexpected reply from the write script");
            }
            if (r.element[0]->integer == 1) {
                done.ok(static_cast<std::uint64_t>(r.element[1]->integer));
                return;
            }
            // A compare-and-set failed: element 1 is the 1-based record, 2
            // what it found.
            const auto index = static_cast<std::size_t>(r.element[1]->integer) - 1;
            if (r.elements < 3 || index >= op.records || r.element[2]->type != REDIS_REPLY_STRING) {
                malformed(pool_.endpoint(), "write: unexpected reply from the write script");
            }
            const std::string& expected = op.expected[index];
            const std::string_view found = text(*r.element[2]);
            std::string message = "version conflict on key '" + printable(op.keys[index]) +
                                  "' in " + describe(op.database, op.table) + ": expected " +
                                  (expected == "-" ? std::string("absent") : expected) +
                                  ", found " +
                                  (found.empty() ? std::string("absent") : std::string(found));
            if (op.records > 1) message += " (record " + std::to_string(index) + " of the batch)";
            done.fail(Code::kAborted, message);
            return;
        }
        case Op::Kind::kErase:
            if (r.type != REDIS_REPLY_INTEGER) {
                malformed(pool_.endpoint(), "erase: unexpected reply from the erase script");
            }
            if (r.integer == 1) {
                done.ok();
            } else {
                done.fail(Code::kNotFound, "no record '" + printable(op.key) + "' in " +
                                               describe(op.database, op.table));
            }
            return;
    }
}

template <typename Body>
void RedisStore::run(driver::Done& done, Body body) {
    if (!workers_.onWorkerThread()) {
        // An idle connection means no wait: the round trip on this thread
        // costs less than two thread wake-ups.
        Borrowed lease = pool_.tryBorrow();
        if (lease) {
            completing(done, [&] { body(lease, done); });
            return;
        }
    }
    const auto queued = std::chrono::steady_clock::now();
    workers_.submit(Task([this, queued, done = std::move(done), body = std::move(body)]() mutable {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - queued);
        if (waited > settings_.connect.commandTimeout) {
            done.fail(Code::kUnavailable,
                      "redis " + pool_.endpoint() + ": the call waited " +
                          std::to_string(waited.count()) + " ms for a worker, over " +
                          "command_timeout_ms (" +
                          std::to_string(settings_.connect.commandTimeout.count()) +
                          " ms); nothing was sent");
            return;
        }
        Borrowed lease;
        completing(done, [&] { body(lease, done); });
    }));
}

template <typename Fn>
Reply RedisStore::exchange(Borrowed& lease, Fn&& fn) {
    const ScopedSigpipeBlock noSigpipe;
    if (!lease) lease.emplace(pool_.borrow());
    Reply reply = fn(**lease);
    lease.reset();
    return reply;
}

void RedisStore::read(const driver::StoreQuery& query, driver::RecordSink& out,
                      driver::Done& done) {
    if (query.exact() && query.key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    const std::string_view db = resolve(query.database, settings_.defaultDatabase, "database");
    const std::string_view tb = resolve(query.table, settings_.defaultTable, "table");
    if (query.key.size() > settings_.maxValueBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(query.key.size()) +
                                                " bytes exceeds max_value_bytes (" +
                                                std::to_string(settings_.maxValueBytes) + ")");
    }
    if ((query.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) != 0) {
        Query q;
        q.database = db;
        q.table = tb;
        q.key = query.key;
        q.flags = query.flags;
        q.limit = query.limit;
        q.offset = query.offset;
        run(done, [this, q = std::move(q), out](Borrowed& lease, driver::Done& d) mutable {
            readRange(q, lease, out, d);
        });
        return;
    }
    // An exact key: one HMGET, pipelined.
    Op& op = startOp("read", false, db, tb, [&](Op& o) {
        o.kind = Op::Kind::kRead;
        o.script.reset();
        o.key.assign(query.key);
        o.keysOnly = (query.flags & MICRO_STORE_KEYS_ONLY) != 0;
        o.emit = query.offset == 0;
    });
    op.sink.emplace(out);
    op.done.emplace(std::move(done));
    dispatch(op, [&](RespWriter& w) {
        w.array(op.keysOnly ? 4 : 6);
        w.bulk("HMGET");
        keyArg(w, TableBase(op.database, op.table), "r:", op.key);
        w.bulk("e");
        w.bulk("n");
        if (!op.keysOnly) {
            w.bulk("v");
            w.bulk("m");
        }
    });
}

void RedisStore::readRange(const Query& query, Borrowed& lease, driver::RecordSink& out,
                           driver::Done& done) {
    const TableKeys keys(query.database, query.table);
    const bool prefix = (query.flags & MICRO_STORE_PREFIX) != 0;
    const bool suffix = (query.flags & MICRO_STORE_SUFFIX) != 0;
    const bool keysOnly = (query.flags & MICRO_STORE_KEYS_ONLY) != 0;
    const Where where{query.database, query.table};
    const std::string indexes[] = {keys.index(), keys.expiries()};
    std::string min = prefix ? lexMin(query.key) : "-";
    const std::string max = prefix ? lexMax(query.key) : "+";

    std::uint64_t toSkip = query.offset;
    std::uint64_t emitted = 0;
    std::vector<micro_kv> scratch;
    for (;;) {
        const std::uint64_t take = query.limit == 0 ? 0 : query.limit - emitted;
        const std::string args[] = {keys.recordPrefix(),
                                    min,
                                    max,
                                    std::to_string(kPageMembers),
                                    suffix ? query.key : std::string(),
                                    std::to_string(toSkip),
                                    std::to_string(take),
                                    keysOnly ? "1" : "0",
                                    std::to_string(kPageBytes)};
        // The connection goes back before the sink runs; a later page
        // borrows again.
        const Reply page = exchange(
            lease, [&](Connection& c) { return c.eval(ScriptId::kRange, indexes, args, "read"); });
        if (page->type != REDIS_REPLY_ARRAY || page->elements != 4 ||
            page->element[0]->type != REDIS_REPLY_INTEGER ||
            page->element[1]->type != REDIS_REPLY_STRING ||
            page->element[2]->type != REDIS_REPLY_INTEGER ||
            page->element[3]->type != REDIS_REPLY_ARRAY) {
            malformed(pool_.endpoint(), "read: unexpected reply from the range script");
        }
        const bool exhausted = page->element[0]->integer != 0;
        const std::string_view last = text(*page->element[1]);
        toSkip -= std::min<std::uint64_t>(
            toSkip, static_cast<std::uint64_t>(std::max<long long>(0, page->element[2]->integer)));
        const redisReply& entries = *page->element[3];
        const std::size_t stride = keysOnly ? 3 : 5;
        if (entries.elements % stride != 0) {
            malformed(pool_.endpoint(), "read: unexpected reply from the range script");
        }
        for (std::size_t i = 0; i < entries.elements; i += stride) {
            const redisReply* const* e = entries.element + i;
            if (e[0]->type != REDIS_REPLY_STRING) {
                malformed(pool_.endpoint(), "read: unexpected reply from the range script");
            }
            Fields f{text(*e[0]), e[1], e[2], keysOnly ? nullptr : e[3], keysOnly ? nullptr : e[4]};
            emitRecord(f, pool_.endpoint(), where, out, scratch);
            ++emitted;
        }
        if (exhausted || (query.limit != 0 && emitted >= query.limit)) break;
        if (last.empty()) malformed(pool_.endpoint(), "read: the range script made no progress");
        min.assign(1, '(');
        min += last;
    }
    done.ok();
}

void RedisStore::write(std::string_view database, std::string_view table,
                       const driver::RecordBatch& records, driver::Done& done) {
    if (records.empty()) {
        done.ok(0);
        return;
    }
    const std::string_view db = resolve(database, settings_.defaultDatabase, "database");
    const std::string_view tb = resolve(table, settings_.defaultTable, "table");
    const std::uint64_t max = settings_.maxValueBytes;
    auto limit = [&] { return " exceeds max_value_bytes (" + std::to_string(max) + ")"; };
    auto which = [&](std::size_t i) {
        return records.size() == 1 ? std::string()
                                   : " (record " + std::to_string(i) + " of the batch)";
    };
    // Check everything before copying anything: a 100 MiB value is refused
    // without being copied or sent.
    for (std::size_t i = 0; i < records.size(); ++i) {
        const micro_record& r = records[i];
        if (r.key.size == 0) throw Error(Code::kInvalidArgument, "empty key" + which(i));
        auto key = [&] { return printable(abi::view(r.key)); };
        if (r.key.size > max) {
            throw Error(Code::kInvalidArgument,
                        "key of " + std::to_string(r.key.size) + " bytes" + limit() + which(i));
        }
        if (r.value.size > max) {
            throw Error(Code::kInvalidArgument, "value of " + std::to_string(r.value.size) +
                                                    " bytes" + limit() + " for key '" + key() +
                                                    "'" + which(i));
        }
        const std::size_t meta = encodedMetadataSize(abi::view(r.metadata, r.metadata_count));
        if (meta > max) {
            throw Error(Code::kInvalidArgument, "metadata of " + std::to_string(meta) + " bytes" +
                                                    limit() + " for key '" + key() + "'" +
                                                    which(i));
        }
    }

    if (records.size() == 1 && records[0].version == MICRO_VERSION_ANY) {
        writeOne(db, tb, records[0], done);
        return;
    }
    const std::size_t n = records.size();
    Op& op = startOp("write", true, db, tb, [&](Op& o) {
        o.kind = Op::Kind::kWrite;
        o.records = n;
        o.keys.resize(n);
        o.expected.resize(n);
        o.metadata.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const micro_record& r = records[i];
            o.keys[i].assign(abi::view(r.key));
            if (r.version == MICRO_VERSION_ANY) {
                o.expected[i].clear();
            } else if (r.version == MICRO_VERSION_ABSENT) {
                o.expected[i].assign("-");
            } else {
                o.expected[i] = std::to_string(r.version);
            }
            o.metadata[i] = encodeMetadata(abi::view(r.metadata, r.metadata_count));
        }
    });
    op.done.emplace(std::move(done));
    // KEYS: counter, index, expiry index, each record; ARGV: n, the record
    // prefix, then five per record (scripts.cpp, kWrite).
    dispatch(op, [&](RespWriter& w) {
        const TableBase base(op.database, op.table);
        const std::size_t numkeys = 3 + n;
        evalsha(w, op, ScriptId::kWrite, 3 + numkeys + 2 + 5 * n, numkeys);
        keyArg(w, base, "ver");
        keyArg(w, base, "idx");
        keyArg(w, base, "exp");
        for (std::size_t i = 0; i < n; ++i) keyArg(w, base, "r:", op.keys[i]);
        w.bulk(static_cast<std::int64_t>(n));
        keyArg(w, base, "r:");
        for (std::size_t i = 0; i < n; ++i) {
            w.bulk(op.keys[i]);
            w.bulk(op.expected[i]);
            w.bulk(abi::view(records[i].value));
            w.bulk(op.metadata[i]);
            w.bulk(expiryOf(records[i].expiry_unix_ms));
        }
    });
}

void RedisStore::writeOne(std::string_view database, std::string_view table,
                          const micro_record& record, driver::Done& done) {
    Op& op = startOp("write", true, database, table, [&](Op& o) {
        o.kind = Op::Kind::kPut;
        o.key.assign(abi::view(record.key));
        o.metadata.resize(1);
        o.metadata[0] = encodeMetadata(abi::view(record.metadata, record.metadata_count));
    });
    op.done.emplace(std::move(done));
    // KEYS: counter, index, expiry index, record; ARGV: member, record
    // prefix, value, metadata, expiry (scripts.cpp, kPut).
    dispatch(op, [&](RespWriter& w) {
        const TableBase base(op.database, op.table);
        evalsha(w, op, ScriptId::kPut, 3 + 4 + 5, 4);
        keyArg(w, base, "ver");
        keyArg(w, base, "idx");
        keyArg(w, base, "exp");
        keyArg(w, base, "r:", op.key);
        w.bulk(op.key);
        keyArg(w, base, "r:");
        w.bulk(abi::view(record.value));
        w.bulk(op.metadata[0]);
        w.bulk(expiryOf(record.expiry_unix_ms));
    });
}

void RedisStore::erase(std::string_view database, std::string_view table, std::string_view key,
                       driver::Done& done) {
    if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    const std::string_view db = resolve(database, settings_.defaultDatabase, "database");
    const std::string_view tb = resolve(table, settings_.defaultTable, "table");
    if (key.size() > settings_.maxValueBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(key.size()) +
                                                " bytes exceeds max_value_bytes (" +
                                                std::to_string(settings_.maxValueBytes) + ")");
    }
    Op& op = startOp("erase", true, db, tb, [&](Op& o) {
        o.kind = Op::Kind::kErase;
        o.key.assign(key);
    });
    op.done.emplace(std::move(done));
    // KEYS: record, index, expiry index; ARGV: member (scripts.cpp, kErase).
    dispatch(op, [&](RespWriter& w) {
        const TableBase base(op.database, op.table);
        evalsha(w, op, ScriptId::kErase, 3 + 3 + 1, 3);
        keyArg(w, base, "r:", op.key);
        keyArg(w, base, "idx");
        keyArg(w, base, "exp");
        w.bulk(op.key);
    });
}

}  // namespace micro::redis
