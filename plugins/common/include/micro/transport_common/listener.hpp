// micro/transport_common/listener.hpp — one listening socket of a socket
// transport: the accept loop, the bracket around the accept handler, and
// unlisten.
//
// Contract
//   Shape: CRTP. `Derived` (the transport's listener, made with
//     std::make_shared) provides, on the listener's io thread:
//       std::shared_ptr<Connection> newConnection();   // may throw
//       void accepted(const std::shared_ptr<Connection>& c);
//     accepted() runs once the socket is accepted and configured, and says
//     when the core hears of it (announce()). If it throws, the connection
//     is forgotten and discarded without any event. `Owner` provides
//     log(level, message) noexcept and forget(Connection&) noexcept.
//     `Connection` provides configure(), discard() noexcept, worker(),
//     remoteAddress() and events().
//   Threads: the acceptor lives on one IoWorker; announce() runs the accept
//     handler on the connection's own io thread, so what the handler sends
//     leaves once it returns. stop() may be called from any thread, the
//     accept handler included.
//   Errors: a failed accept (out of descriptors, ...) is logged and retried
//     after 100 ms instead of spinning; out of memory is retried the same
//     way. Nothing here throws.
//   Lifetime: pending accepts and timers hold a shared_ptr to the listener.
//     stop() stops accepting, waits for accept handlers of this listener
//     running on other threads, and closes the acceptor on its own thread,
//     so the port refuses dials once it returns.
#pragma once

#include <micro/abi.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include <micro/transport_common/io_worker.hpp>

namespace micro::transport_common {

template <typename Derived, typename Owner, typename Connection>
class ListenerBase : public std::enable_shared_from_this<Derived> {
 public:
    using Worker = IoWorker<Connection>;

    ListenerBase(Owner& owner, Worker& worker, micro_accept_handler handler)
        : owner(owner),
          worker(worker),
          acceptor(worker.context()),
          retry_(worker.context()),
          handler_(handler) {}
    ListenerBase(const ListenerBase&) = delete;
    ListenerBase& operator=(const ListenerBase&) = delete;

    Owner& owner;
    Worker& worker;
    boost::asio::ip::tcp::acceptor acceptor;  // bound by the owner before acceptNext
    std::string address;                      // the bound "IP:PORT", for messages

    /// Accept the next connection. On the listener's io thread.
    void acceptNext() noexcept {
        if (!open_.load()) return;
        try {
            auto c = derived().newConnection();
            acceptor.async_accept(c->socket(),
                                  [self = this->shared_from_this(), c](const error_code& ec) {
                                      self->onAccepted(ec, c);
                                  });
        } catch (...) {
            // Out of memory: try again shortly rather than stop accepting.
            retryLater();
        }
    }

    /// Stop accepting (see the header's Lifetime). Any thread.
    void stop() noexcept {
        {
            std::unique_lock lock(mutex_);
            open_ = false;
            if (tAccepting != this) done_.wait(lock, [&] { return accepting_ == 0; });
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
            boost::asio::post(worker.context(), [self = this->shared_from_this(), &closed] {
                self->closeAcceptor();
                closed.set_value();
            });
            f.wait();
        } catch (...) {
            // Out of memory: the pending accept still sees !open and stops.
        }
    }

 protected:
    ~ListenerBase() = default;

    /// Tell the core of `c` (its accept handler), on c's io thread, unless
    /// the listener was stopped: false then, and the handler did not run.
    /// `before` runs first, inside the bracket that stop() waits for; when
    /// it returns false the handler does not run either.
    template <typename Before>
    bool announce(Connection& c, Before&& before) noexcept {
        {
            std::lock_guard lock(mutex_);
            if (!open_.load()) return false;
            ++accepting_;
        }
        const bool go = before();
        if (go) {
            typename Worker::Scope scope(c.worker());  // sends from the handler leave after it
            const ListenerBase* outer = tAccepting;
            tAccepting = this;
            handler_.fn(handler_.ctx, &c,
                        micro_str{c.remoteAddress().data(), c.remoteAddress().size()}, c.events());
            tAccepting = outer;
        }
        std::lock_guard lock(mutex_);
        --accepting_;
        done_.notify_all();
        return go;
    }
    bool announce(Connection& c) noexcept {
        return announce(c, [] { return true; });
    }

 private:
    using error_code = boost::system::error_code;
    static constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

    Derived& derived() noexcept { return static_cast<Derived&>(*this); }

    void onAccepted(const error_code& ec, const std::shared_ptr<Connection>& c) noexcept {
        if (ec == boost::asio::error::operation_aborted || !open_.load()) return;
        if (ec) {
            // Out of descriptors and the like: say so, and try again later
            // instead of spinning.
            owner.log(MICRO_LOG_WARN, "accept on " + address + " failed: " + ec.message());
            retryLater();
            return;
        }
        try {
            c->configure();
            derived().accepted(c);
        } catch (...) {
            owner.forget(*c);
            c->discard();
        }
        acceptNext();
    }

    void retryLater() noexcept {
        try {
            retry_.expires_after(kAcceptRetry);
            retry_.async_wait([self = this->shared_from_this()](const error_code& e) {
                if (!e) self->acceptNext();
            });
        } catch (...) {
            // Not even that: the listener stays open but idle until unlisten.
        }
    }

    void closeAcceptor() noexcept {
        error_code ec;
        acceptor.close(ec);
        retry_.cancel();
    }

    // The listener whose accept handler this thread is running, so stop()
    // from inside it does not wait for itself.
    static inline thread_local const ListenerBase* tAccepting = nullptr;

    boost::asio::steady_timer retry_;
    micro_accept_handler handler_;
    std::mutex mutex_;  // guards accepting_; open_ is written under it
    std::condition_variable done_;
    std::atomic<bool> open_{true};
    int accepting_ = 0;  // accept handlers running now
};

}  // namespace micro::transport_common
