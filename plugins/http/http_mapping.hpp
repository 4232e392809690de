// plugins/http/http_mapping.hpp — how the RPC frames of the core map onto
// HTTP/1.1 requests and responses (see README.md, "Mapping").
//
// The frame header names are the core's RPC protocol (core/src/rpc/
// protocol.hpp); they are repeated here because a plugin sees only the ABI.
//
// Contract: pure functions, no state, no I/O; safe from any thread.
#pragma once

#include <micro/abi.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace micro::http::mapping {

// Frame headers of the core's RPC protocol.
inline constexpr std::string_view kKind = ":k";
inline constexpr std::string_view kId = ":i";
inline constexpr std::string_view kService = ":s";
inline constexpr std::string_view kEndpoint = ":e";
inline constexpr std::string_view kTimeout = ":t";
inline constexpr std::string_view kCode = ":c";
inline constexpr std::string_view kContentType = "content-type";

// HTTP headers of the mapping (matched case-insensitively, lowercase here).
inline constexpr std::string_view kHttpService = "micro-service";
inline constexpr std::string_view kHttpEndpoint = "micro-endpoint";
inline constexpr std::string_view kHttpId = "micro-id";
inline constexpr std::string_view kHttpTimeout = "micro-timeout";

/// The HTTP status of a call that ended with `code`: OK 200,
/// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
/// NOT_FOUND 404, DEADLINE_EXCEEDED 504, UNAVAILABLE 503, any other 500.
int statusFor(micro_code code) noexcept;

/// The reason phrase for the statuses this transport sends.
std::string_view reasonFor(int status) noexcept;

/// The JSON error body {"id","code","detail","status"} of the core.
std::string errorBody(std::string_view id, micro_code code, std::string_view detail);

/// The RFC 9110 tchars, the characters of a token, as a table: the loops
/// that test every byte of a header name index it. Same as Beast's
/// field-name table.
struct TokenChars {
    bool is[256] = {};
    constexpr TokenChars() {
        for (int c = 0; c < 256; ++c) {
            is[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                        std::string_view::npos;
        }
    }
};
inline constexpr TokenChars kTokenChars;

/// True for an RFC 9110 token (a valid header name).
bool isToken(std::string_view s) noexcept;

/// True when `s` may be sent as a header value (no CR, LF or NUL).
bool isFieldValue(std::string_view s) noexcept;

/// Headers of the HTTP connection itself (lowercase name), never passed to
/// the core as call metadata: host, content-length, connection, keep-alive,
/// transfer-encoding, upgrade, te, trailer, expect, proxy-connection.
bool isConnectionHeader(std::string_view lowercaseName) noexcept;

/// One HTTP response, appended to `out`.
struct Response {
    int status = 200;
    std::string_view contentType;
    std::string_view id;              // Micro-Id
    micro_code code = MICRO_OK;       // Micro-Code when status != 200
    std::span<const micro_kv> extra;  // reply metadata; invalid names/values skipped
    std::string_view body;
    bool close = false;      // Connection: close
    std::string_view allow;  // Allow header (405), empty for none
};
void appendResponse(std::string& out, const Response& r);

/// Which of a response's optional fields go out: a content type or id with
/// CR, LF or NUL in it is left out, and so is an extra header whose name is
/// not a token, whose value is not a field value, or that the framing owns.
/// Decided once per response, because the text is walked twice (to size it,
/// then to write it) and the checks read every byte.
struct FieldChoice {
    explicit FieldChoice(const Response& r) noexcept;
    bool contentType = false, id = false;
    std::uint64_t extraSkipped = 0;  ///< bit i: extra i is left out (the first 64)
    /// Whether extra header i goes out (past 64 it is checked on each call).
    bool sends(const Response& r, std::size_t i) const noexcept;
};

/// The text of one response, sized before it is written, so that it can be
/// written straight into a send queue. `r` must outlive it.
class ResponseText {
 public:
    explicit ResponseText(const Response& r) noexcept;
    std::size_t size() const noexcept { return size_; }
    /// Writes exactly size() bytes at `out`.
    void writeTo(char* out) const noexcept;

 private:
    const Response& r_;
    FieldChoice choice_;
    char status_[24], length_[24], code_[24];
    std::string_view statusText_, lengthText_, codeText_;
    std::size_t size_ = 0;
};

}  // namespace micro::http::mapping
