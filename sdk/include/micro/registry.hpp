// micro/registry.hpp — opaque node records under (service, node) with a TTL.
//
// Contract: thread-safe; blocking calls. The record is opaque bytes here:
// the service runtime owns its schema. A Watch stops when destroyed; after
// its destructor returns the callback is never called again.
#pragma once

#include <micro/driver_handle.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace micro {

struct Node {
    std::string service{};
    std::string node{};
    std::string record{};
    std::chrono::milliseconds ttl{0};  ///< 0: never expires
};

enum class RegistryEvent {
    kCreated = MICRO_REGISTRY_CREATED,
    kUpdated = MICRO_REGISTRY_UPDATED,
    kDeleted = MICRO_REGISTRY_DELETED
};

class Watch {
 public:
    Watch() noexcept;
    Watch(Watch&&) noexcept;
    Watch& operator=(Watch&&) noexcept;
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();
    void stop() noexcept;
    explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
    friend class Registry;
    friend class ConfigSource;
    struct State;
    std::unique_ptr<State> state_;
};

class Registry {
 public:
    explicit Registry(DriverHandle handle);

    /// Create or refresh a node (call again before the TTL runs out).
    void registerNode(const Node& node);
    /// NOT_FOUND when absent.
    void deregisterNode(std::string_view service, std::string_view node);
    /// Live nodes of `service`; NOT_FOUND when there are none.
    std::vector<Node> lookup(std::string_view service) const;
    /// Names of services with at least one live node, sorted, each once.
    std::vector<std::string> listServices() const;
    /// Events for `service` (empty: all) from now on.
    Watch watch(std::string_view service, std::function<void(RegistryEvent, const Node&)> onEvent);

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_registry_driver* table_;
};

}  // namespace micro
