#include "broker_pipeline.hpp"

#include <micro/error.hpp>

#include <algorithm>

#include "printable.hpp"
#include "sigpipe.hpp"

namespace micro::redis {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxBatch = 512;
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};

}  // namespace

CommandPipeline::CommandPipeline(RedisUrl url, std::chrono::milliseconds timeout,
                                 const BrokerLog& log)
    : url_(std::move(url)),
      endpoint_(url_.endpoint()),
      timeout_(timeout),
      log_(log),
      thread_([this](std::stop_token stop) { run(stop); }) {}

// thread_, the last member, is stopped and joined first; run() sends what
// is still queued before it returns.
CommandPipeline::~CommandPipeline() = default;

void CommandPipeline::submit(PipelineJob job) {
    job.deadline = Clock::now() + timeout_;
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(job));
    }
    wake_.notify_one();
}

void CommandPipeline::run(std::stop_token stop) {
    blockSigpipeInThisThread();
    std::vector<PipelineJob> batch;
    batch.reserve(kMaxBatch);
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, stop, [&] { return !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything was sent
            while (!queue_.empty() && batch.size() < kMaxBatch) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        process(batch);
        batch.clear();
    }
}

void CommandPipeline::fail(PipelineJob& job, Code code, std::string_view message) noexcept {
    if (job.kind == PipelineJob::Kind::kQuiet) {
        log_(MICRO_LOG_WARN, message);
    } else {
        job.done.fail(code, message);
    }
}

void CommandPipeline::settle(PipelineJob& job, const redisReply& reply) noexcept {
    if (reply.type == REDIS_REPLY_ERROR) {
        try {
            throwServerError(endpoint_, job.kind == PipelineJob::Kind::kAdd ? "XADD" : "command",
                             errorText(reply));
        } catch (const Error& e) {
            fail(job, e.code(), e.what());
        }
        return;
    }
    if (job.kind == PipelineJob::Kind::kPublish && reply.type == REDIS_REPLY_INTEGER &&
        reply.integer == 0) {
        job.done.fail(Code::kNotFound, "no subscriber for topic '" + printable(job.topic) + "'");
        return;
    }
    job.done.ok();
}

void CommandPipeline::process(std::vector<PipelineJob>& batch) {
    const auto now = Clock::now();
    auto earliest = Clock::time_point::max();
    std::size_t live = 0;
    for (auto& job : batch) {
        if (job.deadline <= now) {
            fail(job, Code::kUnavailable,
                 "redis " + endpoint_ + ": not sent within timeout_ms (" +
                     std::to_string(timeout_.count()) + " ms): " +
                     (lastError_.empty() ? std::string("the server is slow") : lastError_));
            job.sizes.clear();  // marks it settled
            continue;
        }
        earliest = std::min(earliest, job.deadline);
        ++live;
    }
    if (live == 0) return;
    const auto remaining =
        std::max(std::chrono::milliseconds(1),
                 std::chrono::duration_cast<std::chrono::milliseconds>(earliest - now));
    try {
        if (!link_) {
            if (now < nextAttempt_) {
                throw Error(Code::kUnavailable, lastError_ + " (retrying in the background)");
            }
            link_ = Link::open(url_, remaining, remaining);
            backoff_ = std::chrono::milliseconds(0);
            if (down_) log_(MICRO_LOG_INFO, "redis " + endpoint_ + " is reachable again");
            down_ = false;
        } else {
            link_->setReadTimeout(remaining);
        }
    } catch (const Error& e) {
        link_.reset();
        if (now >= nextAttempt_) {
            lastError_ = e.what();
            backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
            nextAttempt_ = now + backoff_;
            if (!down_) {
                log_(MICRO_LOG_WARN, lastError_ +
                                         "; publishing fails with UNAVAILABLE until "
                                         "the server is back");
            }
            down_ = true;
        }
        for (auto& job : batch)
            if (!job.sizes.empty()) fail(job, e.code(), e.what());
        return;
    }

    std::vector<std::string_view> argv;
    std::size_t next = 0;  // the first job whose reply was not read yet
    try {
        for (auto& job : batch) {
            if (job.sizes.empty()) continue;
            argv.clear();
            std::size_t at = 0;
            for (std::uint32_t n : job.sizes) {
                argv.emplace_back(job.args.data() + at, n);
                at += n;
            }
            link_->append(argv);
        }
        for (; next < batch.size(); ++next) {
            PipelineJob& job = batch[next];
            if (job.sizes.empty()) continue;
            Reply reply = link_->read(job.kind == PipelineJob::Kind::kAdd ? "XADD" : "command");
            settle(job, *reply);
        }
    } catch (const Error& e) {
        // The connection is gone mid-batch: what was sent may or may not
        // have happened, so every unsettled job reports UNAVAILABLE.
        lastError_ = e.what();
        link_.reset();
        nextAttempt_ = now;  // the next batch reconnects at once
        if (!down_) log_(MICRO_LOG_WARN, lastError_);
        down_ = true;
        for (; next < batch.size(); ++next) {
            if (!batch[next].sizes.empty()) fail(batch[next], e.code(), e.what());
        }
    }
}

}  // namespace micro::redis
