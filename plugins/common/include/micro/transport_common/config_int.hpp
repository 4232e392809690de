// micro/transport_common/config_int.hpp — an integer config key with a range,
// as the socket transports read their settings.
//
// Contract: pure (reads the config only); safe from any thread. A value out
// of [low, high] throws micro::Error(INVALID_ARGUMENT) naming the key, the
// range and the value; a value that is not an integer fails as
// driver::Config::getInt says.
#pragma once

#include <micro/driver/plugin.hpp>
#include <micro/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace micro::transport_common {

/// `key` from `config` (`fallback` when absent), checked to be in [low, high].
inline std::int64_t intInRange(const driver::Config& config, std::string_view key,
                               std::int64_t fallback, std::int64_t low, std::int64_t high) {
    const std::int64_t v = config.getInt(key, fallback);
    if (v < low || v > high) {
        throw Error(Code::kInvalidArgument,
                    "key '" + std::string(key) + "': must be from " + std::to_string(low) + " to " +
                        std::to_string(high) + ", got " + std::to_string(v));
    }
    return v;
}

}  // namespace micro::transport_common
