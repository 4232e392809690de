// plugins/sqlite/sqlite_db.hpp — RAII over the SQLite C API: a connection to
// one database file, its prepared statements and IMMEDIATE transactions.
//
// Contract
//   Errors: every failure throws micro::Error whose message names the
//     database (its label and path), what was being done and SQLite's own
//     message. Codes: SQLITE_BUSY/LOCKED (another process holds the lock
//     past the busy timeout) and I/O errors -> UNAVAILABLE; disk full or out
//     of memory -> RESOURCE_EXHAUSTED; a corrupt file or one that is not a
//     database -> DATA_LOSS; a value too big -> INVALID_ARGUMENT; a file that
//     cannot be opened or created when the connection is made ->
//     INVALID_ARGUMENT (the configured path is wrong); the rest -> INTERNAL.
//   Opening: the file is created if absent (its folder must exist), put in
//     WAL mode with synchronous=NORMAL and the given busy timeout, so readers
//     never block the one writer and several processes can share it.
//   Threads: a Database and its Statements are not thread-safe; the owner
//     serialises every use (one mutex per connection).
//   Values: always bound as parameters, never spliced into SQL text. Text
//     and blobs are bound without copying: they must outlive the Use that
//     bound them (a Use clears its bindings when it ends).
//   Lifetime: Statements must be destroyed before their Database.
#pragma once

#include <micro/error.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace micro::sqlite {

class Database;

/// One prepared statement, reused for every execution.
class Statement {
 public:
    Statement(Database& db, std::string_view sql);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    /// One execution: bind parameters (1-based), step through the rows,
    /// read columns (0-based). The statement is reset and its bindings
    /// cleared when the Use ends. Column views are valid until the next
    /// step or the end of the Use.
    class Use {
     public:
        /// `doing` names the operation in error messages (the SQL text when
        /// empty); it must outlive the Use.
        Use(Statement& statement, std::string_view doing) noexcept
            : s_(&statement), doing_(doing) {}
        ~Use();
        Use(const Use&) = delete;
        Use& operator=(const Use&) = delete;

        Use& bind(int index, std::int64_t value);
        Use& bindText(int index, std::string_view value);
        Use& bindBlob(int index, std::string_view value);
        Use& bindNull(int index);
        /// True when a row is ready, false when the statement is done.
        bool step();
        /// Step to the end; for statements whose rows are not needed.
        void run();

        bool isNull(int column) const noexcept;
        std::int64_t integer(int column) const noexcept;
        std::string_view text(int column) const noexcept;
        std::string_view blob(int column) const noexcept;

     private:
        [[noreturn]] void fail(int rc, std::string_view what) const;

        Statement* s_;
        std::string_view doing_;
    };

    [[nodiscard]] Use use(std::string_view doing = {}) noexcept { return Use(*this, doing); }

 private:
    friend class Transaction;
    /// sqlite3_step once, returning its result code (no throw).
    int stepRaw() noexcept;

    Database* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

/// A connection to one database file.
class Database {
 public:
    /// Open (creating if absent) the database at `path` in WAL mode.
    /// `label` names the database in messages ("registry database").
    Database(std::string label, std::string path, std::int64_t busyTimeoutMs);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Run SQL that takes no parameters (schema, pragmas).
    void exec(const char* sql, std::string_view doing);
    Statement prepare(std::string_view sql) { return Statement(*this, sql); }

    const std::string& path() const noexcept { return path_; }
    /// Rows changed by the last INSERT, UPDATE or DELETE.
    std::int64_t changes() const noexcept;
    sqlite3* handle() const noexcept { return db_.get(); }

    /// Throw the micro::Error for SQLite result `rc` while `doing` something.
    [[noreturn]] void fail(int rc, std::string_view doing) const;
    /// The micro code for a SQLite result code.
    static Code codeOf(int rc) noexcept;

 private:
    friend class Transaction;
    struct Closer {
        void operator()(sqlite3* db) const noexcept;
    };

    std::string label_;
    std::string path_;
    std::unique_ptr<sqlite3, Closer> db_;
    // Transaction control, prepared once (destroyed before db_).
    std::unique_ptr<Statement> begin_;
    std::unique_ptr<Statement> commit_;
    std::unique_ptr<Statement> rollback_;
};

/// BEGIN IMMEDIATE on construction (takes the write lock now, waiting up to
/// the busy timeout, so the transaction never fails later on upgrading a
/// read lock); ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
    Transaction(Database& db, std::string_view doing);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();

 private:
    Database& db_;
    std::string_view doing_;
    bool open_ = true;
};

/// Create the schema on first use: run `schemaSql` (which must set
/// `PRAGMA user_version` to `version`) in one transaction if the file has no
/// schema yet (racing processes create it once), then refuse a file whose
/// schema version is not `version`, naming `what` and the path. Returns true
/// so a constructor can run it before preparing statements.
bool ensureSchema(Database& db, const char* schemaSql, std::int64_t version,
                  const std::string& what);

}  // namespace micro::sqlite
