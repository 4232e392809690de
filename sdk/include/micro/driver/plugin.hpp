// micro/driver/plugin.hpp — write a micro driver as a plain C++ class.
//
//     class MyStore {
//       public:
//         explicit MyStore(const micro::driver::Context& ctx);
//         void read(const micro::driver::StoreQuery& q, micro::driver::RecordSink& out);
//         std::uint64_t write(std::string_view db, std::string_view table,
//                             const micro::driver::RecordBatch& records);
//         void erase(std::string_view db, std::string_view table, std::string_view key);
//     };
//     MICRO_PLUGIN("mystore", "1.0.0", "My store",
//                  MICRO_DRIVER(micro::driver::StoreDriver<MyStore>, "mystore", "1.0.0", "..."));
//
// The macro emits the one exported symbol (`micro_plugin_entry`) with
// constant data only: no global constructors run at load. The per-kind
// headers (store.hpp, broker.hpp, ...) hold the thunks that adapt the class
// to the C tables: each is noexcept and turns micro::Error into its code,
// std::bad_alloc into RESOURCE_EXHAUSTED and any other exception into
// INTERNAL with what(). A method may also take a trailing `Done` to complete
// asynchronously (from another thread, later): it receives a `Done&` and either
// completes it or moves it away to complete later.
#pragma once

#include <micro/abi.h>
#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace micro::driver {

/// A driver's flattened config table (see micro_config in abi.h), borrowed.
class Config {
 public:
    explicit Config(const micro_config* config) noexcept : config_(config) {}

    /// The value of `key`, or nullopt.
    std::optional<std::string_view> find(std::string_view key) const noexcept {
        if (config_ == nullptr) return std::nullopt;
        for (std::size_t i = 0; i < config_->count; ++i) {
            if (abi::view(config_->entries[i].key) == key)
                return abi::view(config_->entries[i].value);
        }
        return std::nullopt;
    }
    std::string getString(std::string_view key, std::string_view fallback) const {
        return std::string(find(key).value_or(fallback));
    }
    /// An integer; INVALID_ARGUMENT naming the key when it is not one.
    std::int64_t getInt(std::string_view key, std::int64_t fallback) const {
        auto v = find(key);
        if (!v) return fallback;
        std::int64_t out = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
        if (ec != std::errc() || end != v->data() + v->size()) {
            throw Error(Code::kInvalidArgument, "key '" + std::string(key) +
                                                    "': expected an integer, got '" +
                                                    std::string(*v) + "'");
        }
        return out;
    }
    bool getBool(std::string_view key, bool fallback) const {
        auto v = find(key);
        if (!v) return fallback;
        if (*v == "true") return true;
        if (*v == "false") return false;
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) +
                                                "': expected true or false, got '" +
                                                std::string(*v) + "'");
    }
    /// Refuse keys the driver does not know, so a typo is an error that
    /// names the key instead of a silently ignored setting.
    void allowOnly(std::initializer_list<std::string_view> known) const {
        if (config_ == nullptr) return;
        for (std::size_t i = 0; i < config_->count; ++i) {
            std::string_view k = abi::view(config_->entries[i].key);
            bool ok = false;
            for (auto candidate : known) ok = ok || candidate == k;
            if (!ok) throw Error(Code::kInvalidArgument, "unknown key '" + std::string(k) + "'");
        }
    }

 private:
    const micro_config* config_;
};

/// What a driver's constructor receives. `host` outlives the instance.
struct Context {
    const micro_host* host;
    std::string_view instanceName;
    Config config;

    void log(std::int32_t level, std::string_view message) const noexcept {
        if (host != nullptr && host->log != nullptr) {
            host->log(host, level, abi::str(instanceName), abi::str(message));
        }
    }
};

/// A completion to call exactly once. Dropping it uncalled completes with
/// INTERNAL so a caller never waits forever on a driver bug.
class Done {
 public:
    explicit Done(micro_done done) noexcept : done_(done) {}
    Done(Done&& other) noexcept : done_(std::exchange(other.done_, micro_done{nullptr, nullptr})) {}
    Done& operator=(Done&&) = delete;
    Done(const Done&) = delete;
    ~Done() { fail(Code::kInternal, "driver dropped the completion"); }

    void ok(std::uint64_t value = 0) noexcept { finish(MICRO_OK, {}, value); }
    void fail(Code code, std::string_view message) noexcept {
        finish(static_cast<micro_code>(code), message, 0);
    }

 private:
    void finish(micro_code code, std::string_view message, std::uint64_t value) noexcept {
        if (done_.fn == nullptr) return;
        micro_done d = std::exchange(done_, micro_done{nullptr, nullptr});
        d.fn(d.ctx, code, abi::str(message), value);
    }
    micro_done done_;
};

