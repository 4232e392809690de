#include <micro/driver_handle.hpp>

#include <utility>

#include "plugin_library.hpp"

namespace micro {

DriverHandle::DriverHandle(std::shared_ptr<const PluginLibrary> library,
                           const micro_driver_descriptor* descriptor, void* self, std::string slot)
    : library_(std::move(library)), descriptor_(descriptor), self_(self), slot_(std::move(slot)) {}

DriverHandle::DriverHandle(DriverHandle&& other) noexcept
    : library_(std::move(other.library_)),
      descriptor_(std::exchange(other.descriptor_, nullptr)),
      self_(std::exchange(other.self_, nullptr)),
      slot_(std::move(other.slot_)) {}

DriverHandle& DriverHandle::operator=(DriverHandle&& other) noexcept {
    if (this != &other) {
        reset();
        library_ = std::move(other.library_);
        descriptor_ = std::exchange(other.descriptor_, nullptr);
        self_ = std::exchange(other.self_, nullptr);
        slot_ = std::move(other.slot_);
    }
    return *this;
}

DriverHandle::~DriverHandle() { reset(); }

void DriverHandle::reset() noexcept {
    // Destroy the instance before releasing the library that holds its code.
    if (self_ != nullptr) descriptor_->driver->destroy(self_);
    self_ = nullptr;
    library_.reset();
}

}  // namespace micro
