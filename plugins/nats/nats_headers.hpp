// plugins/nats/nats_headers.hpp — carry micro headers through NATS headers
// byte-exact.
//
// Contract
//   NATS headers are text lines: a value with a control byte (NUL, CR, LF,
//   ...) or with leading/trailing blanks would not survive the wire as is.
//   An empty value is misread by the client's parser, so it counts as one.
//   encodeHeaders() adds every header to `msg` in order (duplicates kept);
//   such values are percent-encoded behind a '~' and their keys listed, space-separated,
//   in the header `Micro-Escaped-Headers`. decodeHeaders() undoes it, so the
//   receiver sees exactly the bytes that were published.
//   A key that NATS cannot carry (empty, or with a control byte, a blank or
//   ':') throws micro::Error INVALID_ARGUMENT naming the key.
//   Not thread-safe per message (natsMsg headers are not); no I/O.
#pragma once

#include <micro/abi.h>

#include <nats/nats.h>

#include <span>
#include <string>
#include <utility>
#include <vector>

namespace micro::nats {

/// Headers read from a delivered message, owning their bytes.
struct DecodedHeaders {
    std::vector<std::pair<std::string, std::string>> entries;
    std::vector<micro_kv> view;  ///< points into `entries`; valid while it lives

    void add(std::string key, std::string value);
    /// Build `view`; call after the last add().
    void seal();
};

void encodeHeaders(natsMsg* msg, std::span<const micro_kv> headers);
/// Every header of `msg` but the escape marker, values unescaped.
void decodeHeaders(natsMsg* msg, DecodedHeaders& out);

}  // namespace micro::nats
