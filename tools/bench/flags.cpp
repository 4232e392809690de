#include "flags.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace micro::bench {

bool FlagParser::parse(std::span<char* const> args) const {
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--help" || arg == "-h") return false;
        if (!arg.starts_with("--") || arg.size() == 2) {
            throw UsageError("unexpected argument '" + std::string(arg) + "'");
        }
        std::string_view name = arg;
        std::string_view value;
        bool hasValue = false;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            hasValue = true;
        }
        const Setter* set = nullptr;
        for (const auto& [known, setter] : flags_) {
            if (known == name) set = &setter;
        }
        if (set == nullptr) throw UsageError("unknown flag '" + std::string(name) + "'");
        if (!hasValue) {
            if (i + 1 == args.size())
                throw UsageError("flag '" + std::string(name) + "' needs a value");
            value = args[++i];
        }
        (*set)(name, value);
    }
    return true;
}

std::int64_t FlagParser::integer(std::string_view name, std::string_view value, std::int64_t low,
                                 std::int64_t high) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty() || v < low ||
        v > high) {
        throw UsageError("flag '" + std::string(name) + "': expected an integer from " +
                         std::to_string(low) + " to " + std::to_string(high) + ", got '" +
                         std::string(value) + "'");
    }
    return v;
}

double FlagParser::seconds(std::string_view name, std::string_view value, bool positive) {
    std::string text(value);
    char* end = nullptr;
    double v = text.empty() ? -1 : std::strtod(text.c_str(), &end);
    bool ok = !text.empty() && end == text.c_str() + text.size() && std::isfinite(v) &&
              (positive ? v > 0 : v >= 0) && v <= 86400;
    if (!ok) {
        throw UsageError("flag '" + std::string(name) + "': expected " +
                         (positive ? "a number of seconds above 0" : "a number of seconds >= 0") +
                         " (at most 86400), got '" + text + "'");
    }
    return v;
}

}  // namespace micro::bench
