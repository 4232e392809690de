#include "connection_pool.hpp"

#include <micro/error.hpp>

#include "errors.hpp"

#include <poll.h>

namespace micro::postgres {

class Session::NoticeForwarder final : public pqxx::errorhandler {
 public:
    NoticeForwarder(pqxx::connection_base& connection, std::function<void(std::string_view)> notice)
        : pqxx::errorhandler(connection), notice_(std::move(notice)) {}
    bool operator()(const char message[]) noexcept override {
        if (notice_) {
            try {
                notice_(firstLine(message));
            } catch (...) {  // a notice is only ever logged
            }
        }
        return false;  // never on to libpqxx's default (stderr)
    }

 private:
    std::function<void(std::string_view)> notice_;
};

Session::Session(const std::string& conninfo, std::int64_t statementTimeoutMs,
                 std::function<void(std::string_view)> notice)
    : raw_(conninfo, statementTimeoutMs, notice),
      connection_(std::make_unique<pqxx::connection>(conninfo)),
      notices_(std::make_unique<NoticeForwarder>(*connection_, std::move(notice))) {
    connection_->set_variable("client_min_messages", "warning");
    connection_->set_variable("statement_timeout", std::to_string(statementTimeoutMs));
}

Session::~Session() = default;

ConnectionPool::ConnectionPool(Options options) : options_(std::move(options)) {}

ConnectionPool::~ConnectionPool() = default;

ConnectionPool::Lease::~Lease() {
    if (session_) pool_->giveBack(std::move(session_), broken_);
}

namespace {
// A connection that finished a call this recently was healthy then. Looking
// at its socket costs a system call on every call under load, and a server
// comes back from a crash or restart far slower than this, so what a
// restart leaves behind is still caught before it is used (the same idea as
// HikariCP's alive-bypass window).
constexpr auto kRecentlyUsed = std::chrono::milliseconds(100);
}  // namespace

bool Session::idleHealthy() const noexcept {
    if (!connection_->is_open()) return false;
    if (std::chrono::steady_clock::now() - idleSince_ < kRecentlyUsed) return true;
    const int fd = connection_->sock();
    if (fd < 0) return false;
    // An idle connection has nothing to read: readable means the server
    // closed it (restart, kill) or sent something unasked; either way a
    // fresh one is safer than finding out halfway through a write.
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 0 && raw_.idleHealthy();
}

std::unique_ptr<Session> ConnectionPool::healthy(std::unique_ptr<Session> session) noexcept {
    // The check is a system call: it runs with no lock held, so callers do
    // not queue behind each other's polls.
    if (session->idleHealthy()) return session;
    session.reset();  // closing may wait on its socket: never under the lock
    {
        std::lock_guard lock(mutex_);
        --open_;
    }
    returned_.notify_one();  // room to open one
    return nullptr;
}

ConnectionPool::Lease ConnectionPool::borrow() {
    const auto deadline = std::chrono::steady_clock::now() + options_.waitTimeout;
    std::unique_lock lock(mutex_);
    for (;;) {
        const bool ready = returned_.wait_until(
            lock, deadline, [&] { return !idle_.empty() || open_ < options_.size; });
        if (!ready) {
            throw Error(Code::kDeadlineExceeded,
                        "postgres " + options_.label + ": no free connection within " +
                            std::to_string(options_.waitTimeout.count()) + " ms (pool_size " +
                            std::to_string(options_.size) + ")");
        }
        if (idle_.empty()) break;  // room to open one
        std::unique_ptr<Session> session = std::move(idle_.back());
        idle_.pop_back();
        lock.unlock();
        if (session = healthy(std::move(session)); session) return Lease(*this, std::move(session));
        lock.lock();
    }
    if (!failure_.empty() &&
        std::chrono::steady_clock::now() - failedAt_ < options_.retryAfterFailure) {
        throw Error(static_cast<Code>(failureCode_), failure_);
    }
    ++open_;
    lock.unlock();
    try {
        auto session = std::make_unique<Session>(options_.conninfo, options_.statementTimeoutMs,
                                                 options_.notice);
        lock.lock();
        failure_.clear();
        lock.unlock();
        return Lease(*this, std::move(session));
    } catch (const std::exception& e) {
        Error error = connectError(options_.label, e.what());
        lock.lock();
        --open_;
        failedAt_ = std::chrono::steady_clock::now();
        failure_ = error.what();
        failureCode_ = static_cast<std::int32_t>(error.code());
        lock.unlock();
        returned_.notify_one();
        throw error;
    }
}

std::optional<ConnectionPool::Lease> ConnectionPool::tryBorrow() {
    for (;;) {
        std::unique_ptr<Session> session;
        {
            std::lock_guard lock(mutex_);
            if (idle_.empty()) return std::nullopt;
            session = std::move(idle_.back());
            idle_.pop_back();
        }
        if (session = healthy(std::move(session)); session) {
            return std::optional<Lease>(std::in_place, *this, std::move(session));
        }
    }
}

void ConnectionPool::giveBack(std::unique_ptr<Session> session, bool broken) noexcept {
    std::vector<std::unique_ptr<Session>> closing;
    {
        std::lock_guard lock(mutex_);
        if (broken) {
            closing.push_back(std::move(session));
            for (auto& idle : idle_) closing.push_back(std::move(idle));
            open_ -= closing.size();
            idle_.clear();
        } else {
            session->markIdle();
            idle_.push_back(std::move(session));
        }
    }
    returned_.notify_all();
    // Closing a connection may wait on its socket: never under the lock.
    closing.clear();
}

}  // namespace micro::postgres
