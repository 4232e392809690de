// nats-conformance — run micro-conformance against the "nats" broker driver
// on a nats-server of its own.
//
//   nats-conformance MICRO_CONFORMANCE core|jetstream [doctest options]
//
// Starts a nats-server on a free loopback port (with JetStream and a
// temporary store for `jetstream`), writes a manifest selecting
// micro-nats.so's "nats" broker there, runs the conformance runner on it,
// prints what it printed, stops the server and exits with the runner's exit
// code (2 when the server did not start or the usage is wrong).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "nats_server.hpp"
#include "process.hpp"

int main(int argc, char** argv) {
    const std::string mode = argc >= 3 ? argv[2] : "";
    if (argc < 3 || (mode != "core" && mode != "jetstream")) {
        std::fputs("usage: nats-conformance MICRO_CONFORMANCE core|jetstream [doctest options]\n",
                   stderr);
        return 2;
    }
    try {
        const bool js = mode == "jetstream";
        micro::test::NatsServer server(js);
        micro::test::TempDir files;
        std::string manifest = "[broker]\nplugin = \"micro-nats.so\"\ndriver = \"nats\"\nurl = \"" +
                               server.url() + "\"\n";
        if (js) manifest += "jetstream = true\nstream = \"CONFORMANCE\"\nack_wait_ms = 2000\n";
        const std::string path = files.write("nats.toml", manifest);
        std::vector<std::string> command{argv[1], "--manifest", path};
        for (int i = 3; i < argc; ++i) command.emplace_back(argv[i]);
        micro::test::ProcessResult result = micro::test::runProcess(command, {}, 280);
        std::fwrite(result.out.data(), 1, result.out.size(), stdout);
        std::fwrite(result.err.data(), 1, result.err.size(), stderr);
        if (result.exitCode != 0) {
            std::fprintf(stderr,
                         "nats-conformance: exit code %d; the server's log ends with:\n%s\n",
                         result.exitCode, server.logTail().c_str());
        }
        return result.exitCode;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nats-conformance: %s\n", e.what());
        return 2;
    }
}
