#include <micro/broker.hpp>

#include <vector>

#include "blocking_call.hpp"

namespace micro {

struct Subscription::State {
    MessageHandler handler;
    const micro_broker_driver* table = nullptr;
    void* self = nullptr;
    void* subscription = nullptr;
};

std::string_view MessageView::header(std::string_view key) const noexcept {
    for (const auto& kv : headers) {
        if (abi::view(kv.key) == key) return abi::view(kv.value);
    }
    return {};
}

Subscription::Subscription() noexcept = default;
Subscription::Subscription(Subscription&&) noexcept = default;

Subscription& Subscription::operator=(Subscription&& other) noexcept {
    if (this != &other) {
        unsubscribe();
        state_ = std::move(other.state_);
    }
    return *this;
}

Subscription::~Subscription() { unsubscribe(); }

void Subscription::unsubscribe() noexcept {
    if (state_) {
        state_->table->unsubscribe(state_->self, state_->subscription);
        state_.reset();
    }
}

void Subscription::ack(std::uint64_t deliveryId, bool ok) {
    if (!state_) throw Error(Code::kFailedPrecondition, "ack on an ended subscription");
    if (state_->table->ack == nullptr) {
        throw Error(Code::kUnimplemented, "this broker has no manual ack");
    }
    micro_error err{};
    throwIfError(
        state_->table->ack(state_->self, state_->subscription, deliveryId, ok ? 1 : 0, &err),
        err.message);
}

Broker::Broker(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_broker_driver>()) {}

void Broker::publish(std::string_view topic, std::string_view body,
                     std::span<const Header> headers) {
    // Headers are converted on the stack for the common small case.
    constexpr std::size_t kInline = 8;
    micro_kv inlineHeaders[kInline];
    std::vector<micro_kv> heapHeaders;
    micro_kv* kv = inlineHeaders;
    if (headers.size() > kInline) {
        heapHeaders.resize(headers.size());
        kv = heapHeaders.data();
    }
    for (std::size_t i = 0; i < headers.size(); ++i) {
        kv[i] = micro_kv{abi::str(headers[i].key), abi::str(headers[i].value)};
    }
    micro_message message{sizeof(micro_message), abi::str(topic), kv, headers.size(),
                          abi::bytes(body)};
    detail::BlockingCall call;
    table_->publish(handle_.self(), &message, call.done());
    call.wait();
}

Subscription Broker::subscribe(std::string_view topic, MessageHandler handler,
                               const SubscribeOptions& options) {
    Subscription sub;
    sub.state_ = std::make_unique<Subscription::State>();
    sub.state_->handler = std::move(handler);
    sub.state_->table = table_;
    sub.state_->self = handle_.self();
    auto deliver = [](void* ctx, const micro_message* m, std::uint64_t id) -> micro_code {
        auto* state = static_cast<Subscription::State*>(ctx);
        MessageView view{abi::view(m->topic), abi::view(m->headers, m->header_count),
                         abi::view(m->body), id};
        try {
            state->handler(view);
            return MICRO_OK;
        } catch (const Error& e) {
            return static_cast<micro_code>(e.code());
        } catch (...) {
            return MICRO_INTERNAL;  // a nack; never unwind into the driver
        }
    };
    micro_subscribe_options opts{sizeof(micro_subscribe_options), abi::str(topic),
                                 abi::str(options.group),
                                 options.manualAck ? MICRO_ACK_MANUAL : MICRO_ACK_AUTO};
    micro_error err{};
    micro_code code =
        table_->subscribe(handle_.self(), &opts, micro_message_handler{sub.state_.get(), deliver},
                          &sub.state_->subscription, &err);
    if (code != MICRO_OK) {
        sub.state_.reset();  // never subscribed: nothing to unsubscribe
        throwIfError(code, err.message);
    }
    return sub;
}

}  // namespace micro
