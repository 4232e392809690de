#include "search_path.hpp"

#include <micro/error.hpp>
#include <micro/manifest.hpp>

#include <fmt/core.h>
#include <boost/dll/runtime_symbol_info.hpp>

#include <cstdlib>
#include <sstream>
#include <system_error>

namespace micro::detail {

namespace fs = std::filesystem;

fs::path executableDir() {
    std::error_code ec;
    fs::path exe = boost::dll::program_location(ec);
    return ec ? fs::path() : exe.parent_path();
}

fs::path libraryDir() {
    std::error_code ec;
    fs::path lib = boost::dll::this_line_location(ec);
    return ec ? fs::path() : lib.parent_path();
}

std::vector<fs::path> pluginCandidates(const std::string& plugin, const fs::path& manifest) {
    fs::path manifestDir = manifest.parent_path();
    if (manifestDir.empty()) manifestDir = ".";
    if (plugin.find('/') != std::string::npos) {
        fs::path p(plugin);
        return {p.is_absolute() ? p : manifestDir / p};
    }
    std::vector<fs::path> out{manifestDir / plugin};
    if (const char* env = std::getenv("MICRO_PLUGIN_PATH")) {
        std::stringstream dirs(env);
        std::string dir;
        while (std::getline(dirs, dir, ':')) {
            if (!dir.empty()) out.push_back(fs::path(dir) / plugin);
        }
    }
    if (fs::path exe = executableDir(); !exe.empty()) {
        out.push_back(exe / ".." / "lib" / "micro" / "plugins" / plugin);
    }
    if (fs::path lib = libraryDir(); !lib.empty()) {
        out.push_back(lib / "micro" / "plugins" / plugin);
    }
    return out;
}

}  // namespace micro::detail

namespace micro {

std::filesystem::path findManifest(const std::optional<std::filesystem::path>& explicitPath) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (explicitPath) {
        if (!fs::exists(*explicitPath, ec)) {
            throw Error(Code::kNotFound,
                        fmt::format("{}: manifest does not exist (given with --manifest)",
                                    explicitPath->string()));
        }
        return *explicitPath;
    }
    if (const char* env = std::getenv("MICRO_MANIFEST"); env != nullptr && *env != '\0') {
        if (!fs::exists(env, ec)) {
            throw Error(Code::kNotFound,
                        fmt::format("{}: manifest does not exist (given in MICRO_MANIFEST)", env));
        }
        return env;
    }
    std::vector<fs::path> tried{"plugins.toml"};
    if (fs::path lib = detail::libraryDir(); !lib.empty()) {
        tried.push_back(lib / ".." / "share" / "micro" / "plugins.toml");
    }
    if (fs::path exe = detail::executableDir(); !exe.empty()) {
        tried.push_back(exe / ".." / "share" / "micro" / "plugins.toml");
    }
    tried.emplace_back(MICRO_INSTALLED_MANIFEST);
    std::string list;
    for (const auto& candidate : tried) {
        if (fs::exists(candidate, ec)) return candidate.lexically_normal();
        list += (list.empty() ? "" : ", ") + candidate.string();
    }
    throw Error(Code::kNotFound, fmt::format("no manifest found (tried: {})", list));
}

}  // namespace micro
