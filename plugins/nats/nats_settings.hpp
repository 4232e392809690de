// plugins/nats/nats_settings.hpp — the "nats" broker's config, parsed and
// checked once at create.
//
// Contract
//   parseSettings() reads the flattened manifest table and returns every
//   setting with its default filled in, or throws micro::Error
//   INVALID_ARGUMENT whose message names the offending key ("key 'url': ...").
//   A password in the url is never echoed back in a message.
//   subjectFor() maps a micro topic to its NATS subject; it throws
//   INVALID_ARGUMENT naming the topic when NATS could not carry it (empty,
//   whitespace, an empty token, a wildcard token).
//   Pure functions: no I/O, safe from any thread.
#pragma once

#include <micro/driver/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace micro::nats {

struct Settings {
    std::vector<std::string> servers;  ///< each "nats://[user[:pass]@]host[:port]"
    std::string redactedUrl;           ///< the url as given, password masked: for messages
    std::int64_t timeoutMs = 2000;     ///< connect, publish and PubAck bound
    bool jetstream = false;
    std::string stream = "MICRO";             ///< JetStream stream name
    std::int64_t ackWaitMs = 30000;           ///< JetStream redelivery after an unacked delivery
    std::int64_t maxDeliver = -1;             ///< JetStream deliveries per message; -1 unlimited
    std::int64_t nakDelayMs = 1000;           ///< JetStream redelivery delay after a nack
    std::string subjectPrefix = "micro";      ///< subjects are "<prefix>.<topic>"
    std::int64_t maxPendingMsgs = 1'000'000;  ///< per subscription, in the client
};

Settings parseSettings(const driver::Config& config);

/// The NATS subject of `topic` under `prefix` ("micro" + "orders" ->
/// "micro.orders"; an empty prefix leaves the topic as is).
std::string subjectFor(std::string_view prefix, std::string_view topic);

/// The subject filter that covers every topic under `prefix` ("micro.>").
std::string subjectsUnder(std::string_view prefix);

}  // namespace micro::nats
