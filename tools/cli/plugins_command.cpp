// `micro plugins inspect FILE.so` and `micro plugins check`.
#include <micro/driver/text.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>

#include "commands.hpp"

namespace micro::cli {

int pluginsInspect(const Options& options) {
    if (options.args.size() != 1) {
        throw Error(Code::kInvalidArgument, "usage: micro plugins inspect FILE.so");
    }
    PluginInfo info = inspectPlugin(options.args[0]);
    if (options.json) {
        std::string drivers;
        for (const auto& d : info.drivers) {
            drivers += fmt::format(
                "{}{{\"kind\":\"{}\",\"name\":{},\"version\":{},\"description\":{}}}",
                drivers.empty() ? "" : ",", kindName(d.kind), driver::jsonQuoted(d.name),
                driver::jsonQuoted(d.version), driver::jsonQuoted(d.description));
        }
        fmt::print(
            "{{\"file\":{},\"name\":{},\"version\":{},\"description\":{},"
            "\"abi\":\"{}.{}\",\"drivers\":[{}]}}\n",
            driver::jsonQuoted(info.path.string()), driver::jsonQuoted(info.name),
            driver::jsonQuoted(info.version), driver::jsonQuoted(info.description), info.abiMajor,
            info.abiMinor, drivers);
        return 0;
    }
    fmt::print("file:        {}\n", info.path.string());
    fmt::print("plugin:      {} {}\n", info.name, info.version);
    fmt::print("description: {}\n", info.description);
    fmt::print("abi:         {}.{} (this core: {}.{})\n", info.abiMajor, info.abiMinor,
               MICRO_ABI_MAJOR, MICRO_ABI_MINOR);
    fmt::print("drivers:\n");
    fmt::print("  {:<14} {:<10} {:<9} {}\n", "KIND", "NAME", "VERSION", "DESCRIPTION");
    for (const auto& d : info.drivers) {
        fmt::print("  {:<14} {:<10} {:<9} {}\n", kindName(d.kind), d.name, d.version,
                   d.description);
    }
    return 0;
}

int pluginsCheck(const Options& options) {
    if (!options.args.empty()) {
        throw Error(Code::kInvalidArgument, "usage: micro plugins check [--manifest FILE]");
    }
    std::filesystem::path manifest = findManifest(options.manifest);
    Runtime runtime = Runtime::load(manifest);
    fmt::print("manifest: {}\n", manifest.string());
    for (const auto& p : runtime.plugins()) {
        fmt::print("plugin:   {} {} (ABI {}.{}) from {}\n", p.name, p.version, p.abiMajor,
                   p.abiMinor, p.path.string());
    }
    for (const auto& s : runtime.loaded()) {
        fmt::print("  [{}] driver '{}' from {}\n", s.slot, s.driver, s.plugin.filename().string());
    }
    fmt::print("ok: {} slot(s) ready\n", runtime.loaded().size());
    return 0;
}

}  // namespace micro::cli
