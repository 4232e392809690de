#include "redis_url.hpp"

#include <micro/error.hpp>

#include <charconv>
#include <cstdint>

#include "printable.hpp"

namespace micro::redis {

namespace {

constexpr std::string_view kScheme = "redis://";
constexpr std::string_view kForm = "redis://[[username]:password@]host[:port][/database]";

/// `text` with the password part of its authority (if any) masked, for
/// quoting a url that failed to parse.
std::string maskPassword(std::string_view text) {
    if (!text.starts_with(kScheme)) return printable(text);
    std::string_view rest = text.substr(kScheme.size());
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::size_t at = authority.rfind('@');
    if (at == std::string_view::npos) return printable(text);
    std::string_view userinfo = authority.substr(0, at);
    std::size_t colon = userinfo.find(':');
    std::string masked(kScheme);
    masked += colon == std::string_view::npos ? std::string(userinfo)
                                              : std::string(userinfo.substr(0, colon + 1)) + "***";
    masked += rest.substr(at);
    return printable(masked);
}

[[noreturn]] void bad(std::string_view text, std::string_view why) {
    throw Error(Code::kInvalidArgument, "key 'url': " + std::string(why) + " in '" +
                                            maskPassword(text) + "' (expected " +
                                            std::string(kForm) + ")");
}

int hexDigit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percentDecode(std::string_view text, std::string_view in, std::string_view what) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out.push_back(in[i]);
            continue;
        }
        int hi = i + 2 < in.size() ? hexDigit(in[i + 1]) : -1;
        int lo = i + 2 < in.size() ? hexDigit(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) bad(text, "a bad percent escape in the " + std::string(what));
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

/// A decimal integer in [min, max]; anything else fails through `bad`.
int number(std::string_view text, std::string_view digits, int min, int max,
           std::string_view what) {
    std::int64_t value = 0;
    const char* end = digits.data() + digits.size();
    bool allDigits = !digits.empty() && digits.size() <= 10;
    for (char c : digits) allDigits = allDigits && c >= '0' && c <= '9';
    if (!allDigits) bad(text, "the " + std::string(what) + " is not a number");
    auto [ptr, ec] = std::from_chars(digits.data(), end, value);
    if (ec != std::errc() || ptr != end || value < min || value > max) {
        bad(text, "the " + std::string(what) + " must be between " + std::to_string(min) + " and " +
                      std::to_string(max));
    }
    return static_cast<int>(value);
}

}  // namespace

std::string RedisUrl::endpoint() const {
    bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string RedisUrl::redacted() const {
    std::string out(kScheme);
    if (!password.empty()) out += username + ":***@";
    out += endpoint() + "/" + std::to_string(database);
    return out;
}

RedisUrl parseRedisUrl(std::string_view text) {
    if (text.empty()) bad(text, "empty url");
    if (!text.starts_with(kScheme)) {
        bad(text, text.starts_with("rediss://") ? "TLS (rediss://) is not supported"
                                                : "the scheme must be redis://");
    }
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) bad(text, "a space or control character");
    }
    std::string_view rest = text.substr(kScheme.size());
    if (rest.find_first_of("?#") != std::string_view::npos) {
        bad(text, "query parameters and fragments are not supported");
    }
    std::size_t slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    std::string_view path =
        slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    RedisUrl url;

    if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        std::size_t colon = userinfo.find(':');
        if (colon == std::string_view::npos) bad(text, "a username without a password");
        url.username = percentDecode(text, userinfo.substr(0, colon), "username");
        url.password = percentDecode(text, userinfo.substr(colon + 1), "password");
        if (url.password.empty()) bad(text, "an empty password");
    }

    std::string_view port;
    if (authority.starts_with('[')) {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) bad(text, "an IPv6 address without ']'");
        url.host = std::string(authority.substr(1, close - 1));
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) bad(text, "text after the IPv6 address");
            port = after.substr(1);
            if (port.empty()) bad(text, "an empty port");
        }
    } else {
        std::size_t colon = authority.find(':');
        url.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) bad(text, "an empty port");
        }
        if (url.host.find_first_of("[]@:") != std::string::npos) bad(text, "a bad host");
    }
    if (url.host.empty()) bad(text, "no host");
    if (!port.empty()) url.port = number(text, port, 1, 65535, "port");
    if (!path.empty()) url.database = number(text, path, 0, 2147483647, "database number");
    return url;
}

}  // namespace micro::redis
