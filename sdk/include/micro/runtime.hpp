// micro/runtime.hpp — everything a manifest selects, loaded and instantiated.
//
// A host embeds micro in a few lines:
//
//     micro::Runtime rt = micro::Runtime::load(micro::findManifest(std::nullopt));
//     rt.store().write({.key = "k", .value = "v"});
//
// Loading is all-or-nothing: the first error (bad manifest, missing .so,
// wrong ABI major, unknown driver, a driver rejecting its config) throws
// micro::Error with one line naming the manifest and the key, and whatever
// was loaded so far is torn down again. There is no global state: two
// Runtimes in one process are independent. Destruction destroys instances in
// reverse order of creation, then finalizes and unloads each plugin.
// Accessors are thread-safe; load and destruction are not.
#pragma once

#include <micro/auth.hpp>
#include <micro/broker.hpp>
#include <micro/config_source.hpp>
#include <micro/manifest.hpp>
#include <micro/registry.hpp>
#include <micro/store.hpp>
#include <micro/sync.hpp>
#include <micro/transport.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace micro {

/// What one loaded plugin file declares (also what `micro plugins inspect`
/// prints).
struct PluginInfo {
    std::filesystem::path path;
    std::string name;
    std::string version;
    std::string description;
    unsigned abiMajor = 0;
    unsigned abiMinor = 0;
    struct Driver {
        micro_kind kind = 0;
        std::string name;
        std::string version;
        std::string description;
    };
    std::vector<Driver> drivers;
};

/// Read a plugin file's declarations without instantiating anything
/// (its `init` is not called). Throws micro::Error naming the file.
PluginInfo inspectPlugin(const std::filesystem::path& file);

/// One instantiated slot, for reports.
struct LoadedSlot {
    std::string slot;
    std::string driver;
    std::filesystem::path plugin;
};

class Runtime {
 public:
    static Runtime load(const std::filesystem::path& manifestFile);
    static Runtime load(const Manifest& manifest);

    Runtime(Runtime&&) noexcept;
    Runtime& operator=(Runtime&&) noexcept;
    ~Runtime();

    /// The driver of each slot; throws FAILED_PRECONDITION naming the slot
    /// when the manifest left it out.
    Registry& registry();
    Transport& transport();
    Broker& broker();
    Store& store();
    Auth& auth();
    Sync& sync();
    std::vector<ConfigSource>& configSources();

    bool has(std::string_view slot) const noexcept;
    const std::vector<LoadedSlot>& loaded() const noexcept;
    const std::vector<PluginInfo>& plugins() const noexcept;
    const std::filesystem::path& manifestPath() const noexcept;

 private:
    struct Impl;
    explicit Runtime(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro
