#include "pg_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace micro::test {
namespace {

using namespace std::chrono_literals;

bool isRoot() { return geteuid() == 0; }

std::string pgBinDir() {
    const char* env = std::getenv("MICRO_PG_BINDIR");
    if (env != nullptr && *env != '\0') return env;
    return "/usr/lib/postgresql/15/bin";
}

std::string runuserPath() {
    for (const char* candidate : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
        if (access(candidate, X_OK) == 0) return candidate;
    }
    throw std::runtime_error("pg_server: runuser not found (needed to run PostgreSQL as root)");
}

/// True while a process (not a zombie) of process group `group` exists.
bool groupAlive(pid_t group) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "stat");
        std::string stat;
        if (!std::getline(in, stat)) continue;
        const auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 1));
        char state = 0;
        long ppid = 0;
        long pgrp = 0;
        rest >> state >> ppid >> pgrp;
        if (pgrp == group && state != 'Z' && state != 'X') return true;
    }
    return false;
}

}  // namespace

PgServer& PgServer::shared() {
    static PgServer server;
    return server;
}

PgServer::PgServer() : bin_(pgBinDir()) {
    // The postmaster is orphaned when pg_ctl exits: have it reparented to
    // this process, which reaps it, instead of to an init that may not.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (chmod(dir_.path().c_str(), 0755) != 0) {
        throw std::runtime_error("pg_server: chmod " + dir_.path() + " failed");
    }
    data_ = dir_.path() + "/pg";
    if (mkdir(data_.c_str(), 0700) != 0) throw std::runtime_error("pg_server: mkdir failed");
    if (isRoot()) {
        const passwd* pw = getpwnam("postgres");
        if (pw == nullptr) throw std::runtime_error("pg_server: no user 'postgres'");
        if (chown(data_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("pg_server: chown " + data_ + " failed");
        }
    }
    const ProcessResult init = runPg(
        "initdb",
        {"-D", data_, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
        120);
    if (init.exitCode != 0) {
        throw std::runtime_error("pg_server: initdb failed (" + std::to_string(init.exitCode) +
                                 "):\n" + init.out + init.err);
    }
    startGuardian();
    for (int attempt = 1;; ++attempt) {
        port_ = freeLoopbackPort();
        try {
            start();
            return;
        } catch (const std::exception&) {
            if (attempt >= 3) throw;  // the port may have been taken meanwhile: try another
        }
    }
}

PgServer::~PgServer() {
    try {
        stop();
    } catch (...) {
        try {
            kill9();
        } catch (...) {
        }
    }
    if (guardianPipe_ >= 0) close(guardianPipe_);
    if (guardian_ > 0) {
        for (int i = 0; i < 500; ++i) {  // it exits as soon as it has cleaned up
            if (waitpid(guardian_, nullptr, WNOHANG) != 0) break;
            std::this_thread::sleep_for(10ms);
        }
    }
}

std::string PgServer::url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

ProcessResult PgServer::runPg(const std::string& program, const std::vector<std::string>& args,
                              int timeoutSeconds) const {
    std::vector<std::string> argv{"/bin/sh", "-c", "cd / && exec \"$@\"", "sh"};
    if (isRoot()) {
        argv.push_back(runuserPath());
        argv.insert(argv.end(), {"-u", "postgres", "--"});
    }
    argv.push_back(bin_ + "/" + program);
    argv.insert(argv.end(), args.begin(), args.end());
    return runProcess(argv, {}, timeoutSeconds);
}

void PgServer::startGuardian() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pg_server: pipe failed");
    const std::string script =
        "read -r _ || true\n"
        "if [ -f \"$1/postmaster.pid\" ]; then\n"
        "  cd / && $3 \"$2/pg_ctl\" -D \"$1\" -m immediate -w -t 10 stop\n"
        "fi\n"
        "rm -rf \"$4\"\n";
    const std::string asPostgres = isRoot() ? runuserPath() + " -u postgres --" : "";
    std::vector<std::string> argv{"/bin/sh", "-c", script,     "pg-guardian",
                                  data_,     bin_, asPostgres, dir_.path()};
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("pg_server: fork failed");
    if (pid == 0) {
        // Only async-signal-safe calls until exec. Its own session, so a
        // Ctrl-C aimed at the tests does not kill it before it cleans up.
        setsid();
        dup2(fds[0], 0);
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execv("/bin/sh", raw.data());
        _exit(127);
    }
    close(fds[0]);
    guardianPipe_ = fds[1];
    guardian_ = pid;
}

pid_t PgServer::postmasterPid() const {
    std::ifstream in(data_ + "/postmaster.pid");
    long pid = 0;
    if (!(in >> pid)) return 0;
    return static_cast<pid_t>(pid);
}

bool PgServer::running() const {
    const pid_t pid = postmasterPid();
    return pid > 0 && groupAlive(pid);
}

std::string PgServer::logTail(std::size_t bytes) const {
    std::ifstream in(data_ + "/server.log", std::ios::binary);
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

void PgServer::start() {
    const std::string options = "-p " + std::to_string(port_) + " -k " + data_ +
                                " -c listen_addresses=127.0.0.1 -c fsync=on";
    const ProcessResult r = runPg(
        "pg_ctl",
        {"-D", data_, "-l", data_ + "/server.log", "-w", "-t", "60", "-o", options, "start"}, 90);
    if (r.exitCode != 0) {
        throw std::runtime_error("pg_server: pg_ctl start failed (" + std::to_string(r.exitCode) +
                                 "):\n" + r.out + r.err + "\nserver log:\n" + logTail());
    }
}

void PgServer::stop() {
    const pid_t pid = postmasterPid();
    if (pid <= 0 || !groupAlive(pid)) return;
    const ProcessResult r =
        runPg("pg_ctl", {"-D", data_, "-m", "fast", "-w", "-t", "30", "stop"}, 60);
    if (r.exitCode != 0) {
        kill9();
        return;
    }
    reapGroup(pid, 10000);
}

void PgServer::kill9() {
    const pid_t pid = postmasterPid();
    if (pid <= 0) throw std::runtime_error("pg_server: no postmaster.pid: not running");
    if (!groupAlive(pid)) {  // already gone: only reap what is left
        reapGroup(pid, 1000);
        return;
    }
    // pg_ctl starts the postmaster in a session of its own, so its process
    // group holds the server and nothing else; never signal any other group.
    const bool ownGroup = getpgid(pid) == pid && getpgid(pid) != getpgrp();
    kill(pid, SIGKILL);
    if (ownGroup) kill(-pid, SIGKILL);
    reapGroup(pid, 10000);
}

void PgServer::reapGroup(pid_t group, int timeoutMs) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    for (;;) {
        // Reap what is ours (the postmaster is reparented here): a zombie
        // postmaster still "exists" and would make a restart refuse its
        // lock file. 0: children of the group are left, not yet exited.
        pid_t reaped = 0;
        while ((reaped = waitpid(-group, nullptr, WNOHANG)) > 0) {
        }
        if (reaped != 0 && !groupAlive(group)) return;
        if (std::chrono::steady_clock::now() >= deadline) {
            kill(-group, SIGKILL);
            throw std::runtime_error("pg_server: server processes still running after " +
                                     std::to_string(timeoutMs) + " ms");
        }
        std::this_thread::sleep_for(10ms);
    }
}

}  // namespace micro::test
