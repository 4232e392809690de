#include "http_transport.hpp"

#include <micro/error.hpp>

#include <boost/asio/post.hpp>

#include <memory>
#include <string>

#include <micro/transport_common/config_int.hpp>
#include <micro/transport_common/io_threads.hpp>
#include <micro/transport_common/listener.hpp>
#include <micro/transport_common/transport_core.hpp>

#include "address.hpp"
#include "http_connection.hpp"

namespace micro::http {

namespace {

using transport_common::intInRange;

Settings readSettings(const driver::Config& config) {
    config.allowOnly({"io_threads", "max_header_bytes", "max_body_bytes", "header_timeout_ms",
                      "body_timeout_ms", "idle_timeout_ms", "max_queued_bytes", "max_pipelined"});
    constexpr std::int64_t kMaxMs = std::int64_t{1} << 31;
    Settings s;
    s.ioThreads = static_cast<std::size_t>(
        intInRange(config, "io_threads", transport_common::defaultIoThreads(), 1, 256));
    s.maxHeaderBytes = static_cast<std::size_t>(
        intInRange(config, "max_header_bytes", 64 << 10, 256, std::int64_t{1} << 30));
    s.maxBodyBytes = static_cast<std::size_t>(
        intInRange(config, "max_body_bytes", 4 << 20, 16, std::int64_t{1} << 32));
    s.headerTimeout =
        std::chrono::milliseconds(intInRange(config, "header_timeout_ms", 10000, 1, kMaxMs));
    s.bodyTimeout =
        std::chrono::milliseconds(intInRange(config, "body_timeout_ms", 30000, 0, kMaxMs));
    s.idleTimeout =
        std::chrono::milliseconds(intInRange(config, "idle_timeout_ms", 60000, 0, kMaxMs));
    s.maxQueuedBytes = static_cast<std::size_t>(
        intInRange(config, "max_queued_bytes", std::int64_t{8} << 20, 1, std::int64_t{1} << 40));
    s.maxPipelined = static_cast<std::size_t>(intInRange(config, "max_pipelined", 16, 1, 1024));
    return s;
}

}  // namespace

struct Listener;
using Core = transport_common::TransportCore<HttpConnection, Listener, Settings>;

/// One listening socket. An accepted connection is adopted at once and
/// starts reading; the core hears of it (the accept handler, through
/// Announcer) once its first request says what it is.
struct Listener final : transport_common::ListenerBase<Listener, Core, HttpConnection>, Announcer {
    using ListenerBase::ListenerBase;

    std::shared_ptr<HttpConnection> newConnection() {
        return std::make_shared<HttpConnection>(owner.pickWorker(), owner.settings, owner,
                                                shared_from_this());
    }

    void accepted(const std::shared_ptr<HttpConnection>& c) {
        owner.adopt(c);
        boost::asio::post(c->worker().context(), [c] { c->start(); });
    }

    bool announce(HttpConnection& c) noexcept override { return ListenerBase::announce(c); }
};

struct HttpTransport::Impl final : Core {
    explicit Impl(const driver::Context& ctx)
        : Core(ctx.host, ctx.instanceName, readSettings(ctx.config), kAddressSyntax) {}
};

HttpTransport::HttpTransport(const driver::Context& ctx) : impl_(std::make_unique<Impl>(ctx)) {}

HttpTransport::~HttpTransport() { impl_->shutdown(); }

void* HttpTransport::listen(std::string_view address, micro_accept_handler handler,
                            driver::StringSink& bound) {
    return impl_->listen(address, handler, bound);
}

void HttpTransport::unlisten(void* listener) noexcept { impl_->unlisten(listener); }

void* HttpTransport::dial(std::string_view address, std::int64_t timeoutMs,
                          micro_connection_events events) {
    // Dialled connections are WebSocket from the start: connect, then upgrade.
    return impl_->dial(
        address, timeoutMs, events,
        [&](const transport_common::DialAttempt<HttpConnection>& a,
            std::string& failure) -> std::shared_ptr<HttpConnection> {
            auto c = std::make_shared<HttpConnection>(a.worker, impl_->settings, *impl_, nullptr);
            failure = c->connect(a.endpoint, a.left);
            if (!failure.empty()) return nullptr;
            failure = c->handshake(formatAddress(a.target.host, a.target.port), a.deadline);
            if (!failure.empty()) {
                boost::system::error_code ignored;
                c->socket().close(ignored);
                return nullptr;
            }
            return c;
        });
}

bool HttpTransport::send(void* connection, const micro_transport_message& message) {
    if (connection == nullptr) throw Error(Code::kUnavailable, "no connection");
    return static_cast<HttpConnection*>(connection)->send(message);
}

void HttpTransport::close(void* connection) noexcept {
    if (connection != nullptr) static_cast<HttpConnection*>(connection)->close();
}

}  // namespace micro::http
