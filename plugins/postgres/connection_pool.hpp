// plugins/postgres/connection_pool.hpp — a bounded pool of libpqxx
// connections to one server, connected lazily and replaced when they break.
//
// Contract
//   Size: at most `size` connections exist at once (idle + borrowed). None
//     is opened before the first borrow, so a store can be created while
//     the server is down.
//   borrow(): an idle connection (one whose socket shows the server closed
//     it is closed instead, so a restart costs no failed call), else a new one (when fewer than
//     `size` exist), else waits up to `waitTimeout` for one to come back (DEADLINE_EXCEEDED after
//     that). tryBorrow(): an idle connection at once, or nullopt; it never waits and never
//     connects. Connecting runs outside the pool's lock and is bounded by the conninfo's
//     connect_timeout. A failed connect throws UNAVAILABLE "postgres host:port: cannot connect:
//     ..." (UNAUTHENTICATED for a rejected password); for `retryAfterFailure` after it, further
//     connects fail at once with the same error instead of each waiting out a connect timeout.
//   Each new connection runs `SET statement_timeout = <ms>` and
//     `SET client_min_messages = warning`, and forwards any server notice to
//     `notice` (the plugin never writes to stderr).
//   Lease: the borrowed connection, returned to the pool when the lease is
//     destroyed. discard() destroys it instead (it broke) and also closes
//     every idle connection, which most likely broke with it (a server
//     restart breaks them all); the next borrow connects afresh.
//   Session: one libpqxx connection (plus, once an exact read ran on it, a
//     plain libpq one: raw_connection.hpp) and the names of the statements prepared on it
//     (prepare() defines a statement once per connection; libpqxx registers
//     it with the server on first use). A session is used by one thread at
//     a time: the lease is exclusive.
//   Threads: borrow() and lease destruction are thread-safe. The pool must
//     outlive its leases.
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "raw_connection.hpp"

namespace micro::postgres {

class Session {
 public:
    Session(const std::string& conninfo, std::int64_t statementTimeoutMs,
            std::function<void(std::string_view)> notice);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    pqxx::connection& connection() noexcept { return *connection_; }
    /// The session's plain libpq connection for exact reads, opened on
    /// first use (raw_connection.hpp). It goes and comes with the session:
    /// a discarded lease closes both.
    RawConnection& raw() noexcept { return raw_; }
    /// For an idle connection: false when it is closed or its socket has
    /// something to read (the server closed it, or sent what nobody asked).
    /// One back from a call less than kRecentlyUsed ago is taken as healthy
    /// without looking at its socket (see connection_pool.cpp).
    bool idleHealthy() const noexcept;
    /// Marks the start of an idle spell (the pool calls it on return).
    void markIdle() noexcept { idleSince_ = std::chrono::steady_clock::now(); }

    /// Define statement `name` on this connection unless it already is;
    /// `sql` is called only when it is not.
    template <typename MakeSql>
    void prepare(const std::string& name, MakeSql&& sql) {
        if (prepared_.count(name) != 0) return;
        connection_->prepare(name, sql());
        prepared_.insert(name);
    }

 private:
    class NoticeForwarder;
    RawConnection raw_;
    std::unique_ptr<pqxx::connection> connection_;
    std::unique_ptr<NoticeForwarder> notices_;  // destroyed before connection_
    std::set<std::string> prepared_;
    std::chrono::steady_clock::time_point idleSince_{};
};

class ConnectionPool {
 public:
    struct Options {
        std::string conninfo;
        std::string label;  ///< "host:port", for messages
        std::size_t size = 4;
        std::int64_t statementTimeoutMs = 5000;
        std::chrono::milliseconds waitTimeout{10000};
        std::chrono::milliseconds retryAfterFailure{250};
        std::function<void(std::string_view)> notice;
    };

    class Lease {
     public:
        Lease(ConnectionPool& pool, std::unique_ptr<Session> session) noexcept
            : pool_(&pool), session_(std::move(session)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        Lease(const Lease&) = delete;
        ~Lease();

        Session& session() noexcept { return *session_; }
        /// The connection broke: destroy it (and the idle ones) on release.
        void discard() noexcept { broken_ = true; }

     private:
        ConnectionPool* pool_;
        std::unique_ptr<Session> session_;
        bool broken_ = false;
    };

    explicit ConnectionPool(Options options);
    ~ConnectionPool();
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    Lease borrow();
    std::optional<Lease> tryBorrow();
    const std::string& label() const noexcept { return options_.label; }

 private:
    void giveBack(std::unique_ptr<Session> session, bool broken) noexcept;
    /// `session` (taken from idle_, still counted in open_) if it is
    /// healthy; else closes it, uncounts it and returns null. Call with
    /// mutex_ not held.
    std::unique_ptr<Session> healthy(std::unique_ptr<Session> session) noexcept;

    const Options options_;
    std::mutex mutex_;
    std::condition_variable returned_;
    std::vector<std::unique_ptr<Session>> idle_;        // guarded by mutex_
    std::size_t open_ = 0;                              // idle + borrowed; guarded by mutex_
    std::chrono::steady_clock::time_point failedAt_{};  // last failed connect
    std::string failure_;                               // its message ("" = none)
    std::int32_t failureCode_ = 0;
};

}  // namespace micro::postgres
