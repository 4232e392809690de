// micro/transport_common/transport_core.hpp — what a socket transport
// instance owns: its io workers, its listeners and its live connections;
// listen, unlisten, dial and the orderly shutdown on top of them.
//
// Contract
//   Shape: `Connection` is the transport's connection (made with
//     std::make_shared; provides configure(), start() noexcept, close()
//     noexcept, events()). `Listener` derives from ListenerBase and is
//     constructible as Listener(Core&, IoWorker&, micro_accept_handler);
//     both may be incomplete where the core is named. `Settings` has
//     ioThreads.
//   Threads: listen, unlisten and dial may block (resolution, connect) and
//     run on the caller's thread; adopt and forget are thread-safe (one
//     mutex, taken once per connection, never per message).
//   Errors: as the transports' headers say: bad syntax INVALID_ARGUMENT, a
//     port in use ALREADY_EXISTS, anything else that stops listen or dial
//     UNAVAILABLE, each naming the address.
//   Lifetime: the core holds a shared_ptr to every listener until unlisten
//     and to every connection until it forgets itself (after its on_close).
//     shutdown() must run before the object is destroyed (it stops
//     everything and joins the threads; afterwards no callback runs).
#pragma once

#include <micro/driver/registry.hpp>
#include <micro/error.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <micro/transport_common/address.hpp>
#include <micro/transport_common/io_worker.hpp>
#include <micro/transport_common/resolve.hpp>

namespace micro::transport_common {

template <typename Connection>
struct DialAttempt {
    IoWorker<Connection>& worker;  // the new connection's
    const HostPort& target;        // as dial was given it
    const boost::asio::ip::tcp::endpoint& endpoint;
    std::chrono::milliseconds left;                  // of timeout_ms; 0: no limit
    std::chrono::steady_clock::time_point deadline;  // max(): no limit
};

template <typename Connection, typename Listener, typename Settings>
class TransportCore : public ConnectionOwner<Connection> {
 public:
    using Worker = IoWorker<Connection>;
    using tcp = boost::asio::ip::tcp;

    /// Starts settings.ioThreads workers. `syntax` must outlive the core.
    TransportCore(const micro_host* host, std::string_view instance, const Settings& settings,
                  const AddressSyntax& syntax)
        : settings(settings), host_(host), instance_(instance), syntax_(syntax) {
        for (std::size_t i = 0; i < settings.ioThreads; ++i) {
            workers_.push_back(std::make_unique<Worker>());
        }
    }
    TransportCore(const TransportCore&) = delete;
    TransportCore& operator=(const TransportCore&) = delete;

    const Settings settings;

    /// Round-robin over the workers.
    Worker& pickWorker() noexcept {
        return *workers_[next_.fetch_add(1, std::memory_order_relaxed) % workers_.size()];
    }

    /// Keep `c` until it forgets itself. Thread-safe.
    void adopt(const std::shared_ptr<Connection>& c) {
        std::lock_guard lock(mutex_);
        connections_.emplace(c.get(), c);
    }

    void forget(Connection& c) noexcept override {
        std::lock_guard lock(mutex_);
        connections_.erase(&c);
        if (connections_.empty()) idle_.notify_all();
    }

    void log(std::int32_t level, const std::string& message) const noexcept {
        if (host_ != nullptr && host_->log != nullptr) {
            host_->log(host_, level, micro_str{instance_.data(), instance_.size()},
                       micro_str{message.data(), message.size()});
        }
    }

    /// Bind and listen on `address`, then accept on a worker's thread.
    /// Returns the listener handle; `bound` receives "IP:PORT".
    void* listen(std::string_view address, micro_accept_handler handler,
                 driver::StringSink& bound) {
        if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no accept handler");
        const HostPort hp = parseAddress(address, syntax_);
        const std::vector<tcp::endpoint> endpoints =
            resolve(workers_.front()->context(), hp, /*passive=*/true);
        auto l = std::make_shared<Listener>(*this, pickWorker(), handler);
        boost::system::error_code ec;
        for (const tcp::endpoint& ep : endpoints) {
            l->acceptor.open(ep.protocol(), ec);
            if (ec) continue;
            l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
            l->acceptor.bind(ep, ec);
            if (!ec) l->acceptor.listen(tcp::acceptor::max_listen_connections, ec);
            if (!ec) break;
            boost::system::error_code ignored;
            l->acceptor.close(ignored);
        }
        if (ec == boost::asio::error::address_in_use) {
            throw Error(Code::kAlreadyExists,
                        "address '" + printable(address) + "' is already in use");
        }
        if (ec) {
            throw Error(Code::kUnavailable,
                        "cannot listen on '" + printable(address) + "': " + ec.message());
        }
        const tcp::endpoint local = l->acceptor.local_endpoint(ec);
        l->address = formatAddress(local.address().to_string(), local.port());
        {
            std::lock_guard lock(mutex_);
            listeners_.emplace(l.get(), l);
        }
        boost::asio::post(l->worker.context(), [l] { l->acceptNext(); });
        bound.emit(l->address);
        return l.get();
    }

