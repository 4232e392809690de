// plugin_library.hpp — one loaded plugin file, its ABI checked.
//
// open() loads the shared object with Boost.DLL (RTLD_NOW | RTLD_LOCAL, so
// two plugins never see each other's symbols), reads the frozen version
// prefix of `micro_plugin_entry` before anything else, refuses another ABI
// major, and validates every driver descriptor and table so a malformed
// plugin is an error here instead of a crash later. Errors are micro::Error
// whose message names the file; the loader adds the manifest context.
// Destruction calls the plugin's fini (if init ran) and unloads it; every
// DriverHandle holds a shared_ptr, so that happens after the last instance.
#pragma once

#include <micro/abi.h>
#include <micro/runtime.hpp>

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <string_view>

namespace micro {

class PluginLibrary {
 public:
    /// Load and validate `path`; with `host`, also run the plugin's init.
    static std::shared_ptr<PluginLibrary> open(const std::filesystem::path& path,
                                               const micro_host* host);
    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    const micro_plugin& entry() const noexcept { return *entry_; }
    const std::filesystem::path& path() const noexcept { return path_; }
    PluginInfo info() const;

    /// The descriptor exporting `name`, preferring one of `kind`; nullptr
    /// when no driver has that name.
    const micro_driver_descriptor* findDriver(std::string_view name,
                                              micro_kind kind) const noexcept;

    struct Private {
        explicit Private() = default;
    };
    explicit PluginLibrary(Private) {}

 private:
    std::filesystem::path path_;
    boost::dll::shared_library library_;
    const micro_plugin* entry_ = nullptr;
    bool initialized_ = false;
};

}  // namespace micro