/// Run `body` (returning the completion value, or void for 0) and complete
/// `done` with its result or with the code of what it threw.
template <typename Body>
void completeWith(micro_done done, Body&& body) noexcept {
    micro_code code = MICRO_OK;
    std::string message;
    std::uint64_t value = 0;
    try {
        if constexpr (std::is_void_v<decltype(body())>) {
            body();
        } else {
            value = static_cast<std::uint64_t>(body());
        }
    } catch (const Error& e) {
        code = static_cast<micro_code>(e.code());
        message = e.what();
    } catch (const std::bad_alloc&) {
        code = MICRO_RESOURCE_EXHAUSTED;
    } catch (const std::exception& e) {
        code = MICRO_INTERNAL;
        message = e.what();
    } catch (...) {
        code = MICRO_INTERNAL;
        message = "unknown exception";
    }
    if (code == MICRO_RESOURCE_EXHAUSTED && message.empty()) {
        done.fn(done.ctx, code, abi::str("out of memory"), 0);
        return;
    }
    done.fn(done.ctx, code, abi::str(message), value);
}

/// Hand `body` a Done& to complete now or move away and complete later. If
/// it throws while still holding the Done, complete with what it threw; if it
/// returns without completing or keeping it, the caller sees INTERNAL.
template <typename Body>
void completeAsync(micro_done done, Body&& body) noexcept {
    Done d(done);
    try {
        body(d);
    } catch (const Error& e) {
        d.fail(e.code(), e.what());
    } catch (const std::bad_alloc&) {
        d.fail(Code::kResourceExhausted, "out of memory");
    } catch (const std::exception& e) {
        d.fail(Code::kInternal, e.what());
    } catch (...) {
        d.fail(Code::kInternal, "unknown exception");
    }
}

/// Run a synchronous call, mapping exceptions to a code and `err`.
template <typename Body>
micro_code guard(micro_error* err, Body&& body) noexcept {
    try {
        body();
        return MICRO_OK;
    } catch (const Error& e) {
        return abi::fail(err, static_cast<micro_code>(e.code()), e.what());
    } catch (const std::bad_alloc&) {
        return abi::fail(err, MICRO_RESOURCE_EXHAUSTED, "out of memory");
    } catch (const std::exception& e) {
        return abi::fail(err, MICRO_INTERNAL, e.what());
    } catch (...) {
        return abi::fail(err, MICRO_INTERNAL, "unknown exception");
    }
}

/// The common head of every kind's table for class T.
template <typename T>
struct Lifecycle {
    static micro_code create(const micro_host* host, micro_str instanceName,
                             const micro_config* config, void** self, micro_error* err) noexcept {
        return guard(err, [&] {
            Context ctx{host, abi::view(instanceName), Config(config)};
            // The instance is handed across the ABI as an opaque pointer and
            // reclaimed by destroy(); ownership is explicit at the boundary.
            auto owned = std::make_unique<T>(ctx);
            *self = owned.release();
        });
    }
    static void destroy(void* self) noexcept { std::unique_ptr<T>(static_cast<T*>(self)); }
    static const void* getExtension(void* self, const char* id) noexcept {
        if constexpr (requires(T & t) { t.getExtension(id); }) {
            return static_cast<T*>(self)->getExtension(id);
        } else {
            (void)self;
            (void)id;
            return nullptr;
        }
    }
    static constexpr micro_driver_base base(std::uint32_t tableSize) noexcept {
        return micro_driver_base{tableSize, &create, &destroy, &getExtension};
    }
};

template <std::size_t N>
constexpr std::array<const micro_driver_descriptor*, N> pointersTo(
    const micro_driver_descriptor (&descriptors)[N]) noexcept {
    std::array<const micro_driver_descriptor*, N> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = &descriptors[i];
    return out;
}

}  // namespace micro::driver

/// One driver descriptor. `Table` is a kind adapter such as
/// micro::driver::StoreDriver<MyStore>.
#define MICRO_DRIVER(Table, name, version, description)                                     \
    micro_driver_descriptor {                                                               \
        sizeof(micro_driver_descriptor), Table::kKind, name, version, description, nullptr, \
            &Table::kTable.base                                                             \
    }

/// The plugin entry with optional init/fini (pass nullptr for none).
#define MICRO_PLUGIN_WITH_LIFECYCLE(name, version, description, init, fini, ...)       \
    namespace {                                                                        \
    constexpr micro_driver_descriptor micro_plugin_descriptors_[] = {__VA_ARGS__};     \
    constexpr auto micro_plugin_descriptor_ptrs_ =                                     \
        ::micro::driver::pointersTo(micro_plugin_descriptors_);                        \
    }                                                                                  \
    extern "C" MICRO_PLUGIN_EXPORT constinit const micro_plugin micro_plugin_entry = { \
        MICRO_ABI_MAJOR,                                                               \
        MICRO_ABI_MINOR,                                                               \
        sizeof(micro_plugin),                                                          \
        name,                                                                          \
        version,                                                                       \
        description,                                                                   \
        micro_plugin_descriptor_ptrs_.data(),                                          \
        static_cast<std::uint32_t>(micro_plugin_descriptor_ptrs_.size()),              \
        init,                                                                          \
        fini}

/// The plugin entry: name, version, description, then MICRO_DRIVER(...)s.
#define MICRO_PLUGIN(name, version, description, ...) \
    MICRO_PLUGIN_WITH_LIFECYCLE(name, version, description, nullptr, nullptr, __VA_ARGS__)
