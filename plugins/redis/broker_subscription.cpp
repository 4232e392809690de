#include "broker_subscription.hpp"

#include <micro/error.hpp>

#include <sys/socket.h>

#include <algorithm>

#include "sigpipe.hpp"

namespace micro::redis {

namespace {
constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{2000};
}  // namespace

BrokerSubscription::BrokerSubscription(const BrokerConfig& config, const BrokerLog& log,
                                       micro_message_handler handler)
    : config_(config), log_(log), handler_(handler) {}

BrokerSubscription::~BrokerSubscription() { stop(); }

void BrokerSubscription::start() {
    std::promise<void> ready;
    std::future<void> setUpDone = ready.get_future();
    // The thread owns the promise: it may still be inside set_value() when
    // this function has returned.
    thread_ = std::jthread([this, ready = std::move(ready)](std::stop_token stop) mutable {
        run(std::move(stop), ready);
    });
    try {
        setUpDone.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

void BrokerSubscription::run(std::stop_token stop, std::promise<void>& ready) {
    // Kept here rather than read from thread_, which start() may still be
    // assigning.
    stop_ = std::move(stop);
    blockSigpipeInThisThread();
    try {
        setUp();
    } catch (...) {
        disconnect();
        ready.set_exception(std::current_exception());
        return;
    }
    ready.set_value();  // start() returns
    consume();
    disconnect();
}

void BrokerSubscription::stop() noexcept {
    {
        // Under the lock, so connect() either sees the stop or has published
        // the descriptor shut down here.
        std::lock_guard lock(mutex_);
        thread_.request_stop();  // also ends a backoff() sleep
        // Ends a blocking read at once; the thread sees UNAVAILABLE, then
        // stopping() is true.
        if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    }
    // Joined here, not by the member's destructor: afterStop() needs the
    // thread gone.
    if (thread_.joinable()) {
        thread_.join();
        afterStop();
    }
}

Link* BrokerSubscription::connect(std::chrono::milliseconds readTimeout) {
    disconnect();
    std::unique_ptr<Link> fresh = Link::open(config_.url, config_.timeout, readTimeout);
    std::lock_guard lock(mutex_);
    if (stop_.stop_requested()) return nullptr;
    fd_ = fresh->fd();
    link_ = std::move(fresh);
    return link_.get();
}

void BrokerSubscription::disconnect() noexcept {
    {
        // Forget the descriptor before it is closed, so stop() never shuts
        // down a number the process has reused.
        std::lock_guard lock(mutex_);
        fd_ = -1;
    }
    link_.reset();
}

bool BrokerSubscription::backoff() {
    backoff_ = std::clamp(backoff_ * 2, kFirstBackoff, kMaxBackoff);
    std::unique_lock lock(mutex_);
    // Only the stop ends the sleep early: nothing else notifies wake_.
    wake_.wait_for(lock, stop_, backoff_, [] { return false; });
    return !stop_.stop_requested();
}

}  // namespace micro::redis
