#include "raw_connection.hpp"

#include <pqxx/except>

#include <poll.h>

#include <memory>

#include "errors.hpp"

namespace micro::postgres {
RawConnection::RawConnection(std::string conninfo, std::int64_t statementTimeoutMs,
                             std::function<void(std::string_view)> notice)
    : conninfo_(std::move(conninfo)),
      statementTimeoutMs_(statementTimeoutMs),
      notice_(std::move(notice)) {}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() noexcept {
    if (connection_ != nullptr) PQfinish(connection_);
    connection_ = nullptr;
    prepared_.clear();
}

void RawConnection::forwardNotice(void* self, const char* message) noexcept {
    auto* raw = static_cast<RawConnection*>(self);
    if (!raw->notice_) return;
    try {
        raw->notice_(firstLine(message));
    } catch (...) {  // a notice is only ever logged
    }
}

PGconn* RawConnection::get() {
    if (connection_ != nullptr) {
        if (PQstatus(connection_) == CONNECTION_OK) return connection_;
        close();
    }
    connection_ = PQconnectdb(conninfo_.c_str());
    if (connection_ == nullptr) throw pqxx::broken_connection("out of memory connecting");
    if (PQstatus(connection_) != CONNECTION_OK) {
        const std::string message = PQerrorMessage(connection_);
        close();
        throw pqxx::broken_connection(message);
    }
    PQsetNoticeProcessor(connection_, &RawConnection::forwardNotice, this);
    const std::string setup = "SET client_min_messages = warning; SET statement_timeout = " +
                              std::to_string(statementTimeoutMs_);
    const RawResult r(PQexec(connection_, setup.c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(r.get());
    return connection_;
}

void RawConnection::prepare(const std::string& name, const std::string& sql, const Oid* types,
                            int count) {
    PGconn* c = get();
    const RawResult r(PQprepare(c, name.c_str(), sql.c_str(), count, types));
    if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) raise(r.get());
    prepared_.insert(name);
}

RawResult RawConnection::execPrepared(const std::string& name, int count, const char* const* values,
                                      const int* lengths) {
    static constexpr int kBinary[] = {1, 1, 1, 1, 1, 1, 1, 1};
    if (count > 8) throw pqxx::usage_error("execPrepared: more than 8 parameters");
    PGconn* c = get();
    RawResult r(PQexecPrepared(c, name.c_str(), count, values, lengths, kBinary, 1));
    const ExecStatusType status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) raise(r.get());
    return r;
}

bool RawConnection::idleHealthy() const noexcept {
    if (connection_ == nullptr) return true;  // nothing to go stale
    if (PQstatus(connection_) != CONNECTION_OK) return false;
    const int fd = PQsocket(connection_);
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0;
}

void RawConnection::raise(const PGresult* result) const {
    const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const std::string message = result != nullptr && *PQresultErrorMessage(result) != '\0'
                                    ? PQresultErrorMessage(result)
                                    : PQerrorMessage(connection_);
    if (connection_ == nullptr || PQstatus(connection_) != CONNECTION_OK ||
        (state != nullptr && sessionLost(state))) {
        throw pqxx::broken_connection(message);
    }
    throw pqxx::sql_error(message, "", state);
}

}  // namespace micro::postgres
