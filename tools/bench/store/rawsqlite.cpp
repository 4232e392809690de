// rawsqlite DB read|write V C S: C threads, own connection each, WAL,
// synchronous=NORMAL, prepared INSERT OR REPLACE / SELECT on a BLOB key,
// WITHOUT ROWID; 1000 16-byte keys per thread. Prints ops/s.
#include <sqlite3.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>
int main(int argc, char** argv) {
    if (argc < 6) return 2;
    const std::string path = argv[1];
    const bool write = std::strcmp(argv[2], "write") == 0;
    const int v = std::atoi(argv[3]), c = std::atoi(argv[4]), secs = std::atoi(argv[5]);
    sqlite3* setup;
    sqlite3_open(path.c_str(), &setup);
    sqlite3_exec(setup,
                 "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(k BLOB PRIMARY KEY, v "
                 "BLOB) WITHOUT ROWID",
                 0, 0, 0);
    const std::string value(v, 'v');
    auto key = [](int t, int i) {
        char k[40];
        std::snprintf(k, sizeof k, "t%04xk%010x", t, i);
        return std::string(k, 16);
    };
    sqlite3_stmt* ins;
    sqlite3_prepare_v2(setup, "INSERT OR REPLACE INTO t VALUES(?1, ?2)", -1, &ins, 0);
    sqlite3_exec(setup, "BEGIN", 0, 0, 0);
    for (int t = 0; t < c; ++t)
        for (int i = 0; i < 1000; ++i) {
            std::string k = key(t, i);
            sqlite3_bind_blob(ins, 1, k.data(), 16, SQLITE_TRANSIENT);
            sqlite3_bind_blob(ins, 2, value.data(), v, SQLITE_TRANSIENT);
            sqlite3_step(ins);
            sqlite3_reset(ins);
        }
    sqlite3_exec(setup, "COMMIT", 0, 0, 0);
    sqlite3_finalize(ins);
    std::atomic<bool> stop{false};
    std::atomic<long> total{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < c; ++t)
        ts.emplace_back([&, t] {
            sqlite3* db;
            sqlite3_open(path.c_str(), &db);
            sqlite3_busy_timeout(db, 5000);
            sqlite3_exec(db, "PRAGMA synchronous=NORMAL", 0, 0, 0);
            sqlite3_stmt* s;
            sqlite3_prepare_v2(
                db,
                write ? "INSERT OR REPLACE INTO t VALUES(?1, ?2)" : "SELECT v FROM t WHERE k = ?1",
                -1, &s, 0);
            long n = 0;
            int i = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                std::string k = key(t, i);
                if (++i == 1000) i = 0;
                sqlite3_bind_blob(s, 1, k.data(), 16, SQLITE_STATIC);
                if (write) sqlite3_bind_blob(s, 2, value.data(), v, SQLITE_STATIC);
                while (sqlite3_step(s) == SQLITE_ROW) {
                }
                sqlite3_reset(s);
                ++n;
            }
            total += n;
            sqlite3_finalize(s);
            sqlite3_close(db);
        });
    std::this_thread::sleep_for(std::chrono::seconds(secs));
    stop = true;
    for (auto& t : ts) t.join();
    std::printf("raw ops=%ld\n", total.load() / secs);
    sqlite3_close(setup);
}
