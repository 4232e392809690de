// tests/unit/memory/plugin_harness.hpp — drive a plugin .so through its C
// tables only, the way any core would: dlopen, the entry symbol, create.
//
// Contract: test-only. `Call` turns a micro_done into a wait; everything
// else is a thin helper over abi.h. Callbacks may run on plugin threads, so
// the tests record into locked state and assert on the main thread.
#pragma once

#include <dlfcn.h>
#include <micro/abi.h>
#include <micro/abi_view.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace micro::test {

/// The plugin's entry, loaded once per process and never unloaded (the
/// unload path is the loader's to test, not this one's).
inline const micro_plugin& plugin(const char* path) {
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) throw std::runtime_error(std::string("dlopen: ") + dlerror());
    auto* entry = static_cast<const micro_plugin*>(dlsym(handle, MICRO_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) throw std::runtime_error("no micro_plugin_entry in " + std::string(path));
    return *entry;
}

template <typename Table>
const Table& driver(const micro_plugin& p, micro_kind kind, const char* name) {
    for (std::uint32_t i = 0; i < p.driver_count; ++i) {
        const micro_driver_descriptor* d = p.drivers[i];
        if (d->kind == kind && std::strcmp(d->name, name) == 0) {
            return *reinterpret_cast<const Table*>(d->driver);
        }
    }
    throw std::runtime_error(std::string("no driver ") + name);
}

inline const micro_host* host() {
    static const micro_host h{sizeof(micro_host),
                              MICRO_ABI_MAJOR,
                              MICRO_ABI_MINOR,
                              nullptr,
                              [](const micro_host*, std::int32_t, micro_str, micro_str) {},
                              nullptr};
    return &h;
}

/// A driver instance: created from string pairs, destroyed with the object.
template <typename Table>
class Instance {
 public:
    Instance(const Table& table, std::vector<std::pair<std::string, std::string>> config = {})
        : table_(&table) {
        code_ = create(table, std::move(config), &self_, &message_);
    }
    ~Instance() { reset(); }
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    void reset() {
        if (self_ != nullptr) table_->base.destroy(std::exchange(self_, nullptr));
    }
    void* self() const { return self_; }
    const Table& t() const { return *table_; }
    micro_code code() const { return code_; }
    const std::string& message() const { return message_; }

    static micro_code create(const Table& table,
                             std::vector<std::pair<std::string, std::string>> config, void** self,
                             std::string* message) {
        std::vector<micro_kv> kv;
        for (const auto& [k, v] : config) kv.push_back({abi::str(k), abi::str(v)});
        micro_config cfg{kv.data(), kv.size()};
        micro_error err{};
        micro_code code = table.base.create(host(), abi::str("test"), &cfg, self, &err);
        if (code != MICRO_OK) *message = err.message;
        return code;
    }

 private:
    const Table* table_;
    void* self_ = nullptr;
    micro_code code_ = MICRO_OK;
    std::string message_;
};

/// One asynchronous call's completion, waited for on the test thread.
class Call {
 public:
    micro_done done() { return {this, &Call::complete}; }
    micro_code wait(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, timeout, [&] { return finished_; })) return -1;
        return code_;
    }
    bool finished() {
        std::lock_guard lock(mutex_);
        return finished_;
    }
    std::uint64_t value() const { return value_; }
    const std::string& message() const { return message_; }

 private:
    static void complete(void* ctx, micro_code code, micro_str message, std::uint64_t value) {
        auto* self = static_cast<Call*>(ctx);
        std::lock_guard lock(self->mutex_);
        self->code_ = code;
        self->message_ = abi::view(message);
        self->value_ = value;
        self->finished_ = true;
        self->cv_.notify_all();
    }
    std::mutex mutex_;
    std::condition_variable cv_;
    bool finished_ = false;
    micro_code code_ = -1;
    std::string message_;
    std::uint64_t value_ = 0;
};

}  // namespace micro::test
