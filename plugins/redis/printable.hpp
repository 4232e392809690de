// plugins/redis/printable.hpp — the SDK's byte-quoting helper, under this
// plugin's namespace (keys and names are bytes; messages stay one line).
#pragma once

#include <micro/driver/text.hpp>

namespace micro::redis {

using micro::driver::printable;

}  // namespace micro::redis
