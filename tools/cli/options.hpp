// options.hpp — the command line shared by every `micro` verb: positional
// arguments plus --manifest FILE (or --manifest=FILE), --help, --json.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace micro::cli {

struct Options {
    std::vector<std::string> args;  ///< positionals after the verb(s)
    std::optional<std::filesystem::path> manifest;
    bool help = false;
    bool json = false;
    bool stream = false;                        ///< micro call --stream
    std::chrono::milliseconds timeout{5000};  ///< --timeout MS

    /// Parse argv[first..]; throws micro::Error(INVALID_ARGUMENT) naming an
    /// unknown flag or a flag missing its value.
    /// With `passThrough`, only --manifest and --help are taken; every other
    /// argument (flags included) is left in `args` for the verb to parse.
    static Options parse(int argc, char** argv, int first, bool passThrough = false);
};

}  // namespace micro::cli
