// process.hpp — run a real program as a child process and capture what it
// printed, for tests that drive micro's executables the way a user would.
#pragma once

#include <string>
#include <vector>

namespace micro::test {

struct ProcessResult {
    int exitCode = -1;  ///< the exit status, or 128 + signal number
    std::string out;
    std::string err;
};

/// Run `argv` (argv[0] is a path) with extra `env` entries ("K=V"), wait for
/// it (at most `timeoutSeconds`, then SIGKILL) and return what it printed.
ProcessResult runProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& env = {}, int timeoutSeconds = 60);

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's
/// pick; another process may take it before the caller binds it, so servers
/// started on it retry with a new one).
int freeLoopbackPort();

/// The executable a test runs as a server: $`overrideEnv` when set, else
/// `built` when it is a path, else `built` looked up on $PATH. Throws
/// std::runtime_error naming the program and the variable when not found.
std::string findExecutable(const std::string& built, const char* overrideEnv);

/// A whole file's bytes; empty when it cannot be read (for logs in messages).
std::string readFile(const std::string& path);

/// A fresh directory under $TMPDIR, removed when the object goes.
class TempDir {
 public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const noexcept { return path_; }
    /// Write `content` to `name` inside the directory, making the
    /// subdirectories `name` names; returns the full path.
    std::string write(const std::string& name, const std::string& content) const;

 private:
    std::string path_;
};

}  // namespace micro::test
