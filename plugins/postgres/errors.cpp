#include "errors.hpp"

namespace micro::postgres {

std::string firstLine(std::string_view message) {
    for (std::string_view prefix : {"ERROR:  ", "FATAL:  ", "ERROR: ", "FATAL: "}) {
        if (message.starts_with(prefix)) {
            message.remove_prefix(prefix.size());
            break;
        }
    }
    const auto end = message.find('\n');
    if (end != std::string_view::npos) message = message.substr(0, end);
    while (!message.empty() &&
           (message.back() == ' ' || message.back() == '\r' || message.back() == '\t')) {
        message.remove_suffix(1);
    }
    return std::string(message);
}

bool sessionLost(std::string_view sqlstate) noexcept {
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03";
}

bool undefinedTable(std::string_view sqlstate) noexcept {
    return sqlstate == "42P01" || sqlstate == "3F000";
}

Error translateSqlError(std::string_view label, std::string_view sqlstate, std::string_view message,
                        std::int64_t statementTimeoutMs) {
    const std::string prefix = "postgres " + std::string(label) + ": ";
    const std::string text = firstLine(message) + " (SQLSTATE " + std::string(sqlstate) + ")";
    if (sqlstate == "57014") {
        return Error(Code::kDeadlineExceeded,
                     prefix + "statement timed out after statement_timeout_ms (" +
                         std::to_string(statementTimeoutMs) + "): " + text);
    }
    if (sessionLost(sqlstate)) return Error(Code::kUnavailable, prefix + text);
    if (sqlstate.starts_with("40")) return Error(Code::kAborted, prefix + text);
    if (sqlstate.starts_with("53")) return Error(Code::kResourceExhausted, prefix + text);
    if (sqlstate.starts_with("22") || sqlstate.starts_with("54")) {
        return Error(Code::kInvalidArgument, prefix + text);
    }
    if (sqlstate == "42501") return Error(Code::kPermissionDenied, prefix + text);
    if (sqlstate.starts_with("28")) return Error(Code::kUnauthenticated, prefix + text);
    return Error(Code::kInternal, prefix + text);
}

Error connectError(std::string_view label, std::string_view message) {
    const std::string text =
        "postgres " + std::string(label) + ": cannot connect: " + firstLine(message);
    if (message.find("authentication failed") != std::string_view::npos) {
        return Error(Code::kUnauthenticated, text);
    }
    return Error(Code::kUnavailable, text);
}

}  // namespace micro::postgres
