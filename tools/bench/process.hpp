// tools/bench/process.hpp — what a benchmark needs to run its server in a
// separate process: this executable's path, a child whose stdout is read
// line by line, and a temporary directory removed on exit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace micro::bench {

/// This executable (from /proc/self/exe).
std::filesystem::path selfExecutable();

/// A child process: stdout is a pipe to us, stderr is ours. It gets SIGTERM
/// if this process dies first. The destructor stops it (see stop()).
class ChildProcess {
 public:
    /// Start `argv` (argv[0] is the program's path); throws std::runtime_error.
    explicit ChildProcess(const std::vector<std::string>& argv);
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// The first line of its stdout (without the newline); throws
    /// std::runtime_error when it exits or stays silent for `timeout`.
    std::string readLine(std::chrono::milliseconds timeout);
    /// SIGTERM, then wait up to `grace` (then SIGKILL). Returns its exit
    /// status, or 128 + signal. Idempotent.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
    pid_t pid_ = -1;
    int out_ = -1;
    int status_ = -1;
    std::string buffered_;
};

/// A fresh directory under $TMPDIR (else /tmp), removed with its contents.
class TempDir {
 public:
    explicit TempDir(const std::string& prefix);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const noexcept { return path_; }

 private:
    std::filesystem::path path_;
};

}  // namespace micro::bench
