// plugins/http/ws_frame.hpp — RFC 6455 WebSocket framing, as the http
// transport reads and writes it on its own connection buffers.
//
// The transport frames WebSocket itself (rather than through
// boost::beast::websocket::stream) so that one connection has one byte
// queue for both of its modes: replies to pipelined HTTP requests and
// WebSocket messages leave through the same coalesced writes, the message
// limit is checked from a frame's header before any payload is buffered,
// and the dialling side can finish its handshake with blocking I/O inside
// `dial` (which may run on an io thread of this very transport).
//
// Contract: pure functions, no state, no I/O; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace micro::http::ws {

enum Opcode : std::uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

// Close codes (RFC 6455 section 7.4.1).
inline constexpr std::uint16_t kCloseNormal = 1000;
inline constexpr std::uint16_t kCloseGoingAway = 1001;
inline constexpr std::uint16_t kCloseProtocolError = 1002;
inline constexpr std::uint16_t kCloseUnsupportedData = 1003;
inline constexpr std::uint16_t kCloseInvalidPayload = 1007;
inline constexpr std::uint16_t kClosePolicy = 1008;
inline constexpr std::uint16_t kCloseTooBig = 1009;

inline constexpr std::size_t kMaxHeaderBytes = 14;  // 2 + 8 length + 4 mask

/// A frame's header, as read from the wire.
struct Head {
    bool fin = false;
    std::uint8_t rsv = 0;  // the three reserved bits; no extension is negotiated
    std::uint8_t opcode = 0;
    bool masked = false;
    std::uint8_t mask[4] = {0, 0, 0, 0};
    std::uint64_t length = 0;     // payload bytes
    std::size_t headerBytes = 0;  // bytes of the header itself
};

/// Read the header at `p` (`have` bytes readable). False when more bytes
/// are needed to know it.
bool readHead(const std::uint8_t* p, std::size_t have, Head& head) noexcept;

/// Size of the header of a frame with `length` payload bytes.
std::size_t headSize(std::uint64_t length, bool masked) noexcept;

/// Write a final frame's header to `out` (room for headSize bytes); with
/// `mask` non-null the frame is masked with those 4 bytes. Returns its size.
std::size_t writeHead(std::uint8_t* out, std::uint8_t opcode, std::uint64_t length,
                      const std::uint8_t* mask) noexcept;

/// XOR `n` bytes at `p` with `mask`, the first byte being payload byte
/// `offset` of its frame (masking is its own inverse).
void applyMask(std::uint8_t* p, std::size_t n, const std::uint8_t mask[4],
               std::size_t offset = 0) noexcept;

/// The close frame payload: the code in network order, then the reason cut
/// to 123 bytes (a control frame's payload is at most 125).
std::string closePayload(std::uint16_t code, std::string_view reason);

/// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key.
std::string acceptKey(std::string_view key);

/// A fresh Sec-WebSocket-Key (16 random bytes, base64).
std::string newKey();

}  // namespace micro::http::ws
