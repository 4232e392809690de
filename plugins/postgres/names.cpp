#include "names.hpp"

#include <micro/error.hpp>

#include "common.hpp"

namespace micro::postgres {

bool validName(std::string_view name) noexcept {
    if (name.empty() || name.size() > kMaxNameLength) return false;
    for (char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) return false;
    }
    return true;
}

void checkName(std::string_view what, std::string_view name) {
    if (validName(name)) return;
    throw Error(Code::kInvalidArgument,
                "invalid " + std::string(what) + " name '" + printable(name) + "': use 1 to " +
                    std::to_string(kMaxNameLength) + " characters of [A-Za-z0-9_]");
}

std::string schemaOf(std::string_view database) { return "micro_" + std::string(database); }

}  // namespace micro::postgres
