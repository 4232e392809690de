#include "host.hpp"

#include <micro/abi_view.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>

namespace micro::detail {

namespace {
const char* levelName(std::int32_t level) noexcept {
    switch (level) {
        case MICRO_LOG_TRACE:
            return "trace";
        case MICRO_LOG_DEBUG:
            return "debug";
        case MICRO_LOG_INFO:
            return "info";
        case MICRO_LOG_WARN:
            return "warn";
        default:
            return "error";
    }
}
}  // namespace

int Host::parseLevel(std::string_view name) noexcept {
    if (name == "trace") return MICRO_LOG_TRACE;
    if (name == "debug") return MICRO_LOG_DEBUG;
    if (name == "info") return MICRO_LOG_INFO;
    if (name == "warn") return MICRO_LOG_WARN;
    if (name == "error") return MICRO_LOG_ERROR;
    return -1;
}

Host::Host() : table_{}, minLevel_(MICRO_LOG_INFO) {
    if (const char* env = std::getenv("MICRO_LOG_LEVEL")) {
        int level = parseLevel(env);
        if (level >= 0) minLevel_ = level;
    }
    table_.struct_size = sizeof(micro_host);
    table_.abi_major = MICRO_ABI_MAJOR;
    table_.abi_minor = MICRO_ABI_MINOR;
    table_.host_data = this;
    table_.log = &Host::log;
    table_.get_extension = &Host::getExtension;
}

void Host::log(const micro_host* host, std::int32_t level, micro_str source, micro_str message) {
    const auto* self = static_cast<const Host*>(host->host_data);
    if (level < self->minLevel_) return;
    // One fputs per line keeps concurrent plugin threads from interleaving.
    std::string line =
        fmt::format("micro [{}] {}: {}\n", levelName(level), abi::view(source), abi::view(message));
    std::fputs(line.c_str(), stderr);
}

void Host::offerRegistry(const micro_registry_driver* driver, void* self) noexcept {
    registry_ = micro_host_registry{sizeof(micro_host_registry), driver, self};
}

void Host::offerTransport(const micro_transport_driver* driver, void* self,
                          const char* name) noexcept {
    transport_ = micro_host_transport{sizeof(micro_host_transport), driver, self, abi::str(name)};
}

const void* Host::getExtension(const micro_host* host, const char* id) {
    const auto* self = static_cast<const Host*>(host->host_data);
    if (id == nullptr) return nullptr;
    std::string_view name(id);
    if (name == MICRO_HOST_REGISTRY_EXTENSION) {
        return self->registry_.driver != nullptr ? &self->registry_ : nullptr;
    }
    if (name == MICRO_HOST_TRANSPORT_EXTENSION) {
        return self->transport_.driver != nullptr ? &self->transport_ : nullptr;
    }
    return nullptr;
}

}  // namespace micro::detail
