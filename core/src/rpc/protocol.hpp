// protocol.hpp — the RPC protocol carried over a transport's message pipe.
//
// Every transport message of an RPC connection is one frame of one call,
// identified by the `:i` (call id) header, chosen by the caller and unique
// per connection. Reserved headers start with ':'; every other header is
// call metadata, passed through. Kinds (`:k`):
//
//   q  request: opens a call. Headers :s service, :e endpoint, :t timeout in
//      ms (the deadline travels as time remaining), content-type, and :st=1
//      for a streaming call (then the body is empty and messages follow).
//   m  one stream message (either direction).
//   e  the caller's half-close of its side of a stream.
//   w  flow-control credit: the receiver consumed :n more messages.
//   r  the call completed OK; for a unary call the body is the response.
//   x  the call failed: :c code, :d detail; the body is the JSON error
//      {"id","code","detail","status"}. :n=1 says the request was not
//      processed at all (e.g. the server is draining), so it is safe to
//      retry even if the call is not idempotent.
//   c  the caller cancels the call.
#pragma once

#include <micro/broker.hpp>  // Header
#include <micro/error.hpp>

#include <charconv>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace micro::rpc {

inline constexpr std::string_view kKind = ":k";
inline constexpr std::string_view kId = ":i";
inline constexpr std::string_view kService = ":s";
inline constexpr std::string_view kEndpoint = ":e";
inline constexpr std::string_view kTimeout = ":t";
inline constexpr std::string_view kStreaming = ":st";
inline constexpr std::string_view kCode = ":c";
inline constexpr std::string_view kDetail = ":d";
inline constexpr std::string_view kCredit = ":n";
inline constexpr std::string_view kNotProcessed = ":n";
inline constexpr std::string_view kContentType = "content-type";

inline constexpr char kRequest = 'q';
inline constexpr char kMessage = 'm';
inline constexpr char kEnd = 'e';
inline constexpr char kWindow = 'w';
inline constexpr char kReply = 'r';
inline constexpr char kError = 'x';
inline constexpr char kCancel = 'c';

/// Messages a stream receiver lets the sender have in flight.
inline constexpr std::uint32_t kStreamWindow = 64;

/// A decimal number in a fixed buffer, for ids and codes in headers.
class Decimal {
   public:
    explicit Decimal(std::uint64_t v) noexcept {
        auto [end, ec] = std::to_chars(buf_, buf_ + sizeof(buf_), v);
        (void)ec;
        size_ = static_cast<std::size_t>(end - buf_);
    }
    std::string_view view() const noexcept { return {buf_, size_}; }

   private:
    char buf_[24];
    std::size_t size_ = 0;
};

inline bool parseU64(std::string_view s, std::uint64_t& out) noexcept {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

/// The reserved headers of one received frame, found in one pass.
struct FrameHeaders {
    char kind = 0;
    std::uint64_t id = 0;
    bool hasId = false;
    std::string_view service, endpoint, timeout, contentType, code, detail, n, streaming;

    static FrameHeaders parse(std::span<const micro_kv> headers) noexcept;
};

/// The JSON error body {"id","code","detail","status"}.
std::string errorJson(std::string_view id, Code code, std::string_view detail);

}  // namespace micro::rpc
