// micro/manifest.hpp — plugins.toml: which plugin and driver fill each slot.
//
// A manifest has one table per slot — [registry], [transport], [broker],
// [store], [auth], [sync] — and an array [[config.source]]. Each has
// `plugin` (a .so file name or path) and `driver` (a driver name the plugin
// exports); every other key is the driver's own config. Parsing validates
// all of it: any error throws micro::Error(INVALID_ARGUMENT or NOT_FOUND)
// whose message is one line naming the file, the line and the key.
#pragma once

#include <micro/abi.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace micro {

/// One slot filled by one driver.
struct SlotSpec {
    std::string slot;     ///< "store", "config.source[0]", ...
    micro_kind kind = 0;  ///< the kind the slot requires
    std::string plugin;   ///< as written in the manifest
    std::string driver;
    std::vector<std::pair<std::string, std::string>> config;  ///< flattened, see abi.h
    int line = 0;  ///< line of the slot's table in the manifest
};

struct Manifest {
    std::filesystem::path path;  ///< the file it was read from
    std::vector<SlotSpec> slots;

    /// Parse `file`; throws micro::Error naming file, line and key.
    static Manifest load(const std::filesystem::path& file);
    /// Parse TOML text; `path` is used for messages and relative plugin paths.
    static Manifest parse(std::string_view text, const std::filesystem::path& path);
};

/// The manifest a tool or host should use: `explicitPath` when given, else
/// $MICRO_MANIFEST, else ./plugins.toml, else the installed default.
/// Throws NOT_FOUND listing what was tried.
std::filesystem::path findManifest(const std::optional<std::filesystem::path>& explicitPath);

/// The kind name used in messages and the CLI ("store"); "unknown" otherwise.
const char* kindName(micro_kind kind) noexcept;

}  // namespace micro
