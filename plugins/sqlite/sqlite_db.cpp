#include "sqlite_db.hpp"

#include <sqlite3.h>

#include <cstring>
#include <utility>

namespace micro::sqlite {

// ---- Database --------------------------------------------------------------

void Database::Closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

Code Database::codeOf(int rc) noexcept {
    switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_ROW:
        case SQLITE_DONE:
            return Code::kOk;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_IOERR:
        case SQLITE_PROTOCOL:
        case SQLITE_CANTOPEN:
        case SQLITE_READONLY:
            return Code::kUnavailable;
        case SQLITE_FULL:
        case SQLITE_NOMEM:
            return Code::kResourceExhausted;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return Code::kDataLoss;
        case SQLITE_TOOBIG:
        case SQLITE_RANGE:
        case SQLITE_MISMATCH:
            return Code::kInvalidArgument;
        case SQLITE_PERM:
        case SQLITE_AUTH:
            return Code::kPermissionDenied;
        default:
            return Code::kInternal;
    }
}

void Database::fail(int rc, std::string_view doing) const {
    std::string message = label_ + " '" + path_ + "': " + std::string(doing) + ": ";
    const char* detail = db_ ? sqlite3_errmsg(db_.get()) : nullptr;
    // errmsg describes the connection's most recent error, which is `rc`
    // unless the caller passes a code of its own.
    if (detail == nullptr || (db_ && sqlite3_extended_errcode(db_.get()) != rc)) {
        detail = sqlite3_errstr(rc);
    }
    message += detail;
    int sys = db_ ? sqlite3_system_errno(db_.get()) : 0;
    if ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR) {
        if (sys != 0) message += std::string(" (") + std::strerror(sys) + ")";
    }
    throw Error(codeOf(rc), message);
}

Database::Database(std::string label, std::string path, std::int64_t busyTimeoutMs)
    : label_(std::move(label)), path_(std::move(path)) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path_.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);  // even on failure: the handle must be closed
    if (rc != SQLITE_OK) {
        try {
            fail(rc, "cannot open or create the database file");
        } catch (const Error& e) {
            // At open time a file that cannot be opened is a wrong path in the
            // configuration, not a passing outage.
            Code code = (rc & 0xff) == SQLITE_CANTOPEN ? Code::kInvalidArgument : e.code();
            throw Error(code, e.what());
        }
    }
    sqlite3_extended_result_codes(db_.get(), 1);
    sqlite3_busy_timeout(db_.get(),
                         static_cast<int>(busyTimeoutMs > 0x7fffffff ? 0x7fffffff : busyTimeoutMs));

    // The first read of the file: a file that is not a database fails here.
    exec("SELECT count(*) FROM sqlite_schema", "reading the database file");
    // journal_mode answers with the mode now in force: a file system without
    // shared memory (or ":memory:") cannot do WAL, and several processes
    // could not share the file safely without it.
    {
        Statement wal(*this, "PRAGMA journal_mode=WAL");
        auto q = wal.use("switching to WAL mode");
        if (!q.step() || q.text(0) != "wal") {
            throw Error(Code::kInvalidArgument,
                        label_ + " '" + path_ + "': cannot use WAL mode (journal mode is '" +
                            std::string(q.text(0)) + "'); use a file on a local file system");
        }
    }
    exec("PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL");
    begin_ = std::make_unique<Statement>(*this, "BEGIN IMMEDIATE");
    commit_ = std::make_unique<Statement>(*this, "COMMIT");
    rollback_ = std::make_unique<Statement>(*this, "ROLLBACK");
}

Database::~Database() {
    // Statements first: sqlite3_close_v2 would otherwise keep the connection
    // open as a zombie until they are finalized.
    begin_.reset();
    commit_.reset();
    rollback_.reset();
}

std::int64_t Database::changes() const noexcept { return sqlite3_changes64(db_.get()); }

void Database::exec(const char* sql, std::string_view doing) {
    int rc = sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(rc, doing);
}

// ---- Statement -------------------------------------------------------------

Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
    int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
        db.fail(rc, "preparing '" + std::string(sql) + "'");
    }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::Use::~Use() {
    sqlite3_reset(s_->stmt_);
    sqlite3_clear_bindings(s_->stmt_);
}

Statement::Use& Statement::Use::bind(int index, std::int64_t value) {
    int rc = sqlite3_bind_int64(s_->stmt_, index, value);
    if (rc != SQLITE_OK) fail(rc, "binding a parameter");
    return *this;
}

