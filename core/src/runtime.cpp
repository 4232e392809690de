#include <micro/runtime.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <system_error>

#include "host.hpp"
#include "plugin_library.hpp"
#include "search_path.hpp"

namespace micro {

namespace fs = std::filesystem;

struct Runtime::Impl {
    // Declared first so it is destroyed last: plugins may log until unloaded.
    detail::Host host;
    fs::path manifestPath;
    std::vector<std::shared_ptr<PluginLibrary>> libraries;
    std::vector<PluginInfo> plugins;
    std::vector<LoadedSlot> loaded;
    std::optional<Registry> registry;
    std::optional<Transport> transport;
    std::optional<Broker> broker;
    std::optional<Store> store;
    std::optional<Auth> auth;
    std::optional<Sync> sync;
    std::vector<ConfigSource> configSources;

    ~Impl() {
        // Reverse of creation (kind order), then the libraries themselves.
        while (!configSources.empty()) configSources.pop_back();
        sync.reset();
        auth.reset();
        store.reset();
        broker.reset();
        transport.reset();
        registry.reset();
        libraries.clear();
    }

    [[noreturn]] void fail(const SlotSpec& spec, Code code, const std::string& what) const {
        throw Error(
            code, fmt::format("{}:{}: [{}] {}", manifestPath.string(), spec.line, spec.slot, what));
    }

    std::shared_ptr<PluginLibrary> library(const SlotSpec& spec) {
        std::vector<fs::path> candidates = detail::pluginCandidates(spec.plugin, manifestPath);
        std::error_code ec;
        auto found = std::find_if(candidates.begin(), candidates.end(),
                                  [&](const fs::path& p) { return fs::exists(p, ec); });
        if (found == candidates.end()) {
            std::string searched;
            for (const auto& c : candidates) {
                searched += (searched.empty() ? "" : ", ") + c.lexically_normal().string();
            }
            fail(spec, Code::kNotFound,
                 fmt::format("plugin '{}' not found (searched: {})", spec.plugin, searched));
        }
        fs::path path = fs::weakly_canonical(*found, ec);
        if (ec) path = found->lexically_normal();
        for (const auto& lib : libraries) {
            if (lib->path() == path) return lib;  // a .so named by several slots loads once
        }
        try {
            libraries.push_back(PluginLibrary::open(path, host.table()));
        } catch (const Error& e) {
            fail(spec, e.code(), fmt::format("plugin {}", e.what()));
        }
        plugins.push_back(libraries.back()->info());
        return libraries.back();
    }

    static bool isFacadeKey(micro_kind kind, std::string_view key) noexcept {
        return kind == MICRO_KIND_BROKER && (key == "max_body_bytes" || key == "max_topic_bytes");
    }

    // The facade's own keys in the [broker] table; drivers never see them.
    BrokerLimits brokerLimits(const SlotSpec& spec) const {
        BrokerLimits limits;
        for (const auto& [key, value] : spec.config) {
            std::size_t* field = key == "max_body_bytes"    ? &limits.maxBodyBytes
                                 : key == "max_topic_bytes" ? &limits.maxTopicBytes
                                                            : nullptr;
            if (field == nullptr) continue;
            std::size_t parsed = 0;
            auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
            if (ec != std::errc() || end != value.data() + value.size() || parsed == 0) {
                fail(spec, Code::kInvalidArgument,
                     fmt::format("'{}' must be a positive integer, not '{}'", key, value));
            }
            *field = parsed;
        }
        return limits;
    }

