// plugins/redis/printable.hpp — quote bytes in an error message.
//
// Contract: a pure function, safe from any thread. Keys and names are bytes
// (NUL, control characters, invalid UTF-8 are all legal), and a message must
// stay one readable line: bytes outside printable ASCII and the backslash
// become \xNN, and text longer than 64 bytes is cut with "...".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace micro::redis {

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

}  // namespace micro::redis
