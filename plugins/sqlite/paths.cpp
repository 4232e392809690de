#include "paths.hpp"

#include <micro/error.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace micro::sqlite {

namespace {

std::string env(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? std::string(value) : std::string();
}

std::string privateTmpDir() { return "/tmp/micro-" + std::to_string(::getuid()); }

[[noreturn]] void failDir(const std::string& dir, const std::string& why) {
    throw Error(Code::kInvalidArgument, "cannot use folder '" + dir + "': " + why);
}

}  // namespace

std::string defaultRegistryPath() {
    if (std::string p = env("MICRO_REGISTRY_PATH"); !p.empty()) return p;
    if (std::string run = env("XDG_RUNTIME_DIR"); !run.empty()) return run + "/micro/registry.db";
    return privateTmpDir() + "/registry.db";
}

std::string defaultStoreDir() {
    if (std::string data = env("XDG_DATA_HOME"); !data.empty()) return data + "/micro/store";
    if (std::string home = env("HOME"); !home.empty()) return home + "/.local/share/micro/store";
    return privateTmpDir() + "/store";
}

void ensureDirectory(const std::string& dir) {
    namespace fs = std::filesystem;
    fs::path target = fs::path(dir).lexically_normal();
    fs::path partial;
    for (const auto& part : target) {
        partial /= part;
        if (part.empty() || part == "/" || part == "." || part == "..") continue;
        const std::string p = partial.string();
        if (::mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) {
            failDir(p, std::strerror(errno));
        }
    }
    struct stat st {};
    const std::string t = target.string();
    if (::lstat(t.c_str(), &st) != 0) failDir(t, std::strerror(errno));
    if (t == privateTmpDir()) {
        if (!S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) {
            failDir(t, "not a directory owned by uid " + std::to_string(::getuid()) +
                           " (remove it, or set 'path')");
        }
        return;
    }
    if (::stat(t.c_str(), &st) != 0) failDir(t, std::strerror(errno));
    if (!S_ISDIR(st.st_mode)) failDir(t, "not a directory");
}

void ensureParentDirectory(const std::string& file) {
    std::filesystem::path parent = std::filesystem::path(file).parent_path();
    if (parent.empty()) return;
    ensureDirectory(parent.string());
}

}  // namespace micro::sqlite
