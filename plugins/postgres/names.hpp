// plugins/postgres/names.hpp — which micro database and table names the
// PostgreSQL store accepts, and the SQL schema a database maps to.
//
// Contract
//   A micro database is a namespace inside the one PostgreSQL database the
//   url names: database "orders" is the SQL schema "micro_orders"; a micro
//   table is an SQL table of that schema with the same name.
//   Valid names match [A-Za-z0-9_]{1,48}: ASCII letters, digits and '_'.
//   Anything else (quotes, spaces, ';', NUL, non-ASCII, too long) is refused
//   by checkName with INVALID_ARGUMENT naming the bad name, before any SQL
//   runs. Names are still always quoted as identifiers when put into SQL,
//   and compare case-sensitively ("Orders" and "orders" are two tables).
//   48 keeps "micro_" + name inside PostgreSQL's 63-byte identifier limit.
//   Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace micro::postgres {

inline constexpr std::size_t kMaxNameLength = 48;

/// True when `name` matches [A-Za-z0-9_]{1,48}.
bool validName(std::string_view name) noexcept;

/// Throw micro::Error(INVALID_ARGUMENT) naming `name` unless validName();
/// `what` says which name it is ("database", "table").
void checkName(std::string_view what, std::string_view name);

/// The SQL schema (unquoted) that holds micro database `database`.
std::string schemaOf(std::string_view database);

}  // namespace micro::postgres
