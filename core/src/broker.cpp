#include <micro/broker.hpp>
#include <micro/codec.hpp>
#include <micro/metrics.hpp>

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <random>
#include <thread>
#include <vector>

#include "blocking_call.hpp"

namespace micro {

namespace {

constexpr std::chrono::milliseconds kMaxBackoff{5000};

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

// Message ids: a random 64-bit prefix per process and a counter, in hex.
// Unique per process run without a lock or a syscall per message.
struct IdSource {
    std::uint64_t prefix;
    std::atomic<std::uint64_t> counter{0};
    IdSource() {
        std::random_device rd;
        prefix = (std::uint64_t{rd()} << 32) ^ rd();
    }
};

IdSource& idSource() {
    static IdSource source;
    return source;
}

/// Writes "PPPPPPPPPPPPPPPP-N" (hex) into `out`; returns its length.
std::size_t nextMessageId(char (&out)[40]) noexcept {
    IdSource& s = idSource();
    const std::uint64_t n = s.counter.fetch_add(1, std::memory_order_relaxed);
    char* p = out;
    auto r = std::to_chars(p, out + sizeof out, s.prefix, 16);
    *r.ptr++ = '-';
    r = std::to_chars(r.ptr, out + sizeof out, n, 16);
    return static_cast<std::size_t>(r.ptr - out);
}

}  // namespace

struct Subscription::State {
    MessageHandler handler;  // the user's handler wrapped in subscriber middleware
    SubscribeOptions options;
    std::string topic;
    Broker* broker = nullptr;
    const micro_broker_driver* table = nullptr;
    void* self = nullptr;
    void* subscription = nullptr;

    // Written only by the delivery in progress (never concurrent per
    // subscription), read by deliver() for the metrics label.
    bool deadLettered = false;

    micro_code deliver(const MessageView& view);
    micro_code run(const MessageView& view);
    micro_code deadLetter(const MessageView& view, std::string_view reason, int attempts);
};

std::string_view MessageView::header(std::string_view key) const noexcept {
    for (const auto& kv : headers) {
        if (equalsIgnoreCase(abi::view(kv.key), key)) return abi::view(kv.value);
    }
    return {};
}

micro_code Subscription::State::deadLetter(const MessageView& view, std::string_view reason,
                                           int attempts) {
    std::vector<Header> out;
    out.reserve(view.headers.size() + 3);
    for (const auto& kv : view.headers) {
        const std::string_view key = abi::view(kv.key);
        // Replaced below; a redelivery count belongs to the old topic.
        if (equalsIgnoreCase(key, headers::kDeadLetterTopic) ||
            equalsIgnoreCase(key, headers::kDeadLetterReason) ||
            equalsIgnoreCase(key, headers::kAttempts) ||
            equalsIgnoreCase(key, headers::kDeliveryCount)) {
            continue;
        }
        out.push_back({key, abi::view(kv.value)});
    }
    const std::string attemptText = std::to_string(attempts);
    out.push_back({headers::kDeadLetterTopic, view.topic});
    out.push_back({headers::kDeadLetterReason, reason});
    out.push_back({headers::kAttempts, attemptText});
    try {
        broker->publish(options.deadLetterTopic, view.body, out);
        deadLettered = true;
        return MICRO_OK;
    } catch (const Error& e) {
        return static_cast<micro_code>(e.code() == Code::kOk ? Code::kInternal : e.code());
    } catch (...) {
        return MICRO_INTERNAL;
    }
}

micro_code Subscription::State::deliver(const MessageView& view) {
    const micro_code code = run(view);
    metrics::countDelivery(topic,
                           code == MICRO_OK ? (deadLettered ? "dead_letter" : "ok") : "error");
    deadLettered = false;
    return code;
}

micro_code Subscription::State::run(const MessageView& view) {
    if (options.manualAck) {
        try {
            handler(view);
        } catch (...) {
            // Manual mode settles through ack(); a throw changes nothing.
        }
        return MICRO_OK;
    }
    const bool deadLettering = !options.deadLetterTopic.empty();
    const int maxRuns = std::max(options.maxRetries, 0) + 1;
    if (deadLettering) {
        const std::string_view count = view.header(headers::kDeliveryCount);
        int delivered = 0;
        std::from_chars(count.data(), count.data() + count.size(), delivered);
        if (delivered > maxRuns) {
            return deadLetter(view, fmt::format("delivered {} times", delivered), delivered);
        }
    }
    micro_code last = MICRO_OK;
    std::string reason;
    std::chrono::milliseconds backoff = options.retryBackoff;
    int runs = 0;
    while (runs < maxRuns) {
        ++runs;
        try {
            handler(view);
            return MICRO_OK;
        } catch (const Error& e) {
            last = static_cast<micro_code>(e.code() == Code::kOk ? Code::kUnknown : e.code());
            reason = e.describe();
            if (e.code() == Code::kInvalidArgument) break;  // cannot become valid
        } catch (const std::exception& e) {
            last = MICRO_INTERNAL;
            reason = e.what();
        } catch (...) {
            last = MICRO_INTERNAL;
            reason = "the handler threw a non-standard exception";
        }
        if (runs < maxRuns && backoff.count() > 0) {
            std::this_thread::sleep_for(backoff);
            backoff = std::min(backoff * 2, kMaxBackoff);
        }
    }
    if (deadLettering && deadLetter(view, reason, runs) == MICRO_OK) return MICRO_OK;
    return last;  // a nack; never unwind into the driver
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

Broker::Broker(DriverHandle handle, BrokerLimits limits)
    : handle_(std::move(handle)), table_(handle_.table<micro_broker_driver>()), limits_(limits) {}

void Broker::use(PublishMiddleware middleware) {
    publishMiddleware_.push_back(std::move(middleware));
}

void Broker::useSubscriber(SubscriberMiddleware middleware) {
    subscriberMiddleware_.push_back(std::move(middleware));
}

void Broker::checkTopic(std::string_view topic) const {
    if (topic.empty()) throw Error(Code::kInvalidArgument, "publish: the topic is empty");
    if (topic.size() > limits_.maxTopicBytes) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("topic '{}...' is {} bytes, over the limit of {}",
                                topic.substr(0, 32), topic.size(), limits_.maxTopicBytes));
    }
    for (std::size_t i = 0; i < topic.size(); ++i) {
        const auto c = static_cast<unsigned char>(topic[i]);
        if (c <= 0x20 || c >= 0x7f || c == '*' || c == '>') {
            throw Error(
                Code::kInvalidArgument,
                fmt::format("topic has a character not allowed at offset {} (byte 0x{:02x}): "
                            "use printable ASCII without spaces, '*' or '>'",
                            i, c));
        }
    }
}

