// plugins/redis/broker_subscription.hpp — what the streams and Pub/Sub
// subscriptions share: a consumer thread with a blocking connection of its
// own that stop() can wake at once.
//
// Contract
//   Threads: start() and stop() are called by the driver from one thread
//     each (subscribe, unsubscribe); ack() from any thread. The consumer
//     thread is the only caller of the handler, so deliveries to one
//     subscription are never concurrent.
//   start() returns once the subscription is set up in Redis (group
//     created, channel subscribed), or throws what the setup threw
//     (UNAVAILABLE when the server is down), having joined the thread.
//   stop() wakes the thread (it shuts down the socket of a blocking read
//     and interrupts a backoff sleep), joins it: after it returns the
//     handler is never called again. Idempotent.
//   Reconnection: a consumer whose connection fails retries with a backoff
//     from 50 ms doubling to 2 s, sleeping in between (no busy loop).
#pragma once

#include <micro/abi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "broker_config.hpp"
#include "broker_link.hpp"

namespace micro::redis {

class BrokerSubscription {
 public:
    BrokerSubscription(const BrokerConfig& config, const BrokerLog& log,
                       micro_message_handler handler);
    virtual ~BrokerSubscription();
    BrokerSubscription(const BrokerSubscription&) = delete;
    BrokerSubscription& operator=(const BrokerSubscription&) = delete;

    void start();
    void stop() noexcept;
    /// Settle a manual-ack delivery. Throws NOT_FOUND for an unknown id.
    virtual void ack(std::uint64_t deliveryId, bool ok) = 0;

 protected:
    /// Set up in Redis (on the consumer thread); throws on failure.
    virtual void setUp() = 0;
    /// Consume until stopping() (on the consumer thread).
    virtual void consume() = 0;
    /// Called after the thread was joined (e.g. to delete a group).
    virtual void afterStop() noexcept {}

    /// True once stop() was called (on the consumer thread).
    bool stopping() const noexcept { return stop_.stop_requested(); }
    /// Open a connection and make it the one stop() can wake; nullptr when
    /// stopping. Throws the connect error.
    Link* connect(std::chrono::milliseconds readTimeout);
    /// Close the current connection (after a failure).
    void disconnect() noexcept;
    Link* link() const noexcept { return link_.get(); }
    /// Sleep the current backoff (then double it); false when stopping.
    bool backoff();
    void resetBackoff() noexcept { backoff_ = std::chrono::milliseconds(0); }
    std::uint64_t nextDeliveryId() noexcept { return ++deliveries_; }

    const BrokerConfig& config_;
    const BrokerLog& log_;
    const micro_message_handler handler_;

 private:
    void run(std::stop_token stop, std::promise<void>& ready);

    std::mutex mutex_;
    std::condition_variable_any wake_;
    int fd_ = -1;                 // guarded by mutex_: the socket stop() shuts down
    std::stop_token stop_;        // the consumer thread's copy of thread_'s token
    std::unique_ptr<Link> link_;  // the consumer thread's
    std::chrono::milliseconds backoff_{0};
    std::uint64_t deliveries_ = 0;
    std::jthread thread_;  // last: started after, and joined before, everything it uses
};

}  // namespace micro::redis
