// tests/integration/nats/nats_server.hpp — a real nats-server for one test,
// on a free loopback port, with its JetStream store in a temporary folder.
//
// Contract
//   The constructor picks a free port on 127.0.0.1, starts `nats-server -c
//   CONF (max_payload 8 MiB, above micro's 4 MiB body limit) -a
//   127.0.0.1 -p P -l LOG` (plus `-js -sd DIR/js` when JetStream is asked
//   for) as a child process and returns once its log says "Server is ready",
//   or throws std::runtime_error with the tail of its log. A port taken in
//   between is retried on another one.
//   kill9() SIGKILLs it; restart() starts it again on the same port and
//   store folder, so JetStream reloads its streams and consumers.
//   The destructor kills it and removes the folder. Only loopback is used.
//   The binary is $MICRO_NATS_SERVER, else the one found at build time, else
//   `nats-server` on $PATH.
//   Not thread-safe: one test thread drives it.
#pragma once

#include <memory>
#include <string>

#include "child_process.hpp"  // tests/support
#include "process.hpp"

namespace micro::test {

class NatsServer {
 public:
    explicit NatsServer(bool jetstream);
    ~NatsServer();
    NatsServer(const NatsServer&) = delete;
    NatsServer& operator=(const NatsServer&) = delete;

    int port() const noexcept { return port_; }
    /// "nats://127.0.0.1:PORT"
    std::string url() const;
    const std::string& dir() const noexcept { return dir_.path(); }

    void kill9();
    void restart();
    bool running() const noexcept { return process_ != nullptr; }
    std::string logTail() const;

 private:
    void start(bool pickPort);
    bool waitReady(int timeoutMs, int readyBefore);
    int readyCount() const;

    bool jetstream_;
    TempDir dir_;
    int port_ = 0;
    std::unique_ptr<ChildProcess> process_;
};

}  // namespace micro::test
