// plugins/direct/wire.hpp — the direct broker's two messages on the
// transport: a publish request (publisher -> subscriber node) and its status
// reply (subscriber node -> publisher).
//
// Request: the transport message's headers begin with
//   Micro-Broker-Control: N        N = how many control headers follow
// then exactly N control headers, in any order:
//   Micro-Broker-Id: <u64>         correlates the reply (required, once)
//   Micro-Broker-Node: <node id>   the node the publisher meant (required, once)
//   Micro-Broker-Topic: <topic>    (required, once, not empty)
//   Micro-Broker-Plain: 1          deliver to every plain subscription (optional, once)
//   Micro-Broker-Group: <group>    deliver to one local member of <group> (0..n)
// and then the published message's own headers, verbatim, so no header name
// of the message can collide with a control header. The body is the
// message's body.
//
// Reply: headers Micro-Broker-Reply: <id>, Micro-Broker-Status: <micro_code>,
// Micro-Broker-Delivered: <count>; the body is the error message (empty on OK).
//
// Contract: pure functions over borrowed views; safe from any thread. A parsed
// view borrows the transport message and lives no longer than it.
#pragma once

#include <micro/abi.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace micro::direct::wire {

inline constexpr std::string_view kControl = "Micro-Broker-Control";
inline constexpr std::string_view kId = "Micro-Broker-Id";
inline constexpr std::string_view kNode = "Micro-Broker-Node";
inline constexpr std::string_view kTopic = "Micro-Broker-Topic";
inline constexpr std::string_view kPlain = "Micro-Broker-Plain";
inline constexpr std::string_view kGroup = "Micro-Broker-Group";
inline constexpr std::string_view kReply = "Micro-Broker-Reply";
inline constexpr std::string_view kStatus = "Micro-Broker-Status";
inline constexpr std::string_view kDelivered = "Micro-Broker-Delivered";

/// A request as read from the wire (views into the transport message).
struct Request {
    std::uint64_t id = 0;
    std::string_view node;
    std::string_view topic;
    bool plain = false;
    std::vector<std::string_view> groups;
    std::span<const micro_kv> headers;  // the published message's headers
    std::string_view body;
};

/// The request, or the reason it is malformed; `id` is set whenever the id
/// header could be read, so the error can still be correlated.
struct ParsedRequest {
    std::optional<Request> request;
    std::uint64_t id = 0;
    std::string error;
};
ParsedRequest parseRequest(const micro_transport_message& message);

/// A request ready to send: `headers()` points into this object, so keep it
/// alive (and unmoved) until `send` returns.
class EncodedRequest {
 public:
    EncodedRequest(std::uint64_t id, std::string_view node, std::string_view topic, bool plain,
                   const std::vector<std::string>& groups, const micro_message& message);
    EncodedRequest(const EncodedRequest&) = delete;
    EncodedRequest& operator=(const EncodedRequest&) = delete;
    micro_transport_message view() const noexcept;

 private:
    std::string count_;
    std::string id_;
    std::vector<micro_kv> kv_;
    micro_bytes body_;
};

struct Reply {
    std::uint64_t id = 0;
    micro_code code = MICRO_OK;
    std::uint64_t delivered = 0;
    std::string_view message;
};
/// nullopt when the message is not a well-formed reply.
std::optional<Reply> parseReply(const micro_transport_message& message);

/// Send-ready reply; same lifetime rule as EncodedRequest.
class EncodedReply {
 public:
    EncodedReply(std::uint64_t id, micro_code code, std::uint64_t delivered,
                 std::string_view message);
    EncodedReply(const EncodedReply&) = delete;
    EncodedReply& operator=(const EncodedReply&) = delete;
    micro_transport_message view() const noexcept;

 private:
    std::string id_, code_, delivered_, message_;
    micro_kv kv_[3];
};

}  // namespace micro::direct::wire
