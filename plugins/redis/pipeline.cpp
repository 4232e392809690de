#include "pipeline.hpp"

#include <algorithm>

namespace micro::redis {

namespace {

// A buffer that grew past this for a large value is freed once its batch is
// done, rather than kept for reuse.
constexpr std::size_t kKeepBytes = 1u << 20;

/// Sent (or to be sent) and with no outcome yet. `size` is the op's.
bool pending(const PipelinedOp& op, std::size_t size) noexcept {
    return op.code == Code::kOk && !op.reply && size > 0;
}

// Nesting levels of Scratch on this thread, each a batch kept for reuse.
struct ScratchStack {
    std::vector<std::unique_ptr<Pipeline::Batch>> batches;
    std::size_t depth = 0;
};
thread_local ScratchStack t_scratch;

}  // namespace

Pipeline::Scratch::Scratch()
    : batch([]() -> Batch& {
          ScratchStack& s = t_scratch;
          if (s.depth == s.batches.size()) s.batches.push_back(std::make_unique<Batch>());
          return *s.batches[s.depth++];
      }()) {}

Pipeline::Scratch::~Scratch() {
    batch.bytes.clear();
    batch.ops.clear();
    --t_scratch.depth;
}

Pipeline::Pipeline(ConnectionPool& pool, WorkerPool& workers, std::size_t lanes,
                   std::chrono::milliseconds commandTimeout)
    : pool_(pool), workers_(workers), timeout_(commandTimeout) {
    lanes_.reserve(lanes);
    for (std::size_t i = 0; i < std::max<std::size_t>(lanes, 1); ++i) {
        lanes_.push_back(std::make_unique<Lane>());
    }
}

Pipeline::Lane& Pipeline::pick() noexcept {
    // A lane nobody leads first (the caller then leads it at once), the
    // lowest first so that light load stays on few connections.
    for (const auto& lane : lanes_) {
        if (!lane->busy.load(std::memory_order_acquire)) return *lane;
    }
    return *lanes_[next_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()];
}

void Pipeline::prepare(PipelinedOp& op, std::size_t size) noexcept {
    op.size_ = size;
    op.queued_ = std::chrono::steady_clock::now();
    op.sent_ = false;
    op.code = Code::kOk;
    op.message.clear();
    op.reply.reset();
}

void Pipeline::setActive(Lane& lane, bool active) noexcept {
    lane.active = active;
    lane.busy.store(active, std::memory_order_release);
}

void Pipeline::leadOnce(Lane& lane) noexcept {
    // Only an idle connection: a caller's thread never connects or waits.
    Lease lease = pool_.tryBorrow();
    if (!lease) {
        release(lane);
        return;
    }
    const Scratch scratch;
    take(lane, scratch.batch);
    send(lease, scratch.batch, false);
    receive(lease, scratch.batch);
    lease.reset();
    release(lane);
    finish(scratch.batch);
}

void Pipeline::release(Lane& lane) noexcept {
    bool post = false;
    {
        std::lock_guard lock(lane.mutex);
        setActive(lane, false);
        if (!lane.queue.empty() && !lane.drainPosted) {
            lane.drainPosted = true;
            post = true;
        }
    }
    if (post) workers_.post(Task([this, &lane] { drain(lane); }));
}

void Pipeline::drain(Lane& lane) noexcept {
    {
        std::lock_guard lock(lane.mutex);
        lane.drainPosted = false;
        if (lane.active || lane.queue.empty()) return;  // someone else took it
        setActive(lane, true);
    }
    Batch* current = &lane.batches[0];
    Batch* next = &lane.batches[1];
    Lease lease;
    take(lane, *current);
    send(lease, *current, true);
    for (;;) {
        receive(lease, *current);
        // Send what queued meanwhile before completing: Redis works on it
        // while the completions run.
        take(lane, *next);
        send(lease, *next, true);
        finish(*current);
        if (next->ops.empty()) {
            bool empty = false;
            {
                std::lock_guard lock(lane.mutex);
                empty = lane.queue.empty();
            }
            if (empty) {
                // The connection goes back before the lane is given up, so
                // that a caller who leads the lane next finds it idle (else
                // it would hand the lane straight back to a worker).
                lease.reset();
                std::lock_guard lock(lane.mutex);
                if (lane.queue.empty()) {
                    setActive(lane, false);
                    return;
                }
            }
            take(lane, *next);
            send(lease, *next, true);
        }
        std::swap(current, next);
    }
}

void Pipeline::exchangeDirect(Batch& batch) noexcept {
    Lease lease;
    send(lease, batch, true);
    receive(lease, batch);
    lease.reset();
    finish(batch);
}

void Pipeline::take(Lane& lane, Batch& batch) noexcept {
    std::lock_guard lock(lane.mutex);
    batch.bytes.swap(lane.buffer);
    batch.ops.swap(lane.queue);
}

void Pipeline::fail(PipelinedOp& op, Code code, std::string_view message) noexcept {
    op.reply.reset();
    op.code = code;
    try {
        op.message.assign(message);
        if (op.write && op.sent_ && code == Code::kUnavailable) {
            op.message += " (the write may or may not have been applied)";
        }
    } catch (...) {
        op.message.clear();  // out of memory: the code still tells
    }
}

void Pipeline::send(Lease& lease, Batch& batch, bool mayReplace) noexcept {
    if (batch.ops.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    const std::chrono::steady_clock::time_point hungAt(
        std::chrono::steady_clock::duration(hungAt_.load(std::memory_order_acquire)));
    auto drop = [&](const PipelinedOp* op) {
        return now - op->queued_ > timeout_ || op->queued_ < hungAt;
    };
    if (std::any_of(batch.ops.begin(), batch.ops.end(), drop)) {
        // Rare (a round before hit a timeout): rebuild the batch without the
        // commands that waited too long or were queued before the server
        // stopped answering; they are never sent.
        std::string kept;
        std::size_t offset = 0;
        for (PipelinedOp* op : batch.ops) {
            const std::size_t size = op->size_;
            if (drop(op)) {
                const auto waited =
                    std::chrono::duration_cast<std::chrono::milliseconds>(now - op->queued_);
                const std::string limit =
                    "command_timeout_ms (" + std::to_string(timeout_.count()) + " ms)";
                fail(*op, Code::kUnavailable,
                     "redis " + pool_.endpoint() + ": " + std::string(op->what) + ": " +
                         (op->queued_ < hungAt
                              ? "the server sent no reply to the calls before this one "
                                "within " +
                                    limit
                              : "the call waited " + std::to_string(waited.count()) +
                                    " ms to be sent, over " + limit) +
                         "; nothing was sent");
                op->size_ = 0;
            } else {
                kept.append(batch.bytes, offset, size);
            }
            offset += size;
        }
        batch.bytes.swap(kept);
    }
    if (batch.bytes.empty()) return;
    if (!lease || (*lease)->broken() || (mayReplace && pool_.stale(**lease))) {
        // Only on a worker or in runDirect: a caller's round arrives with
        // an idle connection just borrowed, which cannot have broken yet.
        lease.reset();
        try {
            lease.emplace(pool_.borrow());
        } catch (const Error& e) {
            for (PipelinedOp* op : batch.ops) {
                if (pending(*op, op->size_)) fail(*op, e.code(), e.what());
            }
            return;
        } catch (...) {
            for (PipelinedOp* op : batch.ops) {
                if (pending(*op, op->size_)) fail(*op, Code::kResourceExhausted, "out of memory");
            }
            return;
        }
    }
    for (PipelinedOp* op : batch.ops) op->sent_ = true;
    (*lease)->sendAll(batch.bytes);  // a failure shows in receive()
}

void Pipeline::receive(Lease& lease, Batch& batch) noexcept {
    bool any = false;
    for (PipelinedOp* op : batch.ops) any = any || pending(*op, op->size_);
    if (!any) return;
    Connection& c = **lease;
    auto failure = [&](const PipelinedOp& op) {
        return "redis " + pool_.endpoint() + ": " + std::string(op.what) + ": " + c.failure();
    };
    for (PipelinedOp* op : batch.ops) {
        if (!pending(*op, op->size_)) continue;
        Reply reply = c.broken() ? Reply() : c.readReply();
        if (reply) {
            op->reply = std::move(reply);
        } else {
            fail(*op, Code::kUnavailable, failure(*op));
        }
    }
    if (c.broken() && c.timedOut()) {
        // What is queued behind this batch is failed unsent (see send()).
        hungAt_.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                      std::memory_order_release);
    }
    // The server lost its script cache (restart, SCRIPT FLUSH): run those
    // scripts again from their text, which caches them again.
    std::size_t offset = 0;
    for (PipelinedOp* op : batch.ops) {
        const std::size_t at = offset;
        offset += op->size_;
        if (!op->script || !op->reply || op->reply->type != REDIS_REPLY_ERROR ||
            op->reply->str == nullptr ||
            !std::string_view(op->reply->str, op->reply->len).starts_with("NOSCRIPT")) {
            continue;
        }
        const std::string_view text = scriptText(*op->script);
        batch.retry.clear();
        RespWriter w(batch.retry);
        w.array(op->argc);
        w.bulk("EVAL");
        w.bulk(text);
        w.raw(std::string_view(batch.bytes)
                  .substr(at + op->afterDigest, op->size_ - op->afterDigest));
        Reply reply = c.sendAll(batch.retry) ? c.readReply() : Reply();
        if (reply) {
            op->reply = std::move(reply);
        } else {
            fail(*op, Code::kUnavailable, failure(*op));
        }
    }
}

void Pipeline::finish(Batch& batch) noexcept {
    for (PipelinedOp* op : batch.ops) op->complete();
    batch.ops.clear();
    batch.bytes.clear();
    if (batch.bytes.capacity() > kKeepBytes) std::string().swap(batch.bytes);
    if (batch.retry.capacity() > kKeepBytes) std::string().swap(batch.retry);
}

}  // namespace micro::redis