void Broker::publish(std::string_view topic, std::string_view body,
                     std::span<const Header> headers) {
    const OutgoingMessage message{topic, body, headers};
    if (publishMiddleware_.empty()) {
        publishChecked(message);
        return;
    }
    // next(i) runs middleware i, or the publish itself past the last one.
    std::function<void(std::size_t, const OutgoingMessage&)> step;
    step = [&](std::size_t i, const OutgoingMessage& m) {
        if (i == publishMiddleware_.size()) {
            publishChecked(m);
            return;
        }
        publishMiddleware_[i](m, [&step, i](const OutgoingMessage& next) { step(i + 1, next); });
    };
    step(0, message);
}

void Broker::publishChecked(const OutgoingMessage& m) {
    checkTopic(m.topic);
    if (m.body.size() > limits_.maxBodyBytes) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("message for topic '{}' is {} bytes, over the limit of {}", m.topic,
                                m.body.size(), limits_.maxBodyBytes));
    }
    // Headers are converted on the stack for the common small case; two
    // slots are kept for the id and the content type the facade adds.
    constexpr std::size_t kInline = 10;
    micro_kv inlineHeaders[kInline];
    std::vector<micro_kv> heapHeaders;
    micro_kv* kv = inlineHeaders;
    if (m.headers.size() + 2 > kInline) {
        heapHeaders.resize(m.headers.size() + 2);
        kv = heapHeaders.data();
    }
    std::size_t count = 0;
    bool hasId = false;
    bool hasContentType = false;
    for (const Header& h : m.headers) {
        kv[count++] = micro_kv{abi::str(h.key), abi::str(h.value)};
        if (!hasId && equalsIgnoreCase(h.key, headers::kId)) {
            hasId = true;
        } else if (!hasContentType && equalsIgnoreCase(h.key, headers::kContentType)) {
            hasContentType = true;
            codec::parseContentType(h.value);  // throws when unknown
        }
    }
    char id[40];
    if (!hasId) kv[count++] = micro_kv{abi::str(headers::kId), micro_str{id, nextMessageId(id)}};
    if (!hasContentType) {
        kv[count++] = micro_kv{abi::str(headers::kContentType),
                               abi::str(std::string_view("application/octet-stream"))};
    }
    micro_message message{sizeof(micro_message), abi::str(m.topic), kv, count, abi::bytes(m.body)};
    detail::BlockingCall call;
    table_->publish(handle_.self(), &message, call.done());
    call.wait();
}

Subscription Broker::subscribe(std::string_view topic, MessageHandler handler,
                               const SubscribeOptions& options) {
    checkTopic(topic);
    if (!options.deadLetterTopic.empty()) checkTopic(options.deadLetterTopic);
    if (options.deadLetterTopic == topic) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("topic '{}' cannot be its own dead-letter topic", topic));
    }
    // Innermost first: the handler, then each middleware around it.
    for (auto it = subscriberMiddleware_.rbegin(); it != subscriberMiddleware_.rend(); ++it) {
        handler = [middleware = *it, next = std::move(handler)](const MessageView& m) {
            middleware(m, next);
        };
    }
    Subscription sub;
    sub.state_ = std::make_unique<Subscription::State>();
    Subscription::State& state = *sub.state_;
    state.handler = std::move(handler);
    state.options = options;
    state.topic = std::string(topic);
    state.broker = this;
    state.table = table_;
    state.self = handle_.self();
    auto deliver = [](void* ctx, const micro_message* m, std::uint64_t id) -> micro_code {
        auto* s = static_cast<Subscription::State*>(ctx);
        const MessageView view{abi::view(m->topic), abi::view(m->headers, m->header_count),
                               abi::view(m->body), id};
        return s->deliver(view);
    };
    micro_subscribe_options opts{sizeof(micro_subscribe_options), abi::str(topic),
                                 abi::str(options.group),
                                 options.manualAck ? MICRO_ACK_MANUAL : MICRO_ACK_AUTO};
    micro_error err{};
    micro_code code = table_->subscribe(
        handle_.self(), &opts, micro_message_handler{&state, deliver}, &state.subscription, &err);
    if (code != MICRO_OK) {
        sub.state_.reset();  // never subscribed: nothing to unsubscribe
        throwIfError(code, err.message);
    }
    return sub;
}

}  // namespace micro
