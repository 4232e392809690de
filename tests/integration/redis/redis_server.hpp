// tests/integration/redis/redis_server.hpp — a real redis-server for one
// test, on a free loopback port, in a temporary folder.
//
// Contract
//   The constructor picks a free port on 127.0.0.1 (bind port 0, close),
//   starts `redis-server --bind 127.0.0.1 --port P --save '' --appendonly
//   yes --appendfsync always --dir D` (plus Options) as a child process and
//   returns once it answers PING with PONG (the AOF is loaded), or throws
//   std::runtime_error with the tail of its log. A port taken in between is
//   retried on another one.
//   kill9() SIGKILLs it (no shutdown, no final fsync); restart() starts it
//   again on the same port and folder, so it reloads its append-only file.
//   pause()/resume() send SIGSTOP/SIGCONT: a server that accepts
//   connections but never answers.
//   The destructor kills it and removes the folder: a failing test leaves
//   nothing behind. Only loopback is touched.
//   The binary is $MICRO_REDIS_SERVER, else the one found at build time,
//   else `redis-server` on $PATH.
//   Not thread-safe: one test thread drives it.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"  // tests/support
#include "process.hpp"

namespace micro::test {

class RedisServer {
 public:
    struct Options {
        std::string requirePass;               ///< non-empty: --requirepass
        std::vector<std::string> extraArgs{};  ///< appended to the command line
    };

    RedisServer();
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer&) = delete;
    RedisServer& operator=(const RedisServer&) = delete;

    int port() const noexcept { return port_; }
    const std::string& dir() const noexcept { return dir_.path(); }
    /// "redis://127.0.0.1:PORT/DB" (with ":PASSWORD@" when one is given).
    std::string url(int database = 0, const std::string& password = {}) const;

    void kill9();
    void restart();
    void pause();
    void resume();
    bool running() const noexcept { return process_ != nullptr; }

    /// Run one command (argv form, binary-safe) on a fresh connection and
    /// return the reply flattened to strings: a bulk/status string as is, an
    /// integer in decimal, an array element by element, nil as "(nil)".
    /// Throws std::runtime_error on an error reply or I/O failure.
    std::vector<std::string> command(const std::vector<std::string>& argv) const;
    /// Every key in logical database 0 (SCAN, not KEYS).
    std::vector<std::string> keys() const;
    /// The last lines of the server's log, for failure messages.
    std::string logTail() const;

 private:
    void start(bool pickPort);
    bool waitReady(int timeoutMs);

    Options options_;
    TempDir dir_;
    int port_ = 0;
    std::unique_ptr<ChildProcess> process_;
};

}  // namespace micro::test
