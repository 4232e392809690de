// blocking_call.hpp — wait for one asynchronous ABI call to complete.
//
// A BlockingCall lives on the caller's stack. Its micro_done may be invoked
// on any thread, possibly before the driver call returns.
//  - Inline completion (the driver completes on the caller's thread, which
//    can only happen inside the driver call, since afterwards that thread is
//    blocked in wait()): plain stores, no atomic operation, no allocation.
//  - Completion on another thread before wait(): one atomic exchange and one
//    compare-exchange.
//  - Completion after wait() began: the mutex and condition variable.
// The completer never touches the object after the waiter may have left, so
// a stack lifetime is safe.
#pragma once

#include <micro/abi.h>
#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include <pthread.h>

namespace micro::detail {

class BlockingCall {
 public:
    BlockingCall() noexcept : caller_(pthread_self()) {}
    BlockingCall(const BlockingCall&) = delete;
    BlockingCall& operator=(const BlockingCall&) = delete;

    micro_done done() noexcept { return micro_done{this, &BlockingCall::onDone}; }

    /// Wait for the completion; returns its value or throws micro::Error.
    std::uint64_t wait() {
        waitNoThrow();
        if (code_ != MICRO_OK) throw Error(static_cast<Code>(code_), message_);
        return value_;
    }

    /// Wait for the completion; the caller inspects code()/message().
    void waitNoThrow() {
        if (completedInline_) return;
        int expected = kPending;
        if (state_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel)) {
            std::unique_lock lock(mutex_);
            cv_.wait(lock, [this] { return signalled_; });
        }
    }

    micro_code code() const noexcept { return code_; }
    const std::string& message() const noexcept { return message_; }
    std::uint64_t value() const noexcept { return value_; }

 private:
    enum : int { kPending = 0, kWaiting = 1, kDone = 2 };

    static void onDone(void* ctx, micro_code code, micro_str message, std::uint64_t value) {
        auto* self = static_cast<BlockingCall*>(ctx);
        self->code_ = code;
        self->value_ = value;
        if (code != MICRO_OK) {
            self->message_.assign(abi::view(message));
            if (self->message_.empty()) self->message_ = codeName(static_cast<Code>(code));
        }
        if (pthread_equal(pthread_self(), self->caller_)) {
            self->completedInline_ = true;  // only this thread reads it
            return;
        }
        if (self->state_.exchange(kDone, std::memory_order_acq_rel) == kWaiting) {
            // The waiter is (or is about to be) blocked on the condition; it
            // cannot leave before we release the mutex.
            std::lock_guard lock(self->mutex_);
            self->signalled_ = true;
            self->cv_.notify_one();
        }
    }

    pthread_t caller_;
    bool completedInline_ = false;
    std::atomic<int> state_{kPending};
    micro_code code_ = MICRO_OK;
    std::uint64_t value_ = 0;
    std::string message_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool signalled_ = false;
};

}  // namespace micro::detail
