// plugins/postgres/errors.hpp — what a PostgreSQL failure means to a micro
// caller: one canonical code and one line naming the server.
//
// Contract
//   Every message starts with "postgres <host:port>: " and carries the
//   first line of the server's or libpq's text (no SQL, no parameters).
//   Codes, by SQLSTATE class:
//     08xxx, 57P01-57P03 (connection lost, server shutting down or
//       starting up)                           UNAVAILABLE
//     57014 (statement_timeout)                DEADLINE_EXCEEDED
//     40xxx (serialization failure, deadlock)  ABORTED (the store retries
//                                              40001 and 40P01 first)
//     53xxx (disk full, out of memory, too many connections)
//                                              RESOURCE_EXHAUSTED
//     22xxx (data exception), 54xxx (program limit, e.g. an index row too
//       large)                                 INVALID_ARGUMENT
//     42501, 28xxx (privilege, authorization)  PERMISSION_DENIED /
//                                              UNAUTHENTICATED
//     anything else                            INTERNAL
//   Pure functions; safe from any thread.
#pragma once

#include <micro/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace micro::postgres {

/// The first line of a libpq or server message, without a leading
/// "ERROR:  " / "FATAL:  " and trailing whitespace.
std::string firstLine(std::string_view message);

/// True when `sqlstate` says the session is gone or the server cannot take
/// work now: the call may be retried on a fresh connection.
bool sessionLost(std::string_view sqlstate) noexcept;

/// True when `sqlstate` says a relation or schema does not exist.
bool undefinedTable(std::string_view sqlstate) noexcept;

/// The micro::Error for an SQL error with `sqlstate` and `message`.
Error translateSqlError(std::string_view label, std::string_view sqlstate, std::string_view message,
                        std::int64_t statementTimeoutMs);

/// The micro::Error for a failed connection attempt (libpq's message):
/// UNAUTHENTICATED for a rejected password, UNAVAILABLE otherwise.
Error connectError(std::string_view label, std::string_view message);

}  // namespace micro::postgres
