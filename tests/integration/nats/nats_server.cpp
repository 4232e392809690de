#include "nats_server.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef MICRO_NATS_SERVER_BIN
#define MICRO_NATS_SERVER_BIN "nats-server"
#endif

namespace micro::test {

namespace {

using namespace std::chrono_literals;

}  // namespace

NatsServer::NatsServer(bool jetstream) : jetstream_(jetstream) { start(true); }

NatsServer::~NatsServer() = default;  // ChildProcess kills; TempDir removes

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

std::string NatsServer::logTail() const {
    const std::string log =
        readFile(dir_.path() + "/nats.log") + readFile(dir_.path() + "/stderr.log");
    return log.size() > 3000 ? log.substr(log.size() - 3000) : log;
}

int NatsServer::readyCount() const {
    const std::string log = readFile(dir_.path() + "/nats.log");
    int n = 0;
    for (auto pos = log.find("Server is ready"); pos != std::string::npos;
         pos = log.find("Server is ready", pos + 1)) {
        ++n;
    }
    return n;
}

void NatsServer::start(bool pickPort) {
    const std::string bin = findExecutable(MICRO_NATS_SERVER_BIN, "MICRO_NATS_SERVER");
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (pickPort) port_ = freeLoopbackPort();
        // micro's default body limit is 4 MiB; the server's default
        // max_payload (1 MiB) would refuse such bodies.
        const std::string conf = dir_.write("nats.conf", "max_payload: 8388608\n");
        std::vector<std::string> argv{bin,
                                      "-c",
                                      conf,
                                      "-a",
                                      "127.0.0.1",
                                      "-p",
                                      std::to_string(port_),
                                      "-l",
                                      dir_.path() + "/nats.log"};
        if (jetstream_) {
            argv.insert(argv.end(), {"-js", "-sd", dir_.path() + "/js"});
        }
        const int before = readyCount();
        process_ = std::make_unique<ChildProcess>(argv, dir_.path() + "/stderr.log");
        if (waitReady(15'000, before)) return;
        process_.reset();
        if (!pickPort) break;  // a restart must keep its port
    }
    throw std::runtime_error("nats-server did not start on 127.0.0.1:" + std::to_string(port_) +
                             "; its log ends with:\n" + logTail());
}

bool NatsServer::waitReady(int timeoutMs, int readyBefore) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
        if (process_->wait(0ms)) return false;  // exited: port taken, bad option
        if (readyCount() > readyBefore) return true;
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

void NatsServer::kill9() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(10s);
    process_.reset();
}

void NatsServer::restart() {
    kill9();
    start(false);
}

}  // namespace micro::test
