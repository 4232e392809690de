// The "file" store of micro-sqlite.so across real processes: peers
// (sqlite-store-peer) and this process share one database file. Compare-
// and-set increments from several processes lose no update; a record's TTL
// holds in every process and the sweeper deletes it; bad names and bad files
// are refused with messages naming them.
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"  // tests/support
#include "process.hpp"

using namespace std::chrono_literals;
using micro::Code;
using micro::test::ChildProcess;
using micro::test::TempDir;

namespace {

const std::string kPlugin = MICRO_SQLITE_PLUGIN;
const std::string kStorePeer = MICRO_SQLITE_STORE_PEER;

std::string storeManifest(const TempDir& dir, const std::string& extra = "") {
    return dir.write("store.toml", "[store]\nplugin = \"" + kPlugin +
                                       "\"\ndriver = \"file\"\ndir = \"" + dir.path() +
                                       "/store\"\nsweep_ms = 50\n" + extra);
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
}

std::pair<Code, std::string> codeOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const micro::Error& e) {
        return {e.code(), e.what()};
    }
    return {Code::kOk, ""};
}

/// Rows physically left in the SQL table behind store table `table` of the
/// database file `db` (see store_file.hpp for the schema).
long long rowsIn(const std::string& db, const std::string& table) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    long long id = -1;
    long long rows = -1;
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(raw, "SELECT id FROM micro_tables WHERE name = ?1", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, table.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW) id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (id >= 0) {
        const std::string sql =
            "SELECT count(*) FROM \"r" + std::to_string(id) + "_" + table + "\"";
        sqlite3_prepare_v2(raw, sql.c_str(), -1, &s, nullptr);
        if (sqlite3_step(s) == SQLITE_ROW) rows = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(raw);
    return rows;
}

}  // namespace

TEST_CASE("store: compare-and-set increments from three processes lose no update") {
    TempDir dir;
    const std::string m = storeManifest(dir);
    constexpr int kEach = 100;
    ChildProcess a({kStorePeer, m, "increment", "counter", std::to_string(kEach)});
    ChildProcess b({kStorePeer, m, "increment", "counter", std::to_string(kEach)});
    {
        micro::Runtime rt = micro::Runtime::load(m);
        for (int i = 0; i < kEach; ++i) {
            for (;;) {
                micro::Record next;
                next.key = "counter";
                micro::WriteOptions cas;
                try {
                    const micro::Record current = rt.store().read("counter").at(0);
                    next.value = std::to_string(std::stoll(current.value) + 1);
                    cas.expectedVersion = current.version;
                } catch (const micro::Error& e) {
                    REQUIRE(e.code() == Code::kNotFound);
                    next.value = std::to_string(1);
                    cas.expectedVersion = micro::kAbsentVersion;
                }
                auto [code, message] = codeOf([&] { rt.store().write(next, cas); });
                INFO("message: " << message);
                if (code == Code::kOk) break;
                REQUIRE(code == Code::kAborted);
            }
        }
    }
    CHECK(a.wait(60s) == 0);
    CHECK(b.wait(60s) == 0);
    micro::Runtime rt = micro::Runtime::load(m);
    const micro::Record r = rt.store().read("counter").at(0);
    CHECK(r.value == std::to_string(3 * kEach));
    CHECK(r.version >= 3 * kEach);
}

TEST_CASE("store: another process's record is read here, expires on its TTL, and is swept") {
    TempDir dir;
    const std::string m = storeManifest(dir);
    micro::Runtime rt = micro::Runtime::load(m);
    micro::test::ProcessResult r =
        micro::test::runProcess({kStorePeer, m, "put", "session", "token", "800"});
    INFO("peer stderr: " << r.err);
    REQUIRE(r.exitCode == 0);
    micro::test::ProcessResult keep =
        micro::test::runProcess({kStorePeer, m, "put", "config", "kept", "0"});
    REQUIRE(keep.exitCode == 0);

    const micro::Record session = rt.store().read("session").at(0);
    CHECK(session.value == "token");
    CHECK(session.expiryUnixMs > 0);
    CHECK(eventually(
        [&] { return codeOf([&] { rt.store().read("session"); }).first == Code::kNotFound; }));
    // Gone from the file too, not only hidden; the record without TTL stays.
    const std::string db = dir.path() + "/store/micro.db";
    CHECK(eventually([&] { return rowsIn(db, "micro") == 1; }));
    CHECK(rt.store().read("config").at(0).value == "kept");
}

TEST_CASE("store: tables differing only in case are separate and bad names are refused") {
    TempDir dir;
    micro::Runtime rt = micro::Runtime::load(storeManifest(dir));
    micro::Record rec;
    rec.key = "k";
    rec.value = "upper";
    const std::uint64_t v1 = rt.store().write(rec, {.table = "Orders"});
    rec.value = "lower";
    const std::uint64_t v2 = rt.store().write(rec, {.table = "orders"});
    CHECK(v1 == 1);
    CHECK(v2 == 1);  // each table counts its own versions
    micro::ReadOptions upper;
    upper.table = "Orders";
    micro::ReadOptions lower;
    lower.table = "orders";
    CHECK(rt.store().read("k", upper).at(0).value == "upper");
    CHECK(rt.store().read("k", lower).at(0).value == "lower");

    for (const char* bad : {"has space", "quote\"", "semi;colon", "dash-ed", "x.y"}) {
        CAPTURE(bad);
        auto [code, message] = codeOf([&] { rt.store().write(rec, {.table = bad}); });
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("invalid table name") != std::string::npos);
    }
    for (const char* bad : {"../escape", "a/b", "dot.ted", "x.db"}) {
        CAPTURE(bad);
        auto [code, message] = codeOf([&] { rt.store().write(rec, {.database = bad}); });
        CHECK(code == Code::kInvalidArgument);
        CHECK(message.find("invalid database name") != std::string::npos);
    }
    CHECK_FALSE(std::ifstream(dir.path() + "/escape.db").good());
    // Reading a database never written creates no file.
    micro::ReadOptions never;
    never.database = "never_written";
    CHECK(codeOf([&] { rt.store().read("k", never); }).first == Code::kNotFound);
    CHECK_FALSE(std::ifstream(dir.path() + "/store/never_written.db").good());
}

TEST_CASE("store: a database file that is not a database is refused, naming it") {
    TempDir dir;
    std::filesystem::create_directories(dir.path() + "/store");
    const std::string db = dir.path() + "/store/micro.db";
    std::ofstream(db, std::ios::binary) << std::string(4096, '\x33');
    auto [code, message] = codeOf([&] { micro::Runtime::load(storeManifest(dir)); });
    INFO("message: " << message);
    CHECK(code == Code::kDataLoss);
    CHECK(message.find(db) != std::string::npos);
}
