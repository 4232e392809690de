// tools/bench/flags.hpp — the flag syntax shared by the micro-bench
// subcommands: "--name VALUE" or "--name=VALUE", plus "--help". A bad flag
// throws UsageError, whose message main() prints as one line (exit 2).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro::bench {

/// A command line the subcommand cannot run with (exit status 2).
class UsageError : public std::runtime_error {
 public:
    using std::runtime_error::runtime_error;
};

class FlagParser {
 public:
    using Setter = std::function<void(std::string_view name, std::string_view value)>;

    /// A flag that takes a value.
    void add(std::string name, Setter set) { flags_.emplace_back(std::move(name), std::move(set)); }

    /// Parse `args` (the words after the subcommand). Returns false when
    /// --help (or -h) was given; throws UsageError on an unknown flag, a
    /// missing value, a stray argument or a value a setter refuses.
    bool parse(std::span<char* const> args) const;

    // Value checks for setters: each throws UsageError naming the flag.
    static std::int64_t integer(std::string_view name, std::string_view value, std::int64_t low,
                                std::int64_t high);
    /// Non-negative seconds ("5", "0.5"); `positive` refuses 0.
    static double seconds(std::string_view name, std::string_view value, bool positive);

 private:
    std::vector<std::pair<std::string, Setter>> flags_;
};

}  // namespace micro::bench
