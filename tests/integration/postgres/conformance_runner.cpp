// pg-conformance — run the store conformance suite against micro-postgres.so
// on a PostgreSQL server of its own:
//
//   pg-conformance MICRO_CONFORMANCE_BIN PLUGIN [ARGS...]
//
// starts a server (pg_server.hpp), writes a manifest whose [store] is the
// "postgres" driver pointed at it, runs `MICRO_CONFORMANCE_BIN --manifest M
// ARGS...` with this process's stdout and stderr, stops the server and exits
// with the runner's exit code (2 when the server could not be started).
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "pg_server.hpp"

extern char** environ;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fputs("usage: pg-conformance MICRO_CONFORMANCE_BIN PLUGIN [ARGS...]\n", stderr);
        return 2;
    }
    try {
        micro::test::PgServer server;
        micro::test::TempDir dir;
        const std::string manifest = dir.write(
            "postgres.toml", "[store]\nplugin = \"" + std::string(argv[2]) +
                                 "\"\ndriver = \"postgres\"\nurl = \"" + server.url() + "\"\n");
        std::vector<std::string> args{argv[1], "--manifest", manifest};
        for (int i = 3; i < argc; ++i) args.emplace_back(argv[i]);
        std::vector<char*> raw;
        for (auto& a : args) raw.push_back(a.data());
        raw.push_back(nullptr);
        std::fflush(stdout);
        pid_t pid = 0;
        if (posix_spawn(&pid, raw[0], nullptr, nullptr, raw.data(), environ) != 0) {
            std::fprintf(stderr, "pg-conformance: cannot run %s\n", raw[0]);
            return 2;
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0) {
            if (errno != EINTR) return 2;
        }
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pg-conformance: %s\n", e.what());
        return 2;
    }
}
