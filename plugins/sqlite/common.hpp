// plugins/sqlite/common.hpp — the SDK's text and clock helpers, under this
// plugin's namespace for brevity.
#pragma once

#include <micro/driver/text.hpp>

namespace micro::sqlite {

using micro::driver::printable;
using micro::driver::unixNowMs;

}  // namespace micro::sqlite
