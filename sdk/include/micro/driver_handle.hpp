// micro/driver_handle.hpp — ownership of one driver instance.
//
// A DriverHandle owns an instance created through a plugin's `create` and
// keeps that plugin's shared object loaded for as long as the instance
// lives: destruction calls `destroy(self)`, then drops the library
// reference, so a plugin is finalized and unloaded only after its last
// instance is gone. Move-only. Facades (Store, Broker, ...) hold one.
#pragma once

#include <micro/abi.h>
#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <memory>
#include <string>

namespace micro {

class PluginLibrary;  // core-private: one loaded .so

class DriverHandle {
 public:
    DriverHandle() = default;
    DriverHandle(std::shared_ptr<const PluginLibrary> library,
                 const micro_driver_descriptor* descriptor, void* self, std::string slot);
    DriverHandle(DriverHandle&& other) noexcept;
    DriverHandle& operator=(DriverHandle&& other) noexcept;
    DriverHandle(const DriverHandle&) = delete;
    DriverHandle& operator=(const DriverHandle&) = delete;
    ~DriverHandle();

    /// The driver's table, cast to its kind's struct (checked at load time).
    template <typename Table>
    const Table* table() const noexcept {
        return reinterpret_cast<const Table*>(descriptor_->driver);
    }
    void* self() const noexcept { return self_; }
    const micro_driver_descriptor& descriptor() const noexcept { return *descriptor_; }
    /// The manifest slot this instance fills ("store", "config.source[1]").
    const std::string& slot() const noexcept { return slot_; }
    explicit operator bool() const noexcept { return self_ != nullptr; }

 private:
    void reset() noexcept;

    std::shared_ptr<const PluginLibrary> library_;
    const micro_driver_descriptor* descriptor_ = nullptr;
    void* self_ = nullptr;
    std::string slot_;
};

}  // namespace micro
