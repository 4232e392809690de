// plugins/postgres/conninfo.hpp — turn the `url` of the driver's config
// into the libpq connection string the pool connects with.
//
// Contract
//   `url` is a libpq connection URI: postgresql://[user[:password]@]host
//   [:port][/dbname][?param=value&...] (postgres:// also accepted). It is
//   parsed by libpq itself (PQconninfoParse), so everything libpq accepts
//   works, including CockroachDB's URLs with sslmode and friends. Anything
//   that is not such a URI is refused with INVALID_ARGUMENT naming it (the
//   password, if any, shown as ***).
//   The driver adds, overriding the URI's own values of these keys:
//     connect_timeout   connect_timeout_ms rounded up to whole seconds
//                       (libpq's unit; libpq treats 1 as 2)
//     keepalives=1, keepalives_idle=5, keepalives_interval=2,
//     keepalives_count=3: a server that vanished is noticed within ~11 s
//     even mid-query
//   and application_name=micro-postgres unless the URI names one.
//   `label` is "host:port" (libpq's defaults filled in) for error messages.
//   No I/O: parsing never connects. Pure; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace micro::postgres {

struct ConnectionTarget {
    std::string conninfo;  ///< keyword='value' pairs for PQconnectdb
    std::string label;     ///< "host:port"
    std::string redacted;  ///< the url with its password as ***
};

/// Parse `url`; throws micro::Error(INVALID_ARGUMENT) naming it.
ConnectionTarget parseUrl(std::string_view url, std::int64_t connectTimeoutMs);

/// `url` with the password of its user-info part replaced by ***.
std::string redactUrl(std::string_view url);

}  // namespace micro::postgres
