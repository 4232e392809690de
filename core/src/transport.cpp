#include <micro/transport.hpp>

#include <fmt/core.h>

#include <atomic>
#include <mutex>
#include <shared_mutex>
#include <vector>

namespace micro {

// The core's side of one connection; the driver's `ctx` for its events.
// It keeps itself alive until the driver reports on_close, after which the
// driver's handle is invalid and is never used again.
struct Connection::State {
    const micro_transport_driver* table = nullptr;
    void* self = nullptr;
    void* handle = nullptr;
    ConnectionHandlers handlers;
    std::shared_mutex mutex;  // shared by send/close; exclusive to mark closed
    bool closed = false;
    std::shared_ptr<State> keepAlive;

    micro_connection_events events() noexcept {
        return micro_connection_events{this, &onMessage, &onWritable, &onClose};
    }

    static void onMessage(void* ctx, const micro_transport_message* m) {
        auto* s = static_cast<State*>(ctx);
        if (!s->handlers.onMessage) return;
        TransportMessageView view{abi::view(m->headers, m->header_count), abi::view(m->body)};
        try {
            s->handlers.onMessage(view);
        } catch (...) {
            // Never unwind into the driver's thread.
        }
    }
    static void onWritable(void* ctx) {
        auto* s = static_cast<State*>(ctx);
        if (!s->handlers.onWritable) return;
        try {
            s->handlers.onWritable();
        } catch (...) {
        }
    }
    static void onClose(void* ctx, micro_code code, micro_str reason) {
        auto* s = static_cast<State*>(ctx);
        {
            std::unique_lock lock(s->mutex);
            s->closed = true;
        }
        if (s->handlers.onClose) {
            try {
                s->handlers.onClose(static_cast<Code>(code), abi::view(reason));
            } catch (...) {
            }
        }
        std::shared_ptr<State> last = std::move(s->keepAlive);  // may free `s` on return
    }
};

struct Listener::State {
    Transport::AcceptHandler onAccept;
    const micro_transport_driver* table = nullptr;
    void* self = nullptr;
    void* handle = nullptr;
    std::string address;
};

std::string_view TransportMessageView::header(std::string_view key) const noexcept {
    for (const auto& kv : headers) {
        if (abi::view(kv.key) == key) return abi::view(kv.value);
    }
    return {};
}

Connection::Connection(std::shared_ptr<State> state) : state_(std::move(state)) {}

bool Connection::send(std::span<const Header> headers, std::string_view body, SendTiming timing) {
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
    micro_transport_message m{sizeof(micro_transport_message), kv, headers.size(), abi::bytes(body),
                              timing == SendTiming::kMoreFollows ? MICRO_SEND_MORE_FOLLOWS : 0u};
    std::shared_lock lock(state_->mutex);
    if (state_->closed) throw Error(Code::kUnavailable, "connection is closed");
    micro_error err{};
    micro_code code = state_->table->send(state_->self, state_->handle, &m, &err);
    if (code == MICRO_RESOURCE_EXHAUSTED) return false;
    throwIfError(code, err.message);
    return true;
}

void Connection::close() noexcept {
    std::shared_lock lock(state_->mutex);
    if (!state_->closed) state_->table->close(state_->self, state_->handle);
}

bool Connection::closed() const noexcept {
    std::shared_lock lock(state_->mutex);
    return state_->closed;
}

Listener::Listener() noexcept = default;
Listener::Listener(Listener&&) noexcept = default;

Listener& Listener::operator=(Listener&& other) noexcept {
    if (this != &other) {
        stop();
        state_ = std::move(other.state_);
    }
    return *this;
}

Listener::~Listener() { stop(); }

const std::string& Listener::address() const noexcept {
    static const std::string kNone;
    return state_ ? state_->address : kNone;
}

void Listener::stop() noexcept {
    if (state_) {
        state_->table->unlisten(state_->self, state_->handle);
        state_.reset();
    }
}

Transport::Transport(DriverHandle handle)
    : handle_(std::move(handle)), table_(handle_.table<micro_transport_driver>()) {}

Listener Transport::listen(std::string_view address, AcceptHandler onAccept) {
    Listener listener;
    listener.state_ = std::make_unique<Listener::State>();
    Listener::State* ls = listener.state_.get();
    ls->onAccept = std::move(onAccept);
    ls->table = table_;
    ls->self = handle_.self();
    auto accept = [](void* ctx, void* connection, micro_str, micro_connection_events* events) {
        auto* l = static_cast<Listener::State*>(ctx);
        auto state = std::make_shared<Connection::State>();
        state->table = l->table;
        state->self = l->self;
        state->handle = connection;
        state->keepAlive = state;
        *events = state->events();
        try {
            state->handlers = l->onAccept(std::make_shared<Connection>(state));
        } catch (...) {
            l->table->close(l->self, connection);  // refuse: on_close releases state
        }
    };
    auto bound = [](void* ctx, micro_str a) {
        static_cast<Listener::State*>(ctx)->address.assign(abi::view(a));
    };
    micro_error err{};
    micro_code code =
        table_->listen(handle_.self(), abi::str(address), micro_accept_handler{ls, accept},
                       micro_str_sink{ls, bound}, &ls->handle, &err);
    if (code != MICRO_OK) {
        listener.state_.reset();
        throw Error(static_cast<Code>(code),
                    fmt::format("listen on '{}': {}", address, err.message));
    }
    return listener;
}

std::shared_ptr<Connection> Transport::dial(std::string_view address,
                                            std::chrono::milliseconds timeout,
                                            ConnectionHandlers handlers) {
    auto state = std::make_shared<Connection::State>();
    state->table = table_;
    state->self = handle_.self();
    state->handlers = std::move(handlers);
    state->keepAlive = state;
    // Events may start on a driver thread before dial returns; they need no
    // handle. The handle is published under the mutex that send/close take.
    micro_error err{};
    void* connection = nullptr;
    micro_code code = table_->dial(handle_.self(), abi::str(address), timeout.count(),
                                   state->events(), &connection, &err);
    if (code != MICRO_OK) {
        state->keepAlive.reset();
        throw Error(static_cast<Code>(code), fmt::format("dial '{}': {}", address, err.message));
    }
    {
        std::unique_lock lock(state->mutex);
        state->handle = connection;
    }
    return std::make_shared<Connection>(state);
}

}  // namespace micro