    /// Stop a listener listen returned; an unknown handle is ignored.
    void unlisten(void* listener) noexcept {
        std::shared_ptr<Listener> l;
        {
            std::lock_guard lock(mutex_);
            auto it = listeners_.find(static_cast<Listener*>(listener));
            if (it == listeners_.end()) return;
            l = std::move(it->second);
            listeners_.erase(it);
        }
        l->stop();
    }

    /// Connect to `address`, trying its endpoints in order within
    /// `timeoutMs` (<= 0: no limit of ours). `open(const DialAttempt&,
    /// std::string& failure)` makes and connects one candidate: the
    /// connection, or null with `failure` saying why. The one that connects
    /// is configured, adopted and started on its worker with `events`.
    template <typename Open>
    void* dial(std::string_view address, std::int64_t timeoutMs, micro_connection_events events,
               Open&& open) {
        using Clock = std::chrono::steady_clock;
        const HostPort hp = parseAddress(address, syntax_);
        if (hp.port == 0) {
            throw Error(Code::kInvalidArgument, "bad " + std::string(syntax_.scheme) +
                                                    " address '" + printable(address) +
                                                    "': port 0 cannot be dialled");
        }
        const auto start = Clock::now();
        const Clock::time_point deadline =
            timeoutMs > 0 ? start + std::chrono::milliseconds(timeoutMs) : Clock::time_point::max();
        const std::vector<tcp::endpoint> endpoints =
            resolve(workers_.front()->context(), hp, /*passive=*/false);
        Worker& worker = pickWorker();
        std::shared_ptr<Connection> c;
        std::string failure;
        for (const tcp::endpoint& ep : endpoints) {
            std::chrono::milliseconds left(0);
            if (timeoutMs > 0) {
                left = std::chrono::milliseconds(timeoutMs) -
                       std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
                if (left.count() <= 0) {
                    failure = "timed out after " + std::to_string(timeoutMs) + " ms";
                    break;
                }
            }
            c = open(DialAttempt<Connection>{worker, hp, ep, left, deadline}, failure);
            if (c) break;
        }
        if (!c) {
            throw Error(Code::kUnavailable,
                        "cannot connect to '" + printable(address) + "': " + failure);
        }
        *c->events() = events;
        c->configure();
        adopt(c);
        try {
            boost::asio::post(worker.context(), [c] { c->start(); });
        } catch (...) {
            forget(*c);
            throw;
        }
        return c.get();
    }

    /// Close everything and join the threads (see the header's Lifetime).
    /// Runs before destruction, so no io thread is inside a virtual call
    /// while the object's type changes.
    void shutdown() noexcept {
        std::vector<std::shared_ptr<Listener>> ls;
        std::vector<std::shared_ptr<Connection>> cs;
        {
            std::lock_guard lock(mutex_);
            for (auto& [p, l] : listeners_) ls.push_back(l);
            listeners_.clear();
            for (auto& [p, c] : connections_) cs.push_back(c);
        }
        for (auto& l : ls) l->stop();
        ls.clear();
        for (auto& c : cs) c->close();
        cs.clear();
        {
            // Each connection reports on_close from its io thread, then
            // forgets itself here.
            std::unique_lock lock(mutex_);
            idle_.wait(lock, [&] { return connections_.empty(); });
        }
        for (auto& w : workers_) w->stop();
        workers_.clear();  // destroys what was still pending: draining sockets, timers
    }

 protected:
    ~TransportCore() = default;

 private:
    const micro_host* host_;
    const std::string instance_;
    const AddressSyntax& syntax_;
    std::vector<std::unique_ptr<Worker>> workers_;
    std::atomic<std::size_t> next_{0};

    std::mutex mutex_;  // guards the two maps
    std::condition_variable idle_;
    std::unordered_map<Listener*, std::shared_ptr<Listener>> listeners_;
    std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
};

}  // namespace micro::transport_common
