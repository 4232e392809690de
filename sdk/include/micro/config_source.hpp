// micro/config_source.hpp — one source of configuration: a whole document and
// its format, re-read when the source says it changed.
//
// Contract: thread-safe; blocking read. watch throws UNIMPLEMENTED when the
// driver cannot watch.
#pragma once

#include <micro/registry.hpp>  // Watch

#include <functional>
#include <string>

namespace micro {

struct ConfigDocument {
    std::string data{};
    std::string format{};  ///< "toml", "json", "env", ...
};

class ConfigSource {
 public:
    explicit ConfigSource(DriverHandle handle);

    ConfigDocument read() const;
    Watch watch(std::function<void()> onChange);

    const DriverHandle& handle() const noexcept { return handle_; }

 private:
    DriverHandle handle_;
    const micro_config_source_driver* table_;
};

}  // namespace micro
