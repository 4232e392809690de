#include "plugin_library.hpp"

#include <micro/error.hpp>

#include <dlfcn.h>
#include <fmt/core.h>

#include <cstddef>
#include <fstream>
#include <system_error>

namespace micro {

namespace {

namespace fs = std::filesystem;

// The least each struct must hold: its size at ABI 1.0, written as "through
// its last 1.0 member" so these stay fixed when a minor appends members.
#define MICRO_SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type*)0)->member))

constexpr std::size_t kMinPluginSize = MICRO_SIZE_THROUGH(micro_plugin, fini);
constexpr std::size_t kMinDescriptorSize = MICRO_SIZE_THROUGH(micro_driver_descriptor, driver);

std::size_t minTableSize(micro_kind kind) noexcept {
    switch (kind) {
        case MICRO_KIND_REGISTRY:
            return MICRO_SIZE_THROUGH(micro_registry_driver, unwatch);
        case MICRO_KIND_TRANSPORT:
            return MICRO_SIZE_THROUGH(micro_transport_driver, close);
        // ack is optional: required through unsubscribe.
        case MICRO_KIND_BROKER:
            return MICRO_SIZE_THROUGH(micro_broker_driver, unsubscribe);
        case MICRO_KIND_STORE:
            return MICRO_SIZE_THROUGH(micro_store_driver, erase);
        case MICRO_KIND_AUTH:
            return MICRO_SIZE_THROUGH(micro_auth_driver, inspect);
        case MICRO_KIND_SYNC:
            return MICRO_SIZE_THROUGH(micro_sync_driver, leader);
        // watch/unwatch are optional: required through read.
        case MICRO_KIND_CONFIG_SOURCE:
            return MICRO_SIZE_THROUGH(micro_config_source_driver, read);
        default:
            return 0;
    }
}

// Every required function pointer of a table, checked as raw words so the
// check is one loop per kind instead of a list of named members.
bool requiredFunctionsPresent(const micro_driver_base* base, std::size_t minSize) noexcept {
    if (base->create == nullptr || base->destroy == nullptr) return false;
    const auto* words = reinterpret_cast<const void* const*>(reinterpret_cast<const char*>(base) +
                                                             sizeof(micro_driver_base));
    std::size_t count = (minSize - sizeof(micro_driver_base)) / sizeof(void*);
    for (std::size_t i = 0; i < count; ++i) {
        if (words[i] == nullptr) return false;
    }
    return true;
}

std::string describeLoadFailure(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return "file does not exist";
    if (!fs::is_regular_file(path, ec)) return "not a regular file";
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, sizeof(magic));
    if (in.gcount() != 4 || magic[0] != 0x7f || magic[1] != 'E' || magic[2] != 'L' ||
        magic[3] != 'F') {
        return "not a shared object (no ELF header)";
    }
    // Boost.DLL clears dlerror(); ask the dynamic loader once more for its
    // reason (missing dependency, wrong architecture, undefined symbol).
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
        ::dlclose(handle);
        return "could not be loaded";
    }
    const char* reason = ::dlerror();
    return reason != nullptr ? std::string(reason) : "could not be loaded";
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::open(const fs::path& path, const micro_host* host) {
    auto lib = std::make_shared<PluginLibrary>(Private{});
    lib->path_ = path;
    std::error_code ec;
    lib->library_.load(path, ec,
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    if (ec) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("'{}': {}", path.string(), describeLoadFailure(path)));
    }
    if (!lib->library_.has(MICRO_PLUGIN_ENTRY_SYMBOL)) {
        throw Error(Code::kInvalidArgument, fmt::format("'{}': not a micro plugin (no '{}' symbol)",
                                                        path.string(), MICRO_PLUGIN_ENTRY_SYMBOL));
    }
    const auto& entry = lib->library_.get<const micro_plugin>(MICRO_PLUGIN_ENTRY_SYMBOL);
    // The frozen prefix first: nothing else is trusted before the major matches.
    if (entry.abi_major != MICRO_ABI_MAJOR) {
        throw Error(Code::kFailedPrecondition,
                    fmt::format("'{}': plugin ABI {}.{} is incompatible with this core's ABI "
                                "{}.{} (major {} != {})",
                                path.string(), entry.abi_major, entry.abi_minor, MICRO_ABI_MAJOR,
                                MICRO_ABI_MINOR, entry.abi_major, MICRO_ABI_MAJOR));
    }
    if (entry.struct_size < kMinPluginSize) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("'{}': micro_plugin_entry is {} bytes, ABI {}.0 needs {}",
                                path.string(), entry.struct_size, MICRO_ABI_MAJOR, kMinPluginSize));
    }
    if (entry.name == nullptr || entry.version == nullptr ||
        (entry.driver_count > 0 && entry.drivers == nullptr)) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("'{}': micro_plugin_entry lacks its name, version or drivers",
                                path.string()));
    }
    for (std::uint32_t i = 0; i < entry.driver_count; ++i) {
        const micro_driver_descriptor* d = entry.drivers[i];
        std::size_t minSize = d != nullptr ? minTableSize(d->kind) : 0;
        if (d == nullptr || d->struct_size < kMinDescriptorSize || d->name == nullptr ||
            d->version == nullptr || d->driver == nullptr) {
            throw Error(Code::kInvalidArgument,
                        fmt::format("'{}': driver descriptor #{} is malformed", path.string(), i));
        }
        if (minSize == 0) {
            throw Error(Code::kInvalidArgument, fmt::format("'{}': driver '{}' has unknown kind {}",
                                                            path.string(), d->name, d->kind));
        }
        if (d->driver->struct_size < minSize || !requiredFunctionsPresent(d->driver, minSize)) {
            throw Error(Code::kInvalidArgument,
                        fmt::format("'{}': {} driver '{}' has an incomplete function table",
                                    path.string(), kindName(d->kind), d->name));
        }
    }
    lib->entry_ = &entry;
    if (host != nullptr && entry.init != nullptr) {
        micro_error err{};
        micro_code code = entry.init(host, &err);
        if (code != MICRO_OK) {
            throw Error(static_cast<Code>(code),
                        fmt::format("'{}': plugin init failed: {}", path.string(), err.message));
        }
        lib->initialized_ = true;
    }
    return lib;
}

PluginLibrary::~PluginLibrary() {
    if (initialized_ && entry_->fini != nullptr) entry_->fini();
}

PluginInfo PluginLibrary::info() const {
    PluginInfo info;
    info.path = path_;
    info.name = entry_->name;
    info.version = entry_->version;
    info.description = entry_->description != nullptr ? entry_->description : "";
    info.abiMajor = entry_->abi_major;
    info.abiMinor = entry_->abi_minor;
    for (std::uint32_t i = 0; i < entry_->driver_count; ++i) {
        const micro_driver_descriptor* d = entry_->drivers[i];
        info.drivers.push_back(
            {d->kind, d->name, d->version, d->description != nullptr ? d->description : ""});
    }
    return info;
}

const micro_driver_descriptor* PluginLibrary::findDriver(std::string_view name,
                                                         micro_kind kind) const noexcept {
    const micro_driver_descriptor* other = nullptr;
    for (std::uint32_t i = 0; i < entry_->driver_count; ++i) {
        const micro_driver_descriptor* d = entry_->drivers[i];
        if (name != d->name) continue;
        if (d->kind == kind) return d;
        other = d;
    }
    return other;
}

PluginInfo inspectPlugin(const std::filesystem::path& file) {
    return PluginLibrary::open(file, nullptr)->info();
}

}  // namespace micro
