// host.hpp — the host table (abi.h's micro_host) a Runtime gives its plugins.
//
// Logging goes to stderr as one line per message, filtered by the level in
// $MICRO_LOG_LEVEL (trace, debug, info, warn, error; default info). The
// table's address is stable for the Host's lifetime, which must cover every
// plugin loaded with it.
#pragma once

#include <micro/abi.h>

#include <string_view>

namespace micro::detail {

class Host {
 public:
    Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    const micro_host* table() const noexcept { return &table_; }

    /// Offer the registry instance as the "micro.registry/1" extension; set
    /// once, right after the registry slot was created.
    void offerRegistry(const micro_registry_driver* driver, void* self) noexcept;
    /// Offer the transport instance as "micro.transport/1".
    void offerTransport(const micro_transport_driver* driver, void* self,
                        const char* name) noexcept;

    /// Parse a level name; returns -1 for an unknown name.
    static int parseLevel(std::string_view name) noexcept;

 private:
    static void log(const micro_host* host, std::int32_t level, micro_str source,
                    micro_str message);
    static const void* getExtension(const micro_host* host, const char* id);

    micro_host table_;
    int minLevel_;
    // Written only while the runtime creates its slots, before any driver
    // that may read them exists; read-only afterwards.
    micro_host_registry registry_{};
    micro_host_transport transport_{};
};

}  // namespace micro::detail
