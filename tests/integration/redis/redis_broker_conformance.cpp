// redis-broker-conformance — run micro-conformance against the "redis"
// broker driver, in one mode, on a redis-server of its own.
//
//   redis-broker-conformance MICRO_CONFORMANCE streams|pubsub [doctest options]
//
// Starts a redis-server on a free loopback port in a temporary folder,
// writes a manifest selecting micro-redis.so's "redis" broker in that mode
// there, runs the conformance runner on it, prints what it printed, stops
// the server and exits with the runner's exit code (2 when the server did
// not start or the usage is wrong).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "process.hpp"
#include "redis_server.hpp"

int main(int argc, char** argv) {
    const std::string mode = argc >= 3 ? argv[2] : "";
    if (mode != "streams" && mode != "pubsub") {
        std::fputs(
            "usage: redis-broker-conformance MICRO_CONFORMANCE streams|pubsub [doctest "
            "options]\n",
            stderr);
        return 2;
    }
    try {
        micro::test::RedisServer server;
        micro::test::TempDir files;
        // A short claim time, so a nacked message comes back within the
        // suite's waits.
        const std::string path =
            files.write("redis-broker.toml",
                        "[broker]\nplugin = \"micro-redis.so\"\ndriver = \"redis\"\n"
                        "url = \"" +
                            server.url() + "\"\nmode = \"" + mode +
                            "\"\nblock_ms = 500\nclaim_idle_ms = 500\n");
        std::vector<std::string> command{argv[1], "--manifest", path};
        for (int i = 3; i < argc; ++i) command.emplace_back(argv[i]);
        micro::test::ProcessResult result = micro::test::runProcess(command, {}, 280);
        std::fwrite(result.out.data(), 1, result.out.size(), stdout);
        std::fwrite(result.err.data(), 1, result.err.size(), stderr);
        if (result.exitCode != 0) {
            std::fprintf(
                stderr, "redis-broker-conformance: exit code %d; the server's log ends with:\n%s\n",
                result.exitCode, server.logTail().c_str());
        }
        return result.exitCode;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redis-broker-conformance: %s\n", e.what());
        return 2;
    }
}
