// plugins/http/envelope.hpp — how one transport message {headers, body}
// travels as the payload of one WebSocket binary message.
//
// Layout (every integer little-endian, no padding):
//
//     u16  header_count
//     header_count times:
//         u16  key_length
//         u32  value_length
//         key_length bytes    key
//         value_length bytes  value
//     body                the remaining bytes of the payload (may be empty)
//
// An empty message is the 2 bytes 00 00. This is the tcp transport's frame
// without its length prefix: the WebSocket frame already says how long it is.
//
// Contract: pure functions, no state, no I/O; safe from any thread. Errors
// throw micro::Error(INVALID_ARGUMENT) (encoding) or return false with a
// message naming what was wrong (parsing).
#pragma once

#include <micro/abi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace micro::http::envelope {

/// Bytes `m` encodes to. Throws INVALID_ARGUMENT for more than 65535
/// headers or a key over 65535 bytes.
std::size_t encodedSize(const micro_transport_message& m);

/// Write `m` to `out`, which has room for encodedSize(m) bytes.
void encode(const micro_transport_message& m, std::uint8_t* out) noexcept;

/// Parse `size` bytes at `payload` into views that borrow it: `headers` is
/// cleared and refilled (capacity reused), `body` set. False and `error` set
/// when a header runs past the end of the payload.
bool parse(const std::uint8_t* payload, std::size_t size, std::vector<micro_kv>& headers,
           micro_bytes& body, std::string& error);

}  // namespace micro::http::envelope
