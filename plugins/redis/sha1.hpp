// plugins/redis/sha1.hpp — SHA-1 of a byte string, as Redis names scripts.
//
// Contract
//   sha1Hex(text) is the lowercase hex SHA-1 digest (40 characters) of
//   `text`: the name EVALSHA and SCRIPT LOAD use for a script, so the driver
//   can send EVALSHA before any connection has loaded the script. Pure,
//   thread-safe, never fails. Not for security.
#pragma once

#include <string>
#include <string_view>

namespace micro::redis {

std::string sha1Hex(std::string_view text);

}  // namespace micro::redis
