#include "connection_pool.hpp"

#include <micro/error.hpp>

#include "errors.hpp"

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
    : connection_(std::make_unique<pqxx::connection>(conninfo)),
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

ConnectionPool::Lease ConnectionPool::borrow() {
    std::unique_lock lock(mutex_);
    const bool ready = returned_.wait_for(lock, options_.waitTimeout,
                                          [&] { return !idle_.empty() || open_ < options_.size; });
    if (!ready) {
        throw Error(Code::kDeadlineExceeded,
                    "postgres " + options_.label + ": no free connection within " +
                        std::to_string(options_.waitTimeout.count()) + " ms (pool_size " +
                        std::to_string(options_.size) + ")");
    }
    if (!idle_.empty()) {
        std::unique_ptr<Session> session = std::move(idle_.back());
        idle_.pop_back();
        return Lease(*this, std::move(session));
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
            idle_.push_back(std::move(session));
        }
    }
    returned_.notify_all();
    // Closing a connection may wait on its socket: never under the lock.
    closing.clear();
}

}  // namespace micro::postgres
