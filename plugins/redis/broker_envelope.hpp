// plugins/redis/broker_envelope.hpp — a message as one binary string, for
// Pub/Sub mode (a PUBLISH carries one payload).
//
// Contract
//   Layout: "m1", then LEB128 length + bytes of the message id, LEB128
//   header count, each header as LEB128 length + key, LEB128 length +
//   value, and the body as the rest. Every byte of keys, values and body
//   round-trips (NUL, invalid UTF-8, empty). decodeEnvelope returns
//   nullopt for anything else (a foreign PUBLISH on the channel); the views
//   it returns borrow the input. Pure functions, safe from any thread.
#pragma once

#include <micro/abi.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace micro::redis {

std::string encodeEnvelope(std::string_view id, const micro_message& message);

struct Envelope {
    std::string_view id;
    std::vector<micro_kv> headers;  ///< pointing into the input
    std::string_view body;
};

std::optional<Envelope> decodeEnvelope(std::string_view payload);

}  // namespace micro::redis
