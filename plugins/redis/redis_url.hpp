// plugins/redis/redis_url.hpp — the `url` key of a Redis driver's config.
//
// Contract
//   Form: redis://[[username]:password@]host[:port][/database]
//     host      a name, an IPv4 address, or an IPv6 address in brackets
//     port      1..65535, default 6379
//     database  the Redis logical database (SELECT), 0..2147483647, default 0
//     username and password are percent-decoded; a username needs a password.
//   Anything else (another scheme, a query string, an empty host, a bad
//   number) is INVALID_ARGUMENT naming the key 'url' and what was wrong,
//   quoting the url with its password replaced by "***".
//   Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace micro::redis {

struct RedisUrl {
    std::string host;
    int port = 6379;
    int database = 0;
    std::string username;  ///< empty: AUTH with the password only (or no AUTH)
    std::string password;  ///< empty: no AUTH

    /// "host:port" ("[::1]:6379" for IPv6), the name used in messages.
    std::string endpoint() const;
    /// The url as text, with the password shown as "***".
    std::string redacted() const;
};

/// Parse `text`; throws micro::Error(INVALID_ARGUMENT) naming key 'url'.
RedisUrl parseRedisUrl(std::string_view text);

}  // namespace micro::redis
