// micro/driver/registry.hpp — adapt a C++ class to micro_registry_driver.
//
// The class T provides (async-capable ones may take a trailing Done&):
//   explicit T(const Context&);
//   void registerNode(const micro_registry_node&);
//   void deregisterNode(std::string_view service, std::string_view node);  // NOT_FOUND
//   void lookup(std::string_view service, NodeSink&);                       // NOT_FOUND if none
//   void listServices(StringSink&);
//   void* watch(std::string_view service, micro_registry_watcher);
//   void unwatch(void* watch) noexcept;
#pragma once

#include <micro/driver/dispatch.hpp>

namespace micro::driver {

class NodeSink {
 public:
    explicit NodeSink(micro_node_sink sink) noexcept : sink_(sink) {}
    void emit(const micro_registry_node& node) const noexcept { sink_.fn(sink_.ctx, &node); }

 private:
    micro_node_sink sink_;
};

class StringSink {
 public:
    explicit StringSink(micro_str_sink sink) noexcept : sink_(sink) {}
    void emit(std::string_view value) const noexcept { sink_.fn(sink_.ctx, abi::str(value)); }

 private:
    micro_str_sink sink_;
};

template <typename T>
struct RegistryDriver {
    static constexpr micro_kind kKind = MICRO_KIND_REGISTRY;

    static void registerNode(void* self, const micro_registry_node* node,
                             micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, registerNode, *node);
    }
    static void deregisterNode(void* self, micro_str service, micro_str node,
                               micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        MICRO_DETAIL_DISPATCH(done, t, deregisterNode, abi::view(service), abi::view(node));
    }
    static void lookup(void* self, micro_str service, micro_node_sink sink,
                       micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        NodeSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, lookup, abi::view(service), out);
    }
    static void listServices(void* self, micro_str_sink sink, micro_done done) noexcept {
        T& t = *static_cast<T*>(self);
        StringSink out(sink);
        MICRO_DETAIL_DISPATCH(done, t, listServices, out);
    }
    static micro_code watch(void* self, micro_str service, micro_registry_watcher watcher,
                            void** handle, micro_error* err) noexcept {
        return guard(err,
                     [&] { *handle = static_cast<T*>(self)->watch(abi::view(service), watcher); });
    }
    static void unwatch(void* self, void* handle) noexcept {
        static_cast<T*>(self)->unwatch(handle);
    }

    static constexpr micro_registry_driver kTable = {
        Lifecycle<T>::base(sizeof(micro_registry_driver)),
        &registerNode,
        &deregisterNode,
        &lookup,
        &listServices,
        &watch,
        &unwatch};
};

}  // namespace micro::driver
