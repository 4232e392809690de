#include "read_pipeline.hpp"

#include <pqxx/except>

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "errors.hpp"
#include "sql.hpp"

namespace micro::postgres {
namespace {

constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
// As in connection_pool.cpp: a connection used this recently is taken as
// sound without a look at its socket.
constexpr auto kRecentlyUsed = std::chrono::milliseconds(100);

/// Wait until PQgetResult will not block, up to `deadline`; false (with
/// `why`) when the connection failed or nothing came in time.
bool ready(PGconn* c, std::chrono::steady_clock::time_point deadline,
           std::chrono::milliseconds timeout, std::string& why) {
    while (PQisBusy(c) != 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            why = "no reply within " + std::to_string(timeout.count()) + " ms";
            return false;
        }
        pollfd p{PQsocket(c), POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
        if (n < 0) {
            if (errno == EINTR) continue;
            why = std::string("poll: ") + std::strerror(errno);
            return false;
        }
        if (n > 0 && PQconsumeInput(c) == 0) {
            why = firstLine(PQerrorMessage(c));
            return false;
        }
    }
    return true;
}

}  // namespace

struct ReadPipeline::Lane {
    explicit Lane(const Options& o) : raw(o.conninfo, o.statementTimeoutMs, o.notice) {}
    std::mutex mutex;
    std::vector<Request*> queue;  // guarded by mutex
    bool active = false;          // someone leads; guarded by mutex
    std::atomic<bool> busy{false};
    // The leader's alone:
    RawConnection raw;
    std::vector<Request*> batch;
    std::vector<Request*> again;
    std::chrono::steady_clock::time_point usedAt{};
};

ReadPipeline::ReadPipeline(Options options) : options_(std::move(options)) {
    const std::size_t lanes = options_.lanes == 0 ? 1 : options_.lanes;
    for (std::size_t i = 0; i < lanes; ++i) lanes_.push_back(std::make_unique<Lane>(options_));
}

ReadPipeline::~ReadPipeline() = default;

ReadPipeline::Lane& ReadPipeline::pick() noexcept {
    // Threads spread over the lanes in the order they first read.
    static std::atomic<std::size_t> threads{0};
    thread_local const std::size_t home = threads.fetch_add(1, std::memory_order_relaxed);
    const std::size_t n = lanes_.size();
    for (std::size_t i = 0; i < n; ++i) {
        Lane& lane = *lanes_[(home + i) % n];
        if (!lane.busy.load(std::memory_order_relaxed)) return lane;
    }
    return *lanes_[home % n];
}

void ReadPipeline::finish(Request& request) noexcept {
    // Under the request's lock: its owner returns (and destroys it) only
    // after taking that lock, so nothing here touches a dead request.
    std::lock_guard lock(request.mutex_);
    request.state_ = Request::State::kDone;
    request.wake_.notify_one();
}

void ReadPipeline::run(Request& request) noexcept {
    Lane& lane = pick();
    bool leader = false;
    {
        std::lock_guard lock(lane.mutex);
        try {
            lane.queue.push_back(&request);
        } catch (...) {
            request.code = Code::kResourceExhausted;
            request.message = "out of memory";
            return;
        }
        if (!lane.active) {
            lane.active = true;
            lane.busy.store(true, std::memory_order_relaxed);
            leader = true;
        }
    }
    if (!leader) {
        std::unique_lock lock(request.mutex_);
        request.wake_.wait(lock, [&] { return request.state_ != Request::State::kQueued; });
        if (request.state_ == Request::State::kDone) return;
        request.state_ = Request::State::kQueued;  // handed the lane; still queued
    }
    lead(lane, request);
    // Synchronise with finish() on our own request before returning.
    std::lock_guard lock(request.mutex_);
}

void ReadPipeline::lead(Lane& lane, Request& self) noexcept {
    for (;;) {
        {
            std::lock_guard lock(lane.mutex);
            lane.batch.clear();
            lane.batch.swap(lane.queue);
        }
        lane.again.clear();
        if (!lane.batch.empty()) round(lane, lane.batch, lane.again);
        Request* next = nullptr;
        {
            std::lock_guard lock(lane.mutex);
            if (!lane.again.empty()) {
                try {
                    lane.queue.insert(lane.queue.begin(), lane.again.begin(), lane.again.end());
                } catch (...) {
                    for (Request* r : lane.again) {
                        r->code = Code::kResourceExhausted;
                        r->message = "out of memory";
                        finish(*r);
                    }
                }
            }
            bool selfDone = false;
            {
                std::lock_guard own(self.mutex_);
                selfDone = self.state_ == Request::State::kDone;
            }
            if (!selfDone) continue;  // sent again: lead another round
            if (lane.queue.empty()) {
                lane.active = false;
                lane.busy.store(false, std::memory_order_relaxed);
                return;
            }
            next = lane.queue.front();
        }
        std::lock_guard lock(next->mutex_);
        next->state_ = Request::State::kLead;
        next->wake_.notify_one();
        return;
    }
}

void ReadPipeline::broke(Lane& lane, const std::string& why, Request** pending, std::size_t count,
                         std::vector<Request*>& again) noexcept {
    lane.raw.reset();
    for (std::size_t i = 0; i < count; ++i) {
        if (pending[i] == nullptr) continue;
        Request& r = *pending[i];
        bool retry = ++r.attempts_ < 2;
        if (retry) {
            try {
                again.push_back(&r);
            } catch (...) {
                retry = false;
            }
        }
        if (!retry) {
            r.code = Code::kUnavailable;
            try {
                r.message = "postgres " + options_.label + ": " + why;
            } catch (...) {
            }
            finish(r);
        }
        pending[i] = nullptr;  // its owner has it back, or it is in `again`
    }
}

void ReadPipeline::round(Lane& lane, std::vector<Request*>& batch,
                         std::vector<Request*>& again) noexcept {
    // A request completed here may be gone the moment finish() returns: its
    // slot in `batch` is cleared at once, and nothing reads it after that.
    const auto done = [&](Request*& slot) {
        finish(*slot);
        slot = nullptr;
    };
    const auto fail = [&](Request*& slot, const Error& e) {
        slot->code = e.code();
        try {
            slot->message = e.what();
        } catch (...) {
        }
        done(slot);
    };
    const auto compact = [&] {
        batch.erase(std::remove(batch.begin(), batch.end(), nullptr), batch.end());
    };
    try {
        const auto now = std::chrono::steady_clock::now();
        if (now - lane.usedAt > kRecentlyUsed && !lane.raw.idleHealthy()) lane.raw.reset();
        lane.usedAt = now;
        PGconn* c = nullptr;
        try {
            c = lane.raw.get();
        } catch (const pqxx::sql_error& e) {
            lane.raw.reset();
            const Error error = translateSqlError(options_.label, e.sqlstate(), e.what(),
                                                  options_.statementTimeoutMs);
            for (Request*& slot : batch) fail(slot, error);
            return;
        } catch (const std::exception& e) {
            const Error error = connectError(options_.label, e.what());
            for (Request*& slot : batch) fail(slot, error);
            return;
        }

        // Statements this connection has not defined yet, outside pipeline
        // mode: a table that does not exist reads as nothing.
        for (Request*& slot : batch) {
            Request& r = *slot;
            if (lane.raw.prepared(*r.statement)) continue;
            static constexpr Oid kTypes[] = {kByteaOid, kInt8Oid};
            try {
                lane.raw.prepare(*r.statement, sql::readExact(*r.qualified, r.keysOnly), kTypes, 2);
            } catch (const pqxx::broken_connection& e) {
                compact();
                broke(lane, firstLine(e.what()), batch.data(), batch.size(), again);
                return;
            } catch (const pqxx::sql_error& e) {
                if (undefinedTable(e.sqlstate())) {
                    r.found = false;
                    done(slot);
                } else {
                    fail(slot, translateSqlError(options_.label, e.sqlstate(), e.what(),
                                                 options_.statementTimeoutMs));
                }
            }
        }
        compact();
        if (batch.empty()) return;

        // The batch: one Sync after the last statement, so it leaves in one
        // write and the server reads it in one.
        if (PQenterPipelineMode(c) != 1) {
            broke(lane, firstLine(PQerrorMessage(c)), batch.data(), batch.size(), again);
            return;
        }
        static constexpr int kBinary[] = {1, 1};
        for (Request* r : batch) {
            encodeInt8(r->nowMs, r->now_);
            const char* values[] = {r->key.data() != nullptr ? r->key.data() : "", r->now_};
            const int lengths[] = {static_cast<int>(r->key.size()), 8};
            if (PQsendQueryPrepared(c, r->statement->c_str(), 2, values, lengths, kBinary, 1) !=
                1) {
                broke(lane, firstLine(PQerrorMessage(c)), batch.data(), batch.size(), again);
                return;
            }
        }
        if (PQpipelineSync(c) != 1) {
            broke(lane, firstLine(PQerrorMessage(c)), batch.data(), batch.size(), again);
            return;
        }
        // The bound is on progress: each result must come within it.
        auto deadline = std::chrono::steady_clock::now() + options_.replyTimeout;
        std::string why;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Request*& slot = batch[i];
            Request& r = *slot;
            if (!ready(c, deadline, options_.replyTimeout, why)) {
                broke(lane, why, batch.data() + i, batch.size() - i, again);
                return;
            }
            const RawResult result(PQgetResult(c));
            if (!result) {
                broke(lane, firstLine(PQerrorMessage(c)), batch.data() + i, batch.size() - i,
                      again);
                return;
            }
            deadline = std::chrono::steady_clock::now() + options_.replyTimeout;
            const ExecStatusType status = PQresultStatus(result.get());
            if (status == PGRES_PIPELINE_ABORTED) {
                again.push_back(&r);  // an earlier statement failed: this one did not run
                slot = nullptr;
            } else if (status == PGRES_TUPLES_OK) {
                try {
                    r.found = exactRowFrom(result.get(), r.keysOnly, *r.row);
                    done(slot);
                } catch (const Error& e) {
                    fail(slot, e);
                }
            } else {
                const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
                const std::string_view sqlstate = state == nullptr ? "" : state;
                if (PQstatus(c) != CONNECTION_OK || sessionLost(sqlstate)) {
                    broke(lane, firstLine(PQresultErrorMessage(result.get())), batch.data() + i,
                          batch.size() - i, again);
                    return;
                }
                if (undefinedTable(sqlstate)) {
                    r.found = false;
                    done(slot);
                } else {
                    fail(slot, translateSqlError(options_.label, sqlstate,
                                                 PQresultErrorMessage(result.get()),
                                                 options_.statementTimeoutMs));
                }
            }
            // The end of this statement's results.
            if (!ready(c, deadline, options_.replyTimeout, why)) {
                broke(lane, why, batch.data() + i + 1, batch.size() - i - 1, again);
                return;
            }
            const RawResult end(PQgetResult(c));
            if (end) {
                broke(lane, "unexpected result", batch.data() + i + 1, batch.size() - i - 1, again);
                return;
            }
        }
        if (!ready(c, deadline, options_.replyTimeout, why)) {
            broke(lane, why, nullptr, 0, again);
            return;
        }
        const RawResult sync(PQgetResult(c));
        if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC ||
            PQexitPipelineMode(c) != 1) {
            broke(lane, "pipeline out of step", nullptr, 0, again);
        }
        lane.usedAt = std::chrono::steady_clock::now();
    } catch (...) {
        // Out of memory building a message or a statement: fail what is
        // left rather than leave a caller waiting. A request in `again` is
        // not complete, but is already handed back to the queue.
        lane.raw.reset();
        for (std::size_t i = 0; i < batch.size(); ++i) {
            Request* r = batch[i];
            if (r == nullptr || std::find(again.begin(), again.end(), r) != again.end()) continue;
            if (std::find(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(i), r) !=
                batch.begin() + static_cast<std::ptrdiff_t>(i)) {
                continue;  // already failed (a slot copied by erase)
            }
            r->code = Code::kResourceExhausted;
            try {
                r->message = "postgres " + options_.label + ": out of memory";
            } catch (...) {
            }
            finish(*r);
        }
    }
}

}  // namespace micro::postgres
