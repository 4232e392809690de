// redis-conformance — run micro-conformance against the "redis" store driver
// on a redis-server of its own.
//
//   redis-conformance MICRO_CONFORMANCE [doctest options]
//
// Starts a redis-server on a free loopback port in a temporary folder,
// writes a manifest selecting micro-redis.so's "redis" store there, runs the
// conformance runner on it, prints what it printed, stops the server and
// exits with the runner's exit code (2 when the server did not start).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "process.hpp"
#include "redis_server.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs("usage: redis-conformance MICRO_CONFORMANCE [doctest options]\n", stderr);
        return 2;
    }
    try {
        micro::test::RedisServer server;
        micro::test::TempDir files;
        const std::string path = files.write(
            "redis.toml", "[store]\nplugin = \"micro-redis.so\"\ndriver = \"redis\"\nurl = \"" +
                              server.url() + "\"\n");
        std::vector<std::string> command{argv[1], "--manifest", path};
        for (int i = 2; i < argc; ++i) command.emplace_back(argv[i]);
        micro::test::ProcessResult result = micro::test::runProcess(command, {}, 280);
        std::fwrite(result.out.data(), 1, result.out.size(), stdout);
        std::fwrite(result.err.data(), 1, result.err.size(), stderr);
        if (result.exitCode != 0) {
            std::fprintf(stderr,
                         "redis-conformance: exit code %d; the server's log ends with:\n%s\n",
                         result.exitCode, server.logTail().c_str());
        }
        return result.exitCode;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redis-conformance: %s\n", e.what());
        return 2;
    }
}
