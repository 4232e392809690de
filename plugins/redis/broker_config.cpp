#include "broker_config.hpp"

#include <micro/error.hpp>

namespace micro::redis {

namespace {

std::int64_t bounded(const driver::Config& config, std::string_view key, std::int64_t fallback,
                     std::int64_t min, std::int64_t max) {
    const std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > max) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be between " +
                                                std::to_string(min) + " and " +
                                                std::to_string(max) + ", got " + std::to_string(v));
    }
    return v;
}

}  // namespace

BrokerConfig parseBrokerConfig(const driver::Config& config) {
    config.allowOnly(
        {"url", "mode", "timeout_ms", "block_ms", "claim_idle_ms", "max_len", "stream_prefix"});
    BrokerConfig out;
    out.url = parseRedisUrl(config.getString("url", "redis://127.0.0.1:6379/0"));
    const std::string mode = config.getString("mode", "streams");
    if (mode == "streams") {
        out.mode = BrokerMode::kStreams;
    } else if (mode == "pubsub") {
        out.mode = BrokerMode::kPubSub;
    } else {
        throw Error(Code::kInvalidArgument,
                    "key 'mode': expected \"streams\" or \"pubsub\", got '" + mode + "'");
    }
    out.timeout = std::chrono::milliseconds(bounded(config, "timeout_ms", 2000, 1, 600000));
    out.block = std::chrono::milliseconds(bounded(config, "block_ms", 1000, 1, 600000));
    out.claimIdle = std::chrono::milliseconds(bounded(config, "claim_idle_ms", 30000, 1, 86400000));
    out.maxLen = bounded(config, "max_len", 0, 0, INT64_MAX);
    out.prefix = config.getString("stream_prefix", "micro:topic:");
    return out;
}

}  // namespace micro::redis
