// micro/driver/text.hpp — small helpers most drivers need: the clock that
// record expiry is measured in, keys made safe to quote in a message, and
// JSON string literals for documents written by hand.
//
// Contract: pure functions, no state; safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace micro::driver {

/// Wall-clock Unix milliseconds: the unit of record expiry in abi.h, and the
/// one clock every process on a host shares and that survives a restart.
inline std::int64_t unixNowMs() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// `text` made safe to quote in an error message: keys and names are bytes
/// (they may hold NUL or control characters), and a message must stay one
/// readable line. Non-printable bytes become \xNN; long text is cut at 64
/// bytes.
inline std::string printable(std::string_view text) {
    constexpr std::size_t kMax = 64;
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size() < kMax ? text.size() : kMax);
    for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else {
            out += "\\x";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        }
    }
    if (text.size() > kMax) out += "...";
    return out;
}

/// Appends `s` as a quoted JSON string: '"' and '\\' escaped, \n \r \t
/// by name, other control bytes as \u00XX; every other byte as it is (the
/// caller passes UTF-8).
inline void appendJsonString(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += "\\u00";
                    out += kHex[(c >> 4) & 0xf];
                    out += kHex[c & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

/// `s` as a quoted JSON string (see appendJsonString).
inline std::string jsonQuoted(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    appendJsonString(out, s);
    return out;
}

}  // namespace micro::driver
