// child_process.hpp — a real program running beside a test: started in the
// background, its stdout readable line by line (to wait for "listening"),
// signalled and reaped. The destructor kills (SIGKILL) and reaps it, so a
// failing test never leaves processes behind.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace micro::test {

class ChildProcess {
   public:
    /// Start `argv` (argv[0] a path); stderr goes to `stderrFile` if given.
    explicit ChildProcess(const std::vector<std::string>& argv, const std::string& stderrFile = {});
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// The next line of its stdout, or nullopt on EOF or after `timeout`.
    std::optional<std::string> readLine(std::chrono::milliseconds timeout);
    void signal(int sig);
    /// Wait for it to exit (up to `timeout`); its exit code, or 128 + signal,
    /// or nullopt if it is still running.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    pid_t pid() const noexcept { return pid_; }

   private:
    pid_t pid_ = -1;
    int out_ = -1;
    std::string buffered_;
    std::optional<int> status_;
};

}  // namespace micro::test