Statement::Use& Statement::Use::bindText(int index, std::string_view value) {
    // A null pointer would bind SQL NULL, not an empty string.
    const char* data = value.data() != nullptr ? value.data() : "";
    int rc = sqlite3_bind_text64(s_->stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8);
    if (rc != SQLITE_OK) fail(rc, "binding a text parameter");
    return *this;
}

Statement::Use& Statement::Use::bindBlob(int index, std::string_view value) {
    int rc = value.empty()
                 ? sqlite3_bind_zeroblob(s_->stmt_, index, 0)
                 : sqlite3_bind_blob64(s_->stmt_, index, value.data(), value.size(), SQLITE_STATIC);
    if (rc != SQLITE_OK) fail(rc, "binding a blob parameter");
    return *this;
}

Statement::Use& Statement::Use::bindNull(int index) {
    int rc = sqlite3_bind_null(s_->stmt_, index);
    if (rc != SQLITE_OK) fail(rc, "binding a parameter");
    return *this;
}

bool Statement::Use::step() {
    int rc = sqlite3_step(s_->stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc, {});
}

void Statement::Use::fail(int rc, std::string_view what) const {
    std::string doing = doing_.empty() ? "running '" + std::string(sqlite3_sql(s_->stmt_)) + "'"
                                       : std::string(doing_);
    if (!what.empty()) doing += ": " + std::string(what);
    s_->db_->fail(rc, doing);
}

int Statement::stepRaw() noexcept { return sqlite3_step(stmt_); }

void Statement::Use::run() {
    while (step()) {
    }
}

bool Statement::Use::isNull(int column) const noexcept {
    return sqlite3_column_type(s_->stmt_, column) == SQLITE_NULL;
}

std::int64_t Statement::Use::integer(int column) const noexcept {
    return sqlite3_column_int64(s_->stmt_, column);
}

std::string_view Statement::Use::text(int column) const noexcept {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(s_->stmt_, column));
    int size = sqlite3_column_bytes(s_->stmt_, column);
    if (data == nullptr || size <= 0) return {};
    return {data, static_cast<std::size_t>(size)};
}

std::string_view Statement::Use::blob(int column) const noexcept {
    const auto* data = static_cast<const char*>(sqlite3_column_blob(s_->stmt_, column));
    int size = sqlite3_column_bytes(s_->stmt_, column);
    if (data == nullptr || size <= 0) return {};
    return {data, static_cast<std::size_t>(size)};
}

// ---- Transaction -----------------------------------------------------------

Transaction::Transaction(Database& db, std::string_view doing) : db_(db), doing_(doing) {
    int rc = [&] {
        auto q = db_.begin_->use();
        return db_.begin_->stepRaw();
    }();
    if (rc != SQLITE_DONE) {
        open_ = false;
        db_.fail(rc, std::string(doing_) + ": cannot take the write lock");
    }
}

Transaction::~Transaction() {
    if (!open_) return;
    // A failed statement may already have rolled the transaction back.
    if (sqlite3_get_autocommit(db_.handle()) != 0) return;
    auto q = db_.rollback_->use();
    db_.rollback_->stepRaw();
}

void Transaction::commit() {
    auto q = db_.commit_->use();
    int rc = db_.commit_->stepRaw();
    if (rc != SQLITE_DONE) db_.fail(rc, std::string(doing_) + ": commit failed");
    open_ = false;
}

bool ensureSchema(Database& db, const char* schemaSql, std::int64_t version,
                  const std::string& what) {
    auto current = [&db] {
        Statement s(db, "PRAGMA user_version");
        auto q = s.use("reading the schema version");
        return q.step() ? q.integer(0) : 0;
    };
    std::int64_t v = current();
    if (v == 0) {
        const std::string doing = "creating the " + what + " schema";  // outlives `t`
        Transaction t(db, doing);
        v = current();  // another process may have won the race
        if (v == 0) {
            db.exec(schemaSql, doing);
            v = version;
        }
        t.commit();
    }
    if (v != version) {
        throw Error(Code::kFailedPrecondition,
                    what + " database '" + db.path() + "': schema version " + std::to_string(v) +
                        ", this driver reads version " + std::to_string(version) +
                        " (a different micro release?)");
    }
    return true;
}

}  // namespace micro::sqlite
