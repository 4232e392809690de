// plugins/sqlite/failure_log.hpp — report the failures of a background task
// (a sweeper, a watcher) through the host's log without flooding it.
//
// Contract: failed() logs a warning only when the message differs from the
// last one reported; ok() after a failure logs once that the task works
// again. Never throws. Not thread-safe: one FailureLog per thread.
#pragma once

#include <micro/abi.h>
#include <micro/abi_view.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace micro::sqlite {

class FailureLog {
 public:
    FailureLog(const micro_host* host, std::string source, std::string task)
        : host_(host), source_(std::move(source)), task_(std::move(task)) {}

    void ok() noexcept { report({}); }
    /// An empty message means the task succeeded (as ok()).
    void failed(std::string_view message) noexcept { report(message); }

 private:
    void report(std::string_view message) noexcept {
        if (message == last_) return;
        try {
            last_ = message;
            if (host_ == nullptr || host_->log == nullptr) return;
            std::string line = task_ + ": " + (message.empty() ? "working again" : last_);
            host_->log(host_, message.empty() ? MICRO_LOG_INFO : MICRO_LOG_WARN, abi::str(source_),
                       abi::str(line));
        } catch (...) {
            // Out of memory while logging: nothing better to do.
        }
    }

    const micro_host* host_;
    std::string source_;
    std::string task_;
    std::string last_;
};

}  // namespace micro::sqlite
