#include <micro/config_source.hpp>

#include "blocking_call.hpp"
#include "watch_state.hpp"

namespace micro {

ConfigSource::ConfigSource(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_config_source_driver>()) {}

ConfigDocument ConfigSource::read() const {
    ConfigDocument doc;
    auto emit = [](void* ctx, micro_bytes data, micro_str format) {
        auto* d = static_cast<ConfigDocument*>(ctx);
        d->data.assign(abi::view(data));
        d->format.assign(abi::view(format));
    };
    detail::BlockingCall call;
    table_->read(handle_.self(), micro_config_sink{&doc, emit}, call.done());
    call.wait();
    return doc;
}

Watch ConfigSource::watch(std::function<void()> onChange) {
    if (!MICRO_HAS(&table_->base, micro_config_source_driver, unwatch) ||
        table_->watch == nullptr || table_->unwatch == nullptr) {
        throw Error(Code::kUnimplemented,
                    "config source '" + handle_.slot() + "' cannot watch for changes");
    }
    Watch w;
    w.state_ = std::make_unique<Watch::State>();
    w.state_->onChange = std::move(onChange);
    auto deliver = [](void* ctx) {
        try {
            static_cast<Watch::State*>(ctx)->onChange();
        } catch (...) {
            // Never unwind into the driver's thread.
        }
    };
    micro_error err{};
    void* handle = nullptr;
    micro_code code =
        table_->watch(handle_.self(), micro_change_handler{w.state_.get(), deliver}, &handle, &err);
    throwIfError(code, err.message);
    const micro_config_source_driver* table = table_;
    void* self = handle_.self();
    w.state_->stop = [table, self, handle] { table->unwatch(self, handle); };
    return w;
}

}  // namespace micro
