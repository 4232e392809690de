#include "redis_store.hpp"

#include <micro/error.hpp>

#include <array>
#include <limits>
#include <new>
#include <vector>

#include "printable.hpp"
#include "record_codec.hpp"

namespace micro::redis {

namespace {

constexpr std::size_t kMaxNameBytes = 128;
constexpr std::size_t kPageMembers = 256;
constexpr std::size_t kPageBytes = 8u << 20;  // a page stops once its records pass this

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

// 0 never expires; a time at or before the epoch is simply past.
std::string expiryArg(std::int64_t expiryUnixMs) {
    return std::to_string(expiryUnixMs == 0 ? 0 : expiryUnixMs < 0 ? 1 : expiryUnixMs);
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
      pool_(settings_.connect, settings_.poolSize),
      workers_(settings_.poolSize) {
    ctx.log(MICRO_LOG_INFO, "redis store at " + settings_.connect.url.redacted() + ", pool_size " +
                                std::to_string(settings_.poolSize) + " (connects on first use)");
}

std::string RedisStore::resolve(std::string_view name, const std::string& fallback,
                                std::string_view what) const {
    if (name.empty()) return fallback;
    if (name.size() > kMaxNameBytes) {
        throw Error(Code::kInvalidArgument, std::string(what) + " name '" + printable(name) +
                                                "' is " + std::to_string(name.size()) +
                                                " bytes: at most " + std::to_string(kMaxNameBytes));
    }
    return std::string(name);
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

}  // namespace

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
    Query q;
    q.database = resolve(query.database, settings_.defaultDatabase, "database");
    q.table = resolve(query.table, settings_.defaultTable, "table");
    if (query.key.size() > settings_.maxValueBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(query.key.size()) +
                                                " bytes exceeds max_value_bytes (" +
                                                std::to_string(settings_.maxValueBytes) + ")");
    }
    q.key = query.key;
    q.flags = query.flags;
    q.limit = query.limit;
    q.offset = query.offset;
    run(done, [this, q = std::move(q), out](Borrowed& lease, driver::Done& d) mutable {
        if ((q.flags & (MICRO_STORE_PREFIX | MICRO_STORE_SUFFIX)) == 0) {
            readExact(q, lease, out, d);
        } else {
            readRange(q, lease, out, d);
        }
    });
}

void RedisStore::readExact(const Query& query, Borrowed& lease, driver::RecordSink& out,
                           driver::Done& done) {
    const bool keysOnly = (query.flags & MICRO_STORE_KEYS_ONLY) != 0;
    const std::string recordKey = TableKeys::recordKey(query.database, query.table, query.key);
    const std::string_view all[] = {"HMGET", recordKey, "e", "n", "v", "m"};
    // The connection goes back before the sink runs.
    const Reply reply = exchange(
        lease, [&](Connection& c) { return c.command(std::span(all, keysOnly ? 4 : 6), "read"); });
    const Where where{query.database, query.table};
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != (keysOnly ? 2u : 4u)) {
        malformed(pool_.endpoint(), "read: unexpected reply to HMGET");
    }
    if (reply->element[1]->type == REDIS_REPLY_NIL) {
        done.fail(Code::kNotFound, "no record '" + printable(query.key) + "' in " +
                                       describe(query.database, query.table));
        return;
    }
    if (query.offset == 0) {
        Fields f{query.key, reply->element[0], reply->element[1],
                 keysOnly ? nullptr : reply->element[2], keysOnly ? nullptr : reply->element[3]};
        std::vector<micro_kv> scratch;
        emitRecord(f, pool_.endpoint(), where, out, scratch);
    }
    done.ok();
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
    const std::string db = resolve(database, settings_.defaultDatabase, "database");
    const std::string tb = resolve(table, settings_.defaultTable, "table");
    const std::uint64_t max = settings_.maxValueBytes;
    const std::string limit = " exceeds max_value_bytes (" + std::to_string(max) + ")";
    auto which = [&](std::size_t i) {
        return records.size() == 1 ? std::string()
                                   : " (record " + std::to_string(i) + " of the batch)";
    };
    // Check everything before copying anything: a 100 MiB value is refused
    // without being copied or sent.
    for (std::size_t i = 0; i < records.size(); ++i) {
        const micro_record& r = records[i];
        if (r.key.size == 0) throw Error(Code::kInvalidArgument, "empty key" + which(i));
        const std::string key = printable(abi::view(r.key));
        if (r.key.size > max) {
            throw Error(Code::kInvalidArgument,
                        "key of " + std::to_string(r.key.size) + " bytes" + limit + which(i));
        }
        if (r.value.size > max) {
            throw Error(Code::kInvalidArgument, "value of " + std::to_string(r.value.size) +
                                                    " bytes" + limit + " for key '" + key + "'" +
                                                    which(i));
        }
        const std::size_t meta = encodedMetadataSize(abi::view(r.metadata, r.metadata_count));
        if (meta > max) {
            throw Error(Code::kInvalidArgument, "metadata of " + std::to_string(meta) + " bytes" +
                                                    limit + " for key '" + key + "'" + which(i));
        }
    }

