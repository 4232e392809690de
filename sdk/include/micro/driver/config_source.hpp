// micro/driver/config_source.hpp — adapt a C++ class to micro_config_source_driver.
//
// The class T provides:
//   explicit T(const Context&);
//   void read(DocumentSink&);                               // may take a trailing Done&
//   void* watch(micro_change_handler);                      // optional
//   void unwatch(void* watch) noexcept;                     // optional, with watch
#pragma once

#include <micro/driver/dispatch.hpp>

namespace micro::driver {

class DocumentSink {
 public:
    explicit DocumentSink(micro_config_sink sink) noexcept : sink_(sink) {}
    void emit(std::string_view document, std::string_view format) const noexcept {
        sink_.fn(sink_.ctx, abi::bytes(document), abi::str(format));
    }

 private:
    micro_config_sink sink_;
};

template <typename T>
struct ConfigSourceDriver {
    static constexpr micro_kind kKind = MICRO_KIND_CONFIG_SOURCE;

    static void read(void* self, micro_config_sink sink, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        DocumentSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, read, out);
    }
    template <typename U>
    static micro_code watch(void* self, micro_change_handler handler, void** handle,
                            micro_error* err) noexcept {
        return guard(err, [&] { *handle = static_cast<U*>(self)->watch(handler); });
    }
    template <typename U>
    static void unwatch(void* self, void* handle) noexcept {
        static_cast<U*>(self)->unwatch(handle);
    }

    static constexpr bool kCanWatch = requires(T & t, micro_change_handler h) { t.watch(h); };

    // Only a class that can watch gets the watch thunks instantiated.
    static constexpr micro_config_source_driver table() noexcept {
        micro_config_source_driver t{Lifecycle<T>::base(sizeof(micro_config_source_driver)), &read,
                                     nullptr, nullptr};
        if constexpr (kCanWatch) {
            t.watch = &watch<T>;
            t.unwatch = &unwatch<T>;
        }
        return t;
    }

    static constexpr micro_config_source_driver kTable = table();
};

}  // namespace micro::driver
