// json_text.hpp — JSON string literals for the small JSON documents the
// gateway and the admin endpoint write by hand (the SDK's helper).
#pragma once

#include <micro/driver/text.hpp>

namespace micro::http {

using micro::driver::appendJsonString;

}  // namespace micro::http