    const TableKeys keys(db, tb);
    if (records.size() == 1 && records[0].version == MICRO_VERSION_ANY) {
        writeOne(keys, records[0], done);
        return;
    }
    std::vector<std::string> keyArgs;
    keyArgs.reserve(3 + records.size());
    keyArgs.push_back(keys.versions());
    keyArgs.push_back(keys.index());
    keyArgs.push_back(keys.expiries());
    std::vector<std::string> args;
    args.reserve(2 + 5 * records.size());
    args.push_back(std::to_string(records.size()));
    args.push_back(keys.recordPrefix());
    for (const micro_record& r : records) {
        const std::string_view key = abi::view(r.key);
        keyArgs.push_back(keys.record(key));
        args.emplace_back(key);
        args.push_back(r.version == MICRO_VERSION_ANY      ? std::string()
                       : r.version == MICRO_VERSION_ABSENT ? std::string("-")
                                                           : std::to_string(r.version));
        args.emplace_back(abi::view(r.value));
        args.push_back(encodeMetadata(abi::view(r.metadata, r.metadata_count)));
        args.push_back(expiryArg(r.expiry_unix_ms));
    }

    run(done, [this, db, tb, keyArgs = std::move(keyArgs), args = std::move(args)](
                  Borrowed& lease, driver::Done& d) {
        // The connection goes back before the completion runs.
        const Reply reply = exchange(lease, [&](Connection& c) {
            try {
                return c.eval(ScriptId::kWrite, keyArgs, args, "write");
            } catch (const Error& e) {
                if (e.code() != Code::kUnavailable) throw;
                throw Error(e.code(), std::string(e.what()) +
                                          " (the write may or may not have been applied)");
            }
        });
        const redisReply& r = *reply;
        if (r.type != REDIS_REPLY_ARRAY || r.elements < 2 ||
            r.element[0]->type != REDIS_REPLY_INTEGER ||
            r.element[1]->type != REDIS_REPLY_INTEGER) {
            malformed(pool_.endpoint(), "write: unexpected reply from the write script");
        }
        if (r.element[0]->integer == 1) {
            d.ok(static_cast<std::uint64_t>(r.element[1]->integer));
            return;
        }
        // A compare-and-set failed: element 1 is the 1-based record, 2 what it found.
        const auto index = static_cast<std::size_t>(r.element[1]->integer) - 1;
        if (r.elements < 3 || index >= keyArgs.size() - 3 ||
            r.element[2]->type != REDIS_REPLY_STRING) {
            malformed(pool_.endpoint(), "write: unexpected reply from the write script");
        }
        const std::string& expected = args[2 + index * 5 + 2];
        const std::string_view found = text(*r.element[2]);
        std::string message = "version conflict on key '" + printable(args[2 + index * 5 + 1]) +
                              "' in " + describe(db, tb) + ": expected " +
                              (expected == "-" ? std::string("absent") : expected) + ", found " +
                              (found.empty() ? std::string("absent") : std::string(found));
        if (keyArgs.size() > 4) message += " (record " + std::to_string(index) + " of the batch)";
        d.fail(Code::kAborted, message);
    });
}

void RedisStore::writeOne(const TableKeys& keys, const micro_record& record, driver::Done& done) {
    const std::string_view key = abi::view(record.key);
    std::array<std::string, 4> keyArgs{keys.versions(), keys.index(), keys.expiries(),
                                       keys.record(key)};
    std::array<std::string, 5> args{
        std::string(key), keys.recordPrefix(), std::string(abi::view(record.value)),
        encodeMetadata(abi::view(record.metadata, record.metadata_count)),
        expiryArg(record.expiry_unix_ms)};
    run(done, [this, keyArgs = std::move(keyArgs), args = std::move(args)](Borrowed& lease,
                                                                           driver::Done& d) {
        // The connection goes back before the completion runs.
        const Reply reply = exchange(lease, [&](Connection& c) {
            try {
                return c.eval(ScriptId::kPut, keyArgs, args, "write");
            } catch (const Error& e) {
                if (e.code() != Code::kUnavailable) throw;
                throw Error(e.code(), std::string(e.what()) +
                                          " (the write may or may not have been applied)");
            }
        });
        if (reply->type != REDIS_REPLY_INTEGER || reply->integer <= 0) {
            malformed(pool_.endpoint(), "write: unexpected reply from the put script");
        }
        d.ok(static_cast<std::uint64_t>(reply->integer));
    });
}

void RedisStore::erase(std::string_view database, std::string_view table, std::string_view key,
                       driver::Done& done) {
    if (key.empty()) throw Error(Code::kInvalidArgument, "empty key");
    const std::string db = resolve(database, settings_.defaultDatabase, "database");
    const std::string tb = resolve(table, settings_.defaultTable, "table");
    if (key.size() > settings_.maxValueBytes) {
        throw Error(Code::kInvalidArgument, "key of " + std::to_string(key.size()) +
                                                " bytes exceeds max_value_bytes (" +
                                                std::to_string(settings_.maxValueBytes) + ")");
    }
    const TableKeys keys(db, tb);
    std::vector<std::string> keyArgs{keys.record(key), keys.index(), keys.expiries()};
    std::vector<std::string> args{std::string(key)};
    run(done, [this, db, tb, keyArgs = std::move(keyArgs), args = std::move(args)](
                  Borrowed& lease, driver::Done& d) {
        const Reply reply = exchange(
            lease, [&](Connection& c) { return c.eval(ScriptId::kErase, keyArgs, args, "erase"); });
        if (reply->type != REDIS_REPLY_INTEGER) {
            malformed(pool_.endpoint(), "erase: unexpected reply from the erase script");
        }
        if (reply->integer == 1) {
            d.ok();
        } else {
            d.fail(Code::kNotFound,
                   "no record '" + printable(args[0]) + "' in " + describe(db, tb));
        }
    });
}

}  // namespace micro::redis
