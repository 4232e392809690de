// micro-bench — load generators for micro's own backends, one subcommand
// per case. Each prints one result line in the shape the baselines use
// ("<case> qps=... p50_us=... p99_us=... conc=C payload=P"), so the numbers
// line up with theirs. Bad flags: one line on stderr, exit status 2.
#include <cstdio>
#include <span>
#include <string_view>

#include "flags.hpp"
#include "pubsub_bench.hpp"
#include "rpc_bench.hpp"
#include "store_bench.hpp"

namespace {

constexpr const char* kUsage =
    "usage: micro-bench COMMAND [FLAGS]   (micro-bench COMMAND --help for its flags)\n"
    "\n"
    "commands:\n"
    "  rpc         unary echo over the tcp transport, closed loop; prints\n"
    "              \"rpc qps=... p50_us=... p99_us=... conc=C payload=P\"\n"
    "  rpc-server  the echo server `rpc` starts (or that --address points it at)\n"
    "  store       closed-loop reads or writes on the manifest's store; prints\n"
    "              \"store op=OP ops=... p50_us=... p99_us=... conc=C value=V\"\n"
    "  pubsub      publishers and subscribers on the manifest's broker; prints\n"
    "              \"pubsub published=... delivered=... p50_us=... p99_us=... pub=N payload=P\"\n";

struct Command {
    std::string_view name;
    int (*run)(std::span<char* const>);
};

constexpr Command kCommands[] = {
    {"rpc", &micro::bench::rpcMain},
    {"rpc-server", &micro::bench::rpcServerMain},
    {"store", &micro::bench::storeMain},
    {"pubsub", &micro::bench::pubsubMain},
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fputs("micro-bench: missing command (see micro-bench --help)\n", stderr);
        return 2;
    }
    std::string_view name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        std::fputs(kUsage, stdout);
        return 0;
    }
    for (const Command& command : kCommands) {
        if (command.name != name) continue;
        try {
            return command.run(
                std::span<char* const>(argv + 2, static_cast<std::size_t>(argc - 2)));
        } catch (const micro::bench::UsageError& e) {
            std::fprintf(stderr, "micro-bench %s: %s (see micro-bench %s --help)\n", argv[1],
                         e.what(), argv[1]);
            return 2;
        }
    }
    std::fprintf(stderr, "micro-bench: unknown command '%s' (see micro-bench --help)\n", argv[1]);
    return 2;
}
