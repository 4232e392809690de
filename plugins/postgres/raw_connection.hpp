// plugins/postgres/raw_connection.hpp — a plain libpq connection beside a
// session's libpqxx one, for the statements on the hot path.
//
// Why: libpqxx checks for notifications (PQconsumeInput, a recv that finds
// nothing) when a transaction opens and again after each statement, so an
// exact read through it costs three recv calls instead of one. Exact reads
// and single unconditional writes go through this connection instead
// (raw_statements.hpp).
//
// Contract
//   Opened on first get(), with the session's conninfo (conninfo.hpp, so
//   connect_timeout and the keepalives apply), then `SET statement_timeout
//   = <ms>` and `SET client_min_messages = warning`; server notices go to
//   `notice`. A session that never runs one of those statements never opens one.
//   Failures throw libpqxx's exceptions, so the store's one translation and
//   retry path (withSession) handles both connections alike:
//   pqxx::broken_connection when it cannot connect or the connection broke
//   (the session is then discarded and the call retried once on a fresh
//   one), pqxx::sql_error with the SQLSTATE for a server error.
//   Prepared statements: prepared() / prepare() remember which names
//   this connection has defined (names never clash with libpqxx's: they
//   live on another connection).
//   idleHealthy(): false when it is open but closed by the server or has
//   unasked input (the pool then drops the whole session).
//   Threads: used by the one thread that holds the session's lease.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace micro::postgres {

struct RawResultDeleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using RawResult = std::unique_ptr<PGresult, RawResultDeleter>;

class RawConnection {
 public:
    RawConnection(std::string conninfo, std::int64_t statementTimeoutMs,
                  std::function<void(std::string_view)> notice);
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    /// The open connection, connecting first if need be.
    PGconn* get();
    bool idleHealthy() const noexcept;
    /// Close it (it broke); the next get() connects afresh.
    void reset() noexcept { close(); }

    bool prepared(const std::string& name) const noexcept { return prepared_.count(name) != 0; }
    /// Define statement `name` as `sql`, whose parameters have the type
    /// OIDs `types`; remembered only when the server accepted it (a table
    /// that does not exist yet fails with 42P01, and is prepared again on
    /// the next call).
    void prepare(const std::string& name, const std::string& sql, const Oid* types, int count);

    /// Run prepared statement `name` with `count` binary parameters,
    /// asking for binary results: the result of a statement that
    /// succeeded, else what raise() throws.
    RawResult execPrepared(const std::string& name, int count, const char* const* values,
                           const int* lengths);

    /// Throws pqxx::broken_connection when the connection is gone, else
    /// pqxx::sql_error for `result` (a failed one; may be null).
    [[noreturn]] void raise(const PGresult* result) const;

 private:
    static void forwardNotice(void* self, const char* message) noexcept;
    void close() noexcept;

    const std::string conninfo_;
    const std::int64_t statementTimeoutMs_;
    std::function<void(std::string_view)> notice_;
    PGconn* connection_ = nullptr;
    std::set<std::string, std::less<>> prepared_;
};

}  // namespace micro::postgres
