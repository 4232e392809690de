// `micro store` end to end: the real binary against the SQLite file store,
// one process per command, so what one writes the next reads from disk.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "process.hpp"

using micro::test::runProcess;
using micro::test::TempDir;

namespace {

struct StoreCli {
    TempDir dir;
    std::string manifest = dir.write("m.toml", "[store]\nplugin = \"micro-sqlite.so\"\ndriver = "
                                               "\"file\"\ndir = \"" + dir.path() + "\"\n");

    micro::test::ProcessResult run(std::vector<std::string> args) {
        args.insert(args.begin(), {MICRO_BIN, "store"});
        args.insert(args.end(), {"--manifest", manifest});
        return runProcess(args);
    }
};

}  // namespace

TEST_CASE("store write, read, list and delete through the CLI") {
    StoreCli cli;
    CHECK(cli.run({"write", "user:1", "alice"}).out == "version 1\n");
    CHECK(cli.run({"write", "user:2", "bob"}).exitCode == 0);
    CHECK(cli.run({"write", "order:1", "x", "--table", "orders"}).exitCode == 0);
    CHECK(cli.run({"read", "user:1"}).out == "user:1\talice\n");
    CHECK(cli.run({"list", "--prefix", "user:"}).out == "user:1\nuser:2\n");
    CHECK(cli.run({"list", "--prefix", "user:", "--limit", "1", "--offset", "1"}).out ==
          "user:2\n");
    CHECK(cli.run({"list", "--table", "orders", "--json"}).out == "[\"order:1\"]\n");
    auto json = cli.run({"read", "user:", "--prefix", "--json"});
    CHECK(json.out.find("{\"key\":\"user:2\",\"value\":\"bob\"") != std::string::npos);
    CHECK(cli.run({"delete", "user:1"}).exitCode == 0);
    auto gone = cli.run({"read", "user:1"});
    CHECK(gone.exitCode == 1);
    CHECK(gone.err.find("NOT_FOUND") != std::string::npos);
}

TEST_CASE("store CLI errors are one line with the code: stale version, bad names, bad flags") {
    StoreCli cli;
    CHECK(cli.run({"write", "k", "v1"}).exitCode == 0);
    auto stale = cli.run({"write", "k", "v2", "--version", "42"});
    CHECK(stale.exitCode == 1);
    CHECK(stale.err.find("ABORTED") != std::string::npos);
    CHECK(cli.run({"read", "k"}).out == "k\tv1\n");  // unchanged
    auto hostile = cli.run({"read", "k", "--table", "'; DROP TABLE x; --"});
    CHECK(hostile.exitCode == 1);
    CHECK(hostile.err.find("INVALID_ARGUMENT") != std::string::npos);
    CHECK(cli.run({"read", "k"}).out == "k\tv1\n");  // the store is unharmed
    auto flag = cli.run({"read", "k", "--bogus"});
    CHECK(flag.exitCode != 0);
    CHECK(flag.err.find("--bogus") != std::string::npos);
    auto count = cli.run({"list", "--limit", "many"});
    CHECK(count.exitCode != 0);
    CHECK(count.err.find("--limit") != std::string::npos);
}
