#include "redis_server.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#ifndef MICRO_REDIS_SERVER_BIN
#define MICRO_REDIS_SERVER_BIN "redis-server"
#endif

namespace micro::test {

namespace {

using namespace std::chrono_literals;

struct ContextFree {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};
struct ReplyFree {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};

void flatten(const redisReply& r, std::vector<std::string>& out) {
    switch (r.type) {
        case REDIS_REPLY_ARRAY:
            for (std::size_t i = 0; i < r.elements; ++i) flatten(*r.element[i], out);
            break;
        case REDIS_REPLY_INTEGER:
            out.push_back(std::to_string(r.integer));
            break;
        case REDIS_REPLY_NIL:
            out.emplace_back("(nil)");
            break;
        default:
            out.emplace_back(r.str, r.len);
    }
}

}  // namespace

RedisServer::RedisServer() : RedisServer(Options{}) {}

RedisServer::RedisServer(Options options) : options_(std::move(options)) { start(true); }

RedisServer::~RedisServer() = default;  // ChildProcess kills; TempDir removes

std::string RedisServer::url(int database, const std::string& password) const {
    std::string auth = password.empty() ? std::string() : ":" + password + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" +
           std::to_string(database);
}

void RedisServer::start(bool pickPort) {
    const std::string bin = findExecutable(MICRO_REDIS_SERVER_BIN, "MICRO_REDIS_SERVER");
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (pickPort) port_ = freeLoopbackPort();
        std::vector<std::string> argv{
            bin,           "--bind", "127.0.0.1",    "--port",    std::to_string(port_),
            "--save",      "",       "--appendonly", "yes",       "--appendfsync",
            "always",      "--dir",  dir_.path(),    "--logfile", dir_.path() + "/redis.log",
            "--daemonize", "no"};
        if (!options_.requirePass.empty()) {
            argv.push_back("--requirepass");
            argv.push_back(options_.requirePass);
        }
        for (const auto& a : options_.extraArgs) argv.push_back(a);
        process_ = std::make_unique<ChildProcess>(argv, dir_.path() + "/stderr.log");
        if (waitReady(10'000)) return;
        process_.reset();
        if (!pickPort) break;  // a restart must keep its port
    }
    throw std::runtime_error("redis-server did not start on 127.0.0.1:" + std::to_string(port_) +
                             "; its log ends with:\n" + logTail());
}

bool RedisServer::waitReady(int timeoutMs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
        if (process_->wait(0ms)) return false;  // exited: port taken, bad option
        try {
            std::vector<std::string> pong = command({"PING"});
            if (pong.size() == 1 && pong[0] == "PONG") return true;
        } catch (const std::exception& e) {
            // NOAUTH means it is up and answering.
            if (std::string(e.what()).find("NOAUTH") != std::string::npos) return true;
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

void RedisServer::kill9() {
    if (!process_) return;
    process_->signal(SIGKILL);
    process_->wait(10s);
    process_.reset();
}

void RedisServer::restart() {
    kill9();
    start(false);
}

void RedisServer::pause() {
    if (process_) process_->signal(SIGSTOP);
}

void RedisServer::resume() {
    if (process_) process_->signal(SIGCONT);
}

std::vector<std::string> RedisServer::command(const std::vector<std::string>& argv) const {
    timeval tv{2, 0};
    std::unique_ptr<redisContext, ContextFree> c(redisConnectWithTimeout("127.0.0.1", port_, tv));
    if (!c || c->err != 0) {
        throw std::runtime_error("cannot connect to redis on port " + std::to_string(port_) + ": " +
                                 (c ? c->errstr : "out of memory"));
    }
    redisSetTimeout(c.get(), tv);
    auto call = [&](const std::vector<std::string>& args) {
        std::vector<const char*> ptrs;
        std::vector<std::size_t> lens;
        for (const auto& a : args) {
            ptrs.push_back(a.data());
            lens.push_back(a.size());
        }
        std::unique_ptr<redisReply, ReplyFree> reply(static_cast<redisReply*>(
            redisCommandArgv(c.get(), static_cast<int>(args.size()), ptrs.data(), lens.data())));
        if (!reply) throw std::runtime_error(std::string("redis I/O error: ") + c->errstr);
        if (reply->type == REDIS_REPLY_ERROR) {
            throw std::runtime_error("redis error: " + std::string(reply->str, reply->len));
        }
        return reply;
    };
    if (!options_.requirePass.empty()) call({"AUTH", options_.requirePass});
    auto reply = call(argv);
    std::vector<std::string> out;
    flatten(*reply, out);
    return out;
}

std::vector<std::string> RedisServer::keys() const {
    std::vector<std::string> out;
    std::string cursor = "0";
    for (int rounds = 0; rounds < 100'000; ++rounds) {
        std::vector<std::string> reply = command({"SCAN", cursor, "COUNT", "1000"});
        if (reply.empty()) break;
        cursor = reply[0];
        out.insert(out.end(), reply.begin() + 1, reply.end());
        if (cursor == "0") break;
    }
    return out;
}

std::string RedisServer::logTail() const {
    std::string all;
    for (const char* name : {"/redis.log", "/stderr.log"}) {
        std::ifstream in(dir_.path() + name);
        std::stringstream s;
        s << in.rdbuf();
        all += s.str();
    }
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace micro::test
