// micro/error.hpp — the one error type of the C++ API and SDK.
//
// Contract: every fallible C++ call in micro throws micro::Error carrying a
// canonical Code (the gRPC numbering shared with abi.h) and a message that
// names what was wrong and where. At the C ABI the same Code travels as a
// micro_code; the SDK converts in both directions so no exception ever
// crosses a plugin boundary.
#pragma once

#include <micro/abi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace micro {

/// Canonical status codes; the values equal the MICRO_* constants of abi.h.
enum class Code : std::int32_t {
    kOk = MICRO_OK,
    kCancelled = MICRO_CANCELLED,
    kUnknown = MICRO_UNKNOWN,
    kInvalidArgument = MICRO_INVALID_ARGUMENT,
    kDeadlineExceeded = MICRO_DEADLINE_EXCEEDED,
    kNotFound = MICRO_NOT_FOUND,
    kAlreadyExists = MICRO_ALREADY_EXISTS,
    kPermissionDenied = MICRO_PERMISSION_DENIED,
    kResourceExhausted = MICRO_RESOURCE_EXHAUSTED,
    kFailedPrecondition = MICRO_FAILED_PRECONDITION,
    kAborted = MICRO_ABORTED,
    kOutOfRange = MICRO_OUT_OF_RANGE,
    kUnimplemented = MICRO_UNIMPLEMENTED,
    kInternal = MICRO_INTERNAL,
    kUnavailable = MICRO_UNAVAILABLE,
    kDataLoss = MICRO_DATA_LOSS,
    kUnauthenticated = MICRO_UNAUTHENTICATED,
};

/// The upper-case gRPC name of a canonical code ("NOT_FOUND") as a static
/// string, without allocating (for metric labels and hot paths); empty for
/// values outside the canonical set.
constexpr std::string_view canonicalCodeName(Code code) noexcept {
    switch (code) {
        case Code::kOk:
            return "OK";
        case Code::kCancelled:
            return "CANCELLED";
        case Code::kUnknown:
            return "UNKNOWN";
        case Code::kInvalidArgument:
            return "INVALID_ARGUMENT";
        case Code::kDeadlineExceeded:
            return "DEADLINE_EXCEEDED";
        case Code::kNotFound:
            return "NOT_FOUND";
        case Code::kAlreadyExists:
            return "ALREADY_EXISTS";
        case Code::kPermissionDenied:
            return "PERMISSION_DENIED";
        case Code::kResourceExhausted:
            return "RESOURCE_EXHAUSTED";
        case Code::kFailedPrecondition:
            return "FAILED_PRECONDITION";
        case Code::kAborted:
            return "ABORTED";
        case Code::kOutOfRange:
            return "OUT_OF_RANGE";
        case Code::kUnimplemented:
            return "UNIMPLEMENTED";
        case Code::kInternal:
            return "INTERNAL";
        case Code::kUnavailable:
            return "UNAVAILABLE";
        case Code::kDataLoss:
            return "DATA_LOSS";
        case Code::kUnauthenticated:
            return "UNAUTHENTICATED";
    }
    return {};
}

/// The upper-case gRPC name of a code ("NOT_FOUND"); "CODE_<n>" for values
/// outside the canonical set.
inline std::string codeName(Code code) {
    const std::string_view name = canonicalCodeName(code);
    if (!name.empty()) return std::string(name);
    return "CODE_" + std::to_string(static_cast<std::int32_t>(code));
}

/// A failure with a canonical code. `what()` is the message alone; use
/// `describe()` for "CODE: message".
class Error : public std::runtime_error {
 public:
    Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}

    Code code() const noexcept { return code_; }
    std::string describe() const { return codeName(code_) + ": " + what(); }

 private:
    Code code_;
};

/// Throws Error(code, message) unless code is kOk.
inline void throwIfError(std::int32_t code, std::string_view message) {
    if (code != MICRO_OK) throw Error(static_cast<Code>(code), std::string(message));
}

}  // namespace micro
