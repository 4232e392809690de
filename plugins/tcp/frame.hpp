// plugins/tcp/frame.hpp — the wire format of the tcp transport: one frame per
// message {headers, body}, encoded and parsed by pure functions.
//
// Wire format (every integer little-endian, no padding, no alignment):
//
//     u32  length         bytes that follow this field (the rest of the frame)
//     u16  header_count
//     header_count times:
//         u16  key_length
//         u32  value_length
//         key_length bytes    key
//         value_length bytes  value
//     body                the remaining bytes of the frame (may be empty)
//
// So a message with no headers and an empty body is the 6 bytes
// 02 00 00 00 00 00, and the body's length is implied by `length`.
// `length` is at least 2 (the header count) and at most the receiver's
// max_frame_bytes; the prefix itself is not counted. A frame is malformed
// when its headers do not fit exactly inside `length` (a header that runs
// past the end of the frame). Keys and values are opaque bytes.
//
// Contract: pure functions, no state, no I/O; safe from any thread. Nothing
// here allocates on success except growing a caller-owned vector that is
// reused across frames; errors build a message naming what was wrong.
#pragma once

#include <micro/abi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace micro::tcp::frame {

inline constexpr std::size_t kPrefixBytes = 4;       // u32 length
inline constexpr std::size_t kCountBytes = 2;        // u16 header_count
inline constexpr std::size_t kHeaderFieldBytes = 6;  // u16 key_length + u32 value_length
inline constexpr std::size_t kMaxKeyBytes = 0xFFFF;
inline constexpr std::size_t kMaxHeaders = 0xFFFF;
inline constexpr std::uint64_t kMaxLength = 0xFFFFFFFFu;  // what the u32 can say
inline constexpr std::uint32_t kDefaultMaxFrameBytes = 4u << 20;

/// The value of the length prefix `m` encodes to (the frame's size without
/// the 4-byte prefix). Throws micro::Error(INVALID_ARGUMENT) naming the part
/// that does not fit: too many headers, a key over 65535 bytes, or a frame
/// longer than `maxFrameBytes`.
std::size_t encodedLength(const micro_transport_message& m, std::uint64_t maxFrameBytes);

/// Write `m` as one frame whose prefix says `length` (from encodedLength) to
/// `out`, which has room for kPrefixBytes + length bytes.
void encode(const micro_transport_message& m, std::size_t length, std::uint8_t* out) noexcept;

/// Read the u32 length prefix at `p` (kPrefixBytes readable bytes).
inline std::uint32_t readLength(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

/// Whether a frame announcing `length` may be read at all: false (and
/// `error` says why) when it is shorter than the header count or longer than
/// `maxFrameBytes`. Called on the prefix alone, before any buffer grows.
bool checkLength(std::uint32_t length, std::uint64_t maxFrameBytes, std::string& error);

/// Parse the `length` bytes that follow a prefix into views that borrow
/// `payload`: `headers` is cleared and refilled (its capacity is reused),
/// `body` is set. False (and `error` says why) when the frame is malformed.
bool parse(const std::uint8_t* payload, std::size_t length, std::vector<micro_kv>& headers,
           micro_bytes& body, std::string& error);

}  // namespace micro::tcp::frame
