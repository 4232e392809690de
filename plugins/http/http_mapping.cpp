#include "http_mapping.hpp"
#include <micro/driver/text.hpp>

#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <charconv>
#include <cstring>

namespace micro::http::mapping {

int statusFor(micro_code code) noexcept {
    switch (code) {
        case MICRO_OK:
            return 200;
        case MICRO_INVALID_ARGUMENT:
            return 400;
        case MICRO_UNAUTHENTICATED:
            return 401;
        case MICRO_PERMISSION_DENIED:
            return 403;
        case MICRO_NOT_FOUND:
            return 404;
        case MICRO_DEADLINE_EXCEEDED:
            return 504;
        case MICRO_UNAVAILABLE:
            return 503;
        default:
            return 500;
    }
}

std::string_view reasonFor(int status) noexcept {
    switch (status) {
        case 100:
            return "Continue";
        case 101:
            return "Switching Protocols";
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 413:
            return "Content Too Large";
        case 426:
            return "Upgrade Required";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Unknown";
    }
}

namespace {

void appendNumber(std::string& out, long long v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, end);
}

// Calls put(piece) for each piece of the response text, in order. Run once
// to size the output and once to fill it, so a response is one resize and
// a few memcpy calls.
template <typename Put>
void forEachPiece(const Response& r, const FieldChoice& choice, std::string_view status,
                  std::string_view length, std::string_view code, Put&& put) {
    auto header = [&](std::string_view name, std::string_view value) {
        put(name);
        put(": ");
        put(value);
        put("\r\n");
    };
    put("HTTP/1.1 ");
    put(status);
    put(" ");
    put(reasonFor(r.status));
    put("\r\n");
    if (choice.contentType) header("Content-Type", r.contentType);
    header("Content-Length", length);
    if (choice.id) header("Micro-Id", r.id);
    if (r.status != 200) header("Micro-Code", code);
    if (!r.allow.empty()) header("Allow", r.allow);
    for (std::size_t i = 0; i < r.extra.size(); ++i) {
        if (choice.sends(r, i)) header(abi::view(r.extra[i].key), abi::view(r.extra[i].value));
    }
    if (r.close) put("Connection: close\r\n");
    put("\r\n");
    put(r.body);
}
}  // namespace

std::string errorBody(std::string_view id, micro_code code, std::string_view detail) {
    std::string out = "{\"id\":";
    driver::appendJsonString(out, id);
    out += ",\"code\":";
    appendNumber(out, code);
    out += ",\"detail\":";
    driver::appendJsonString(out, detail);
    out += ",\"status\":";
    driver::appendJsonString(out, codeName(static_cast<Code>(code)));
    out += '}';
    return out;
}

bool isToken(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!kTokenChars.is[c]) return false;
    }
    return true;
}

bool isFieldValue(std::string_view s) noexcept {
    for (char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
}

bool isConnectionHeader(std::string_view n) noexcept {
    return n == "host" || n == "content-length" || n == "connection" || n == "keep-alive" ||
           n == "transfer-encoding" || n == "upgrade" || n == "te" || n == "trailer" ||
           n == "expect" || n == "proxy-connection";
}

static bool sendable(const micro_kv& kv) noexcept {
    const std::string_view k = abi::view(kv.key), v = abi::view(kv.value);
    return isToken(k) && isFieldValue(v) && !isConnectionHeader(k);
}

FieldChoice::FieldChoice(const Response& r) noexcept
    : contentType(!r.contentType.empty() && isFieldValue(r.contentType)),
      id(!r.id.empty() && isFieldValue(r.id)) {
    for (std::size_t i = 0; i < r.extra.size() && i < 64; ++i) {
        if (!sendable(r.extra[i])) extraSkipped |= std::uint64_t{1} << i;
    }
}

bool FieldChoice::sends(const Response& r, std::size_t i) const noexcept {
    return i < 64 ? (extraSkipped >> i & 1) == 0 : sendable(r.extra[i]);
}

ResponseText::ResponseText(const Response& r) noexcept : r_(r), choice_(r) {
    const auto text = [](char(&buf)[24], long long v) {
        return std::string_view(
            buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
    };
    statusText_ = text(status_, r.status);
    lengthText_ = text(length_, static_cast<long long>(r.body.size()));
    codeText_ = text(code_, r.code);
    forEachPiece(r_, choice_, statusText_, lengthText_, codeText_,
                 [&](std::string_view s) { size_ += s.size(); });
}

void ResponseText::writeTo(char* out) const noexcept {
    forEachPiece(r_, choice_, statusText_, lengthText_, codeText_, [&](std::string_view s) {
        std::memcpy(out, s.data(), s.size());
        out += s.size();
    });
}

void appendResponse(std::string& out, const Response& r) {
    const ResponseText text(r);
    const std::size_t at = out.size();
    out.resize(at + text.size());
    text.writeTo(out.data() + at);
}

}  // namespace micro::http::mapping
