// plugins/redis/broker_config.hpp — the config of the "redis" broker driver,
// and where its log lines go.
//
// Contract
//   parseBrokerConfig refuses unknown keys and every bad value with
//   micro::Error(INVALID_ARGUMENT) naming the key ('url', 'mode', ...).
//   Keys (defaults in brackets):
//     url            redis://[[user]:password@]host[:port][/db]
//                    [redis://127.0.0.1:6379/0] (redis_url.hpp)
//     mode           "streams" (at-least-once, Redis Streams) or "pubsub"
//                    (at-most-once, PUBLISH/SUBSCRIBE) [streams]
//     timeout_ms     bound on a publish (queueing, connect and reply) and on
//                    every command, 1..600000 [2000]
//     block_ms       BLOCK of one XREADGROUP, 1..600000 [1000]
//     claim_idle_ms  a pending message idle this long is claimed and
//                    redelivered, 1..86400000 [30000]
//     max_len        approximate stream length kept (XADD MAXLEN ~), 0 = no
//                    trimming [0]
//     stream_prefix  prepended to a topic to name its stream or channel
//                    [micro:topic:]
//   Pure data once parsed; BrokerLog is thread-safe (the host's log is).
#pragma once

#include <micro/driver/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "redis_url.hpp"

namespace micro::redis {

enum class BrokerMode { kStreams, kPubSub };

struct BrokerConfig {
    RedisUrl url;
    BrokerMode mode = BrokerMode::kStreams;
    std::chrono::milliseconds timeout{2000};
    std::chrono::milliseconds block{1000};
    std::chrono::milliseconds claimIdle{30000};
    std::int64_t maxLen = 0;
    std::string prefix = "micro:topic:";
};

BrokerConfig parseBrokerConfig(const driver::Config& config);

/// The host's log, kept for the instance's lifetime (the host outlives it).
class BrokerLog {
 public:
    BrokerLog(const micro_host* host, std::string_view instance)
        : host_(host), instance_(instance) {}
    void operator()(std::int32_t level, std::string_view message) const noexcept {
        if (host_ != nullptr && host_->log != nullptr)
            host_->log(host_, level, abi::str(instance_), abi::str(message));
    }

 private:
    const micro_host* host_;
    std::string instance_;
};

}  // namespace micro::redis
