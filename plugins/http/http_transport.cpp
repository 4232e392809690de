#include "http_transport.hpp"

#include <micro/error.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "address.hpp"
#include "http_connection.hpp"

namespace micro::http {

namespace {

using boost::asio::ip::tcp;
using boost::system::error_code;

constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

std::int64_t intInRange(const driver::Config& config, std::string_view key, std::int64_t fallback,
                        std::int64_t low, std::int64_t high) {
    const std::int64_t v = config.getInt(key, fallback);
    if (v < low || v > high) {
        throw Error(Code::kInvalidArgument,
                    "key '" + std::string(key) + "': must be from " + std::to_string(low) + " to " +
                        std::to_string(high) + ", got " + std::to_string(v));
    }
    return v;
}

Settings readSettings(const driver::Config& config) {
    config.allowOnly({"io_threads", "max_header_bytes", "max_body_bytes", "header_timeout_ms",
                      "body_timeout_ms", "idle_timeout_ms", "max_queued_bytes", "max_pipelined"});
    constexpr std::int64_t kMaxMs = std::int64_t{1} << 31;
    Settings s;
    s.ioThreads = static_cast<std::size_t>(intInRange(config, "io_threads", 2, 1, 256));
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

/// Everything an instance owns; the listeners reach it too.
struct Core : ConnectionOwner {
    const micro_host* host = nullptr;
    std::string instance;
    Settings settings;
    std::vector<std::unique_ptr<IoWorker>> workers;
    std::atomic<std::size_t> next{0};

    std::mutex mutex;  // guards the two maps
    std::condition_variable idle;
    std::unordered_map<Listener*, std::shared_ptr<Listener>> listeners;
    std::unordered_map<HttpConnection*, std::shared_ptr<HttpConnection>> connections;

    IoWorker& pickWorker() noexcept {
        return *workers[next.fetch_add(1, std::memory_order_relaxed) % workers.size()];
    }

    void adopt(const std::shared_ptr<HttpConnection>& c) {
        std::lock_guard lock(mutex);
        connections.emplace(c.get(), c);
    }

    void forget(HttpConnection& c) noexcept override {
        std::lock_guard lock(mutex);
        connections.erase(&c);
        if (connections.empty()) idle.notify_all();
    }

    void log(std::int32_t level, const std::string& message) const noexcept {
        if (host != nullptr && host->log != nullptr) {
            host->log(host, level, micro_str{instance.data(), instance.size()},
                      micro_str{message.data(), message.size()});
        }
    }

    /// The endpoints `hp` names: itself when numeric, else what the system
    /// resolver says. UNAVAILABLE naming the host when it says nothing.
    std::vector<tcp::endpoint> resolve(const HostPort& hp, bool passive) {
        std::vector<tcp::endpoint> out;
        error_code ec;
        const auto ip = boost::asio::ip::make_address(hp.host, ec);
        if (!ec) {
            out.emplace_back(ip, hp.port);
            return out;
        }
        tcp::resolver resolver(workers.front()->context());
        auto flags = tcp::resolver::numeric_service;
        if (passive) flags |= tcp::resolver::passive;
        const auto results = resolver.resolve(hp.host, std::to_string(hp.port), flags, ec);
        if (ec) {
            throw Error(Code::kUnavailable,
                        "cannot resolve host '" + printable(hp.host) + "': " + ec.message());
        }
        for (const auto& r : results) out.push_back(r.endpoint());
        if (out.empty()) {
            throw Error(Code::kUnavailable, "host '" + printable(hp.host) + "' has no address");
        }
        return out;
    }

    /// Close everything and join the threads (see the header's Lifetime).
    /// Runs before destruction, so no io thread is inside a virtual call
    /// while the object's type changes.
    void shutdown() noexcept;
};

/// One listening socket. Its acceptor lives on one worker; each accepted
/// connection is announced on the connection's own worker thread.
struct Listener final : Announcer, std::enable_shared_from_this<Listener> {
    Core& owner;
    IoWorker& worker;
    tcp::acceptor acceptor;
    boost::asio::steady_timer retry;
    micro_accept_handler handler;
    std::string address;

    std::mutex mutex;  // guards accepting; open is written under it
    std::condition_variable done;
    std::atomic<bool> open{true};
    int accepting = 0;  // accept handlers running now

    Listener(Core& o, IoWorker& w, micro_accept_handler h)
        : owner(o), worker(w), acceptor(w.context()), retry(w.context()), handler(h) {}

    void acceptNext() noexcept;
    void onAccepted(const error_code& ec, const std::shared_ptr<HttpConnection>& c) noexcept;
    bool announce(HttpConnection& c) noexcept override;
    void stop() noexcept;
    void closeAcceptor() noexcept {
        error_code ec;
        acceptor.close(ec);
        retry.cancel();
    }
};

namespace {
// The listener whose accept handler this thread is running, so unlisten from
// inside it does not wait for itself.
thread_local const Listener* tAcceptingListener = nullptr;
}  // namespace

void Listener::acceptNext() noexcept {
    if (!open.load()) return;
    try {
        auto c = std::make_shared<HttpConnection>(owner.pickWorker(), owner.settings, owner,
                                                  shared_from_this());
        acceptor.async_accept(c->socket(), [self = shared_from_this(), c](const error_code& ec) {
            self->onAccepted(ec, c);
        });
    } catch (...) {
        // Out of memory: try again shortly rather than stop accepting.
        retry.expires_after(kAcceptRetry);
        retry.async_wait([self = shared_from_this()](const error_code& ec) {
            if (!ec) self->acceptNext();
        });
    }
}

void Listener::onAccepted(const error_code& ec, const std::shared_ptr<HttpConnection>& c) noexcept {
    if (ec == boost::asio::error::operation_aborted || !open.load()) return;
    if (ec) {
        // Out of descriptors and the like: say so, and try again later
        // instead of spinning.
        owner.log(MICRO_LOG_WARN, "accept on " + address + " failed: " + ec.message());
        retry.expires_after(kAcceptRetry);
        retry.async_wait([self = shared_from_this()](const error_code& e) {
            if (!e) self->acceptNext();
        });
        return;
    }
    try {
        c->configure();
        owner.adopt(c);
        // The core hears of it once its first request says what it is.
        boost::asio::post(c->worker().context(), [c] { c->start(); });
    } catch (...) {
        owner.forget(*c);
        c->discard();
    }
    acceptNext();
}

bool Listener::announce(HttpConnection& c) noexcept {
    {
        std::lock_guard lock(mutex);
        if (!open.load()) return false;
        ++accepting;
    }
    {
        IoWorker::Scope scope(c.worker());  // sends from the handler leave after it
        const Listener* outer = tAcceptingListener;
        tAcceptingListener = this;
        handler.fn(handler.ctx, &c, micro_str{c.remoteAddress().data(), c.remoteAddress().size()},
                   c.events());
        tAcceptingListener = outer;
    }
    std::lock_guard lock(mutex);
    --accepting;
    done.notify_all();
    return true;
}

void Listener::stop() noexcept {
    {
        std::unique_lock lock(mutex);
        open = false;
        if (tAcceptingListener != this) done.wait(lock, [&] { return accepting == 0; });
    }
    // Close the socket on its own thread, and wait, so the port refuses
    // dials once unlisten returns.
    if (worker.current()) {
        closeAcceptor();
        return;
    }
    try {
        std::promise<void> closed;
        auto f = closed.get_future();
        boost::asio::post(worker.context(), [self = shared_from_this(), &closed] {
            self->closeAcceptor();
            closed.set_value();
        });
        f.wait();
    } catch (...) {
        // Out of memory: the pending accept still sees !open and stops.
    }
}

void Core::shutdown() noexcept {
    std::vector<std::shared_ptr<Listener>> ls;
    std::vector<std::shared_ptr<HttpConnection>> cs;
    {
        std::lock_guard lock(mutex);
        for (auto& [p, l] : listeners) ls.push_back(l);
        listeners.clear();
        for (auto& [p, c] : connections) cs.push_back(c);
    }
    for (auto& l : ls) l->stop();
    ls.clear();
    for (auto& c : cs) c->close();
    cs.clear();
    {
        // Each connection reports on_close from its io thread, then forgets
        // itself here.
        std::unique_lock lock(mutex);
        idle.wait(lock, [&] { return connections.empty(); });
    }
    for (auto& w : workers) w->stop();
    workers.clear();  // destroys what was still pending: draining sockets, timers
}

struct HttpTransport::Impl final : Core {};

HttpTransport::HttpTransport(const driver::Context& ctx) : impl_(std::make_unique<Impl>()) {
    impl_->settings = readSettings(ctx.config);
    impl_->host = ctx.host;
    impl_->instance = std::string(ctx.instanceName);
    for (std::size_t i = 0; i < impl_->settings.ioThreads; ++i) {
        impl_->workers.push_back(std::make_unique<IoWorker>());
    }
}

HttpTransport::~HttpTransport() { impl_->shutdown(); }

void* HttpTransport::listen(std::string_view address, micro_accept_handler handler,
                            driver::StringSink& bound) {
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no accept handler");
    const HostPort hp = parseAddress(address);
    const std::vector<tcp::endpoint> endpoints = impl_->resolve(hp, /*passive=*/true);
    auto l = std::make_shared<Listener>(*impl_, impl_->pickWorker(), handler);
    error_code ec;
    for (const tcp::endpoint& ep : endpoints) {
        l->acceptor.open(ep.protocol(), ec);
        if (ec) continue;
        l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
        l->acceptor.bind(ep, ec);
        if (!ec) l->acceptor.listen(tcp::acceptor::max_listen_connections, ec);
        if (!ec) break;
        error_code ignored;
        l->acceptor.close(ignored);
    }
    if (ec == boost::asio::error::address_in_use) {
        throw Error(Code::kAlreadyExists, "address '" + printable(address) + "' is already in use");
    }
    if (ec) {
        throw Error(Code::kUnavailable,
                    "cannot listen on '" + printable(address) + "': " + ec.message());
    }
    const tcp::endpoint local = l->acceptor.local_endpoint(ec);
    l->address = formatAddress(local.address().to_string(), local.port());
    {
        std::lock_guard lock(impl_->mutex);
        impl_->listeners.emplace(l.get(), l);
    }
    boost::asio::post(l->worker.context(), [l] { l->acceptNext(); });
    bound.emit(l->address);
    return l.get();
}

void HttpTransport::unlisten(void* listener) noexcept {
    std::shared_ptr<Listener> l;
    {
        std::lock_guard lock(impl_->mutex);
        auto it = impl_->listeners.find(static_cast<Listener*>(listener));
        if (it == impl_->listeners.end()) return;
        l = std::move(it->second);
        impl_->listeners.erase(it);
    }
    l->stop();
}

void* HttpTransport::dial(std::string_view address, std::int64_t timeoutMs,
                          micro_connection_events events) {
    const HostPort hp = parseAddress(address);
    if (hp.port == 0) {
        throw Error(Code::kInvalidArgument,
                    "bad http address '" + printable(address) + "': port 0 cannot be dialled");
    }
    const auto start = std::chrono::steady_clock::now();
    const std::vector<tcp::endpoint> endpoints = impl_->resolve(hp, /*passive=*/false);
    IoWorker& worker = impl_->pickWorker();
    std::shared_ptr<HttpConnection> c;
    std::string failure;
    for (const tcp::endpoint& ep : endpoints) {
        std::chrono::milliseconds left(0);
        if (timeoutMs > 0) {
            left = std::chrono::milliseconds(timeoutMs) -
                   std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start);
            if (left.count() <= 0) {
                failure = "timed out after " + std::to_string(timeoutMs) + " ms";
                break;
            }
        }
        auto candidate = std::make_shared<HttpConnection>(worker, impl_->settings, *impl_, nullptr);
        failure = candidate->connect(ep, left);
        if (failure.empty()) {
            failure =
                candidate->handshake(formatAddress(hp.host, hp.port),
                                     timeoutMs > 0 ? start + std::chrono::milliseconds(timeoutMs)
                                                   : std::chrono::steady_clock::time_point::max());
            if (!failure.empty()) {
                error_code ignored;
                candidate->socket().close(ignored);
            }
        }
        if (failure.empty()) {
            c = std::move(candidate);
            break;
        }
    }
    if (!c) {
        throw Error(Code::kUnavailable,
                    "cannot connect to '" + printable(address) + "': " + failure);
    }
    *c->events() = events;
    c->configure();
    impl_->adopt(c);
    try {
        boost::asio::post(worker.context(), [c] { c->start(); });
    } catch (...) {
        impl_->forget(*c);
        throw;
    }
    return c.get();
}

bool HttpTransport::send(void* connection, const micro_transport_message& message) {
    if (connection == nullptr) throw Error(Code::kUnavailable, "no connection");
    return static_cast<HttpConnection*>(connection)->send(message);
}

void HttpTransport::close(void* connection) noexcept {
    if (connection != nullptr) static_cast<HttpConnection*>(connection)->close();
}

}  // namespace micro::http
