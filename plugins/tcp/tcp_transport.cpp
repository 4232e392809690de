#include "tcp_transport.hpp"

#include <micro/error.hpp>

#include <boost/asio/post.hpp>

#include <memory>
#include <string>

#include <micro/transport_common/config_int.hpp>
#include <micro/transport_common/io_threads.hpp>
#include <micro/transport_common/listener.hpp>
#include <micro/transport_common/transport_core.hpp>

#include "address.hpp"
#include "frame.hpp"
#include "tcp_connection.hpp"

namespace micro::tcp {

namespace {

using transport_common::intInRange;

Settings readSettings(const driver::Config& config) {
    config.allowOnly(
        {"io_threads", "max_frame_bytes", "frame_timeout_ms", "max_queued_bytes", "keepalive"});
    Settings s;
    s.ioThreads = static_cast<std::size_t>(
        intInRange(config, "io_threads", transport_common::defaultIoThreads(), 1, 256));
    s.maxFrameBytes = static_cast<std::uint32_t>(
        intInRange(config, "max_frame_bytes", frame::kDefaultMaxFrameBytes, 16, frame::kMaxLength));
    s.frameTimeout = std::chrono::milliseconds(
        intInRange(config, "frame_timeout_ms", 10000, 0, std::int64_t{1} << 31));
    s.maxQueuedBytes = static_cast<std::size_t>(
        intInRange(config, "max_queued_bytes", std::int64_t{8} << 20, 1, std::int64_t{1} << 40));
    s.keepalive = config.getBool("keepalive", true);
    return s;
}

}  // namespace

struct Listener;
using Core = transport_common::TransportCore<TcpConnection, Listener, Settings>;

/// One listening socket. Each accepted connection is announced on its own
/// worker thread, and starts reading once the accept handler has returned.
struct Listener final : transport_common::ListenerBase<Listener, Core, TcpConnection> {
    using ListenerBase::ListenerBase;

    std::shared_ptr<TcpConnection> newConnection() {
        return std::make_shared<TcpConnection>(owner.pickWorker(), owner.settings, owner);
    }

    void accepted(const std::shared_ptr<TcpConnection>& c) {
        boost::asio::post(c->worker().context(),
                          [self = shared_from_this(), c] { self->deliver(c); });
    }

    void deliver(const std::shared_ptr<TcpConnection>& c) noexcept {
        const bool announced = announce(*c, [&]() noexcept {
            try {
                owner.adopt(c);
                return true;
            } catch (...) {
                return false;
            }
        });
        if (announced) {
            c->start();
        } else {
            c->discard();  // the listener stopped, or out of memory: no event
        }
    }
};

struct TcpTransport::Impl final : Core {
    explicit Impl(const driver::Context& ctx)
        : Core(ctx.host, ctx.instanceName, readSettings(ctx.config), kAddressSyntax) {}
};

TcpTransport::TcpTransport(const driver::Context& ctx) : impl_(std::make_unique<Impl>(ctx)) {}

TcpTransport::~TcpTransport() { impl_->shutdown(); }

void* TcpTransport::listen(std::string_view address, micro_accept_handler handler,
                           driver::StringSink& bound) {
    return impl_->listen(address, handler, bound);
}

void TcpTransport::unlisten(void* listener) noexcept { impl_->unlisten(listener); }

void* TcpTransport::dial(std::string_view address, std::int64_t timeoutMs,
                         micro_connection_events events) {
    return impl_->dial(address, timeoutMs, events,
                       [&](const transport_common::DialAttempt<TcpConnection>& a,
                           std::string& failure) -> std::shared_ptr<TcpConnection> {
                           auto c =
                               std::make_shared<TcpConnection>(a.worker, impl_->settings, *impl_);
                           failure = c->connect(a.endpoint, a.left);
                           return failure.empty() ? c : nullptr;
                       });
}

bool TcpTransport::send(void* connection, const micro_transport_message& message) {
    if (connection == nullptr) throw Error(Code::kUnavailable, "no connection");
    return static_cast<TcpConnection*>(connection)->send(message);
}

void TcpTransport::close(void* connection) noexcept {
    if (connection != nullptr) static_cast<TcpConnection*>(connection)->close();
}

}  // namespace micro::tcp
