// tests/integration/postgres/pg_server.hpp — a real PostgreSQL server for
// tests: its own cluster in a temporary folder, on a free loopback port.
//
// Contract
//   PgServer() runs initdb (trust auth, user "postgres", UTF8) into a fresh
//     temporary folder and starts the server on 127.0.0.1 only, with its
//     Unix socket in the data folder and fsync on. It takes ~2 s; it throws
//     std::runtime_error with the tool's output and the server log on
//     failure. The binaries come from $MICRO_PG_BINDIR, else
//     /usr/lib/postgresql/15/bin. As root (PostgreSQL refuses to run as
//     root) every PostgreSQL program runs as user "postgres" via runuser,
//     from the folder "/", with the data folder owned by postgres, mode 0700.
//   kill9() SIGKILLs the postmaster and every process of its group (a crash
//     of the whole server, nothing flushed on the way out) and returns once
//     they are all gone. start() starts it again on the same folder and port
//     (crash recovery replays the WAL). stop() is a fast shutdown.
//   Cleanup: the destructor stops the server (SIGKILL if a fast stop fails)
//     and removes the folder. A guardian process started with the server
//     does the same if this process dies first (a crash, a test timeout),
//     so a server is never left running.
//   The process becomes a child subreaper (prctl) so the orphaned
//     postmaster and its backends are reaped here, not left as zombies.
//   Threads: not thread-safe; one test thread drives it.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "process.hpp"  // tests/support

namespace micro::test {

class PgServer {
 public:
    PgServer();
    ~PgServer();
    PgServer(const PgServer&) = delete;
    PgServer& operator=(const PgServer&) = delete;

    /// One server per test executable, started on first use and stopped at
    /// exit; tests that share it use their own keys and tables.
    static PgServer& shared();

    int port() const noexcept { return port_; }
    /// postgresql://postgres@127.0.0.1:PORT/postgres
    std::string url() const;
    const std::string& dataDir() const noexcept { return data_; }

    void start();
    void stop();
    void kill9();
    bool running() const;
    /// The last `bytes` of the server's log, for failure messages.
    std::string logTail(std::size_t bytes = 4000) const;

 private:
    /// Run a PostgreSQL program (as postgres when root) from "/".
    ProcessResult runPg(const std::string& program, const std::vector<std::string>& args,
                        int timeoutSeconds) const;
    pid_t postmasterPid() const;
    void reapGroup(pid_t group, int timeoutMs);
    void startGuardian();

    TempDir dir_;
    std::string bin_;
    std::string data_;
    int port_ = 0;
    int guardianPipe_ = -1;  // write end; closing it releases the guardian
    pid_t guardian_ = -1;
};

}  // namespace micro::test
