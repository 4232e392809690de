// micro/abi_view.hpp — zero-copy conversions between abi.h's (pointer, length)
// types and C++ views. Nothing here allocates; every view borrows, so it is
// valid only as long as the data it points at (see abi.h's OWNERSHIP rules).
#pragma once

#include <micro/abi.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace micro::abi {

inline micro_str str(std::string_view s) noexcept { return micro_str{s.data(), s.size()}; }

inline micro_bytes bytes(std::string_view s) noexcept {
    return micro_bytes{reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline std::string_view view(micro_str s) noexcept {
    return s.size == 0 ? std::string_view{} : std::string_view{s.data, s.size};
}

inline std::string_view view(micro_bytes b) noexcept {
    return b.size == 0 ? std::string_view{}
                       : std::string_view{reinterpret_cast<const char*>(b.data), b.size};
}

inline std::span<const micro_kv> view(const micro_kv* kv, std::size_t n) noexcept {
    return n == 0 ? std::span<const micro_kv>{} : std::span<const micro_kv>{kv, n};
}

/// Fill a caller-owned micro_error (truncating the message to fit) and
/// return the code, for the `return fail(err, ...)` idiom in thunks.
inline micro_code fail(micro_error* err, micro_code code, std::string_view message) noexcept {
    if (err != nullptr) {
        err->code = code;
        std::size_t n =
            message.size() < sizeof(err->message) - 1 ? message.size() : sizeof(err->message) - 1;
        if (n > 0) std::memcpy(err->message, message.data(), n);
        err->message[n] = '\0';
    }
    return code;
}

}  // namespace micro::abi