    DriverHandle instantiate(const SlotSpec& spec) {
        std::shared_ptr<PluginLibrary> lib = library(spec);
        const micro_driver_descriptor* d = lib->findDriver(spec.driver, spec.kind);
        std::string file = lib->path().filename().string();
        if (d == nullptr) {
            std::string exported;
            for (const auto& drv : lib->info().drivers) {
                exported += fmt::format("{}{} '{}'", exported.empty() ? "" : ", ",
                                        kindName(drv.kind), drv.name);
            }
            fail(spec, Code::kNotFound,
                 fmt::format("driver '{}' is not exported by {} (it exports: {})", spec.driver,
                             file, exported.empty() ? "nothing" : exported));
        }
        if (d->kind != spec.kind) {
            fail(spec, Code::kInvalidArgument,
                 fmt::format("driver '{}' in {} is a {} driver, but this slot needs a {} driver",
                             spec.driver, file, kindName(d->kind), kindName(spec.kind)));
        }
        std::vector<micro_kv> entries;
        entries.reserve(spec.config.size());
        for (const auto& [key, value] : spec.config) {
            if (isFacadeKey(spec.kind, key)) continue;  // the core's, not the driver's
            entries.push_back({abi::str(key), abi::str(value)});
        }
        micro_config config{entries.data(), entries.size()};
        micro_error err{};
        void* self = nullptr;
        micro_code code =
            d->driver->create(host.table(), abi::str(spec.slot), &config, &self, &err);
        if (code != MICRO_OK || self == nullptr) {
            fail(spec, code != MICRO_OK ? static_cast<Code>(code) : Code::kInternal,
                 fmt::format("driver '{}' in {} refused to start: {}", spec.driver, file,
                             code != MICRO_OK ? err.message : "create returned no instance"));
        }
        loaded.push_back({spec.slot, spec.driver, lib->path()});
        return DriverHandle(lib, d, self, spec.slot);
    }
};

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

Runtime Runtime::load(const fs::path& manifestFile) { return load(Manifest::load(manifestFile)); }

Runtime Runtime::load(const Manifest& manifest) {
    auto impl = std::make_unique<Impl>();
    impl->manifestPath = manifest.path;
    for (const SlotSpec& spec : manifest.slots) {
        DriverHandle handle = impl->instantiate(spec);
        switch (spec.kind) {
            case MICRO_KIND_REGISTRY:
                impl->host.offerRegistry(handle.table<micro_registry_driver>(), handle.self());
                impl->registry.emplace(std::move(handle));
                break;
            case MICRO_KIND_TRANSPORT:
                impl->host.offerTransport(handle.table<micro_transport_driver>(), handle.self(),
                                          handle.descriptor().name);
                impl->transport.emplace(std::move(handle));
                break;
            case MICRO_KIND_BROKER:
                impl->broker.emplace(std::move(handle), impl->brokerLimits(spec));
                break;
            case MICRO_KIND_STORE:
                impl->store.emplace(std::move(handle));
                break;
            case MICRO_KIND_AUTH:
                impl->auth.emplace(std::move(handle));
                break;
            case MICRO_KIND_SYNC:
                impl->sync.emplace(std::move(handle));
                break;
            default:
                impl->configSources.emplace_back(std::move(handle));
                break;
        }
    }
    return Runtime(std::move(impl));
}

namespace {
template <typename T>
T& require(std::optional<T>& slot, const char* name, const fs::path& manifest) {
    if (!slot) {
        throw Error(Code::kFailedPrecondition,
                    fmt::format("{}: no [{}] slot in the manifest", manifest.string(), name));
    }
    return *slot;
}
}  // namespace

Registry& Runtime::registry() { return require(impl_->registry, "registry", impl_->manifestPath); }
Transport& Runtime::transport() {
    return require(impl_->transport, "transport", impl_->manifestPath);
}
Broker& Runtime::broker() { return require(impl_->broker, "broker", impl_->manifestPath); }
Store& Runtime::store() { return require(impl_->store, "store", impl_->manifestPath); }
Auth& Runtime::auth() { return require(impl_->auth, "auth", impl_->manifestPath); }
Sync& Runtime::sync() { return require(impl_->sync, "sync", impl_->manifestPath); }
std::vector<ConfigSource>& Runtime::configSources() { return impl_->configSources; }

bool Runtime::has(std::string_view slot) const noexcept {
    if (slot == "config.source") return !impl_->configSources.empty();
    return std::any_of(impl_->loaded.begin(), impl_->loaded.end(),
                       [&](const LoadedSlot& s) { return s.slot == slot; });
}
const std::vector<LoadedSlot>& Runtime::loaded() const noexcept { return impl_->loaded; }
const std::vector<PluginInfo>& Runtime::plugins() const noexcept { return impl_->plugins; }
const fs::path& Runtime::manifestPath() const noexcept { return impl_->manifestPath; }

}  // namespace micro
