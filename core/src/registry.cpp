#include <algorithm>
#include <micro/registry.hpp>

#include "blocking_call.hpp"
#include "watch_state.hpp"

namespace micro {

namespace {
Node nodeOf(const micro_registry_node& n) {
    return Node{std::string(abi::view(n.service)), std::string(abi::view(n.node)),
                std::string(abi::view(n.record)), std::chrono::milliseconds(n.ttl_ms)};
}
}  // namespace

Watch::Watch() noexcept = default;
Watch::Watch(Watch&&) noexcept = default;

Watch& Watch::operator=(Watch&& other) noexcept {
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
    }
    return *this;
}

Watch::~Watch() { stop(); }

void Watch::stop() noexcept {
    if (state_) {
        state_->stop();
        state_.reset();
    }
}

Registry::Registry(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_registry_driver>()) {}

void Registry::registerNode(const Node& node) {
    micro_registry_node n{sizeof(micro_registry_node), abi::str(node.service), abi::str(node.node),
                          abi::bytes(node.record), node.ttl.count()};
    detail::BlockingCall call;
    table_->register_node(handle_.self(), &n, call.done());
    call.wait();
}

void Registry::deregisterNode(std::string_view service, std::string_view node) {
    detail::BlockingCall call;
    table_->deregister_node(handle_.self(), abi::str(service), abi::str(node), call.done());
    call.wait();
}

std::vector<Node> Registry::lookup(std::string_view service) const {
    std::vector<Node> nodes;
    auto emit = [](void* ctx, const micro_registry_node* n) {
        static_cast<std::vector<Node>*>(ctx)->push_back(nodeOf(*n));
    };
    detail::BlockingCall call;
    table_->lookup(handle_.self(), abi::str(service), micro_node_sink{&nodes, emit}, call.done());
    call.wait();
    return nodes;
}

std::vector<std::string> Registry::listServices() const {
    std::vector<std::string> names;
    auto emit = [](void* ctx, micro_str s) {
        static_cast<std::vector<std::string>*>(ctx)->emplace_back(abi::view(s));
    };
    detail::BlockingCall call;
    table_->list_services(handle_.self(), micro_str_sink{&names, emit}, call.done());
    call.wait();
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

Watch Registry::watch(std::string_view service,
                      std::function<void(RegistryEvent, const Node&)> onEvent) {
    Watch w;
    w.state_ = std::make_unique<Watch::State>();
    w.state_->onEvent = std::move(onEvent);
    auto deliver = [](void* ctx, std::int32_t event, const micro_registry_node* n) {
        auto* state = static_cast<Watch::State*>(ctx);
        try {
            state->onEvent(static_cast<RegistryEvent>(event), nodeOf(*n));
        } catch (...) {
            // A watcher's exception must not unwind into the driver's thread.
        }
    };
    micro_error err{};
    void* handle = nullptr;
    micro_code code = table_->watch(handle_.self(), abi::str(service),
                                    micro_registry_watcher{w.state_.get(), deliver}, &handle, &err);
    throwIfError(code, err.message);
    const micro_registry_driver* table = table_;
    void* self = handle_.self();
    w.state_->stop = [table, self, handle] { table->unwatch(self, handle); };
    return w;
}

}  // namespace micro
