// Every way a manifest can be wrong, driven through the real `micro` binary:
// each must end in one clear line on stderr naming the manifest file and the
// key or line, a non-zero exit, and no crash.
#include <doctest/doctest.h>
#include <micro/abi.h>

#include <string>
#include <vector>

#include "process.hpp"

using micro::test::ProcessResult;
using micro::test::runProcess;
using micro::test::TempDir;

namespace {

const std::string kPlugins = MICRO_TEST_PLUGIN_DIR;

ProcessResult check(const std::string& manifest) {
    return runProcess({MICRO_BIN, "plugins", "check", "--manifest", manifest});
}

// One line on stderr, exit 1 (not a signal), containing every `needle`.
void expectOneLineError(const ProcessResult& r, const std::vector<std::string>& needles) {
    INFO("stderr: " << r.err);
    INFO("stdout: " << r.out);
    CHECK(r.exitCode == 1);
    REQUIRE(!r.err.empty());
    CHECK(r.err.back() == '\n');
    CHECK(r.err.find('\n') == r.err.size() - 1);
    for (const auto& needle : needles) CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.out.empty());  // no partial start: nothing reported as loaded
}

std::string slot(const std::string& table, const std::string& plugin, const std::string& driver,
                 const std::string& extra = "") {
    return "[" + table + "]\nplugin = \"" + plugin + "\"\ndriver = \"" + driver + "\"\n" + extra;
}

}  // namespace

TEST_CASE("a missing manifest is named") {
    TempDir dir;
    expectOneLineError(check(dir.path() + "/nope.toml"), {"nope.toml", "does not exist"});
}

TEST_CASE("a manifest that is not TOML names its file and line") {
    TempDir dir;
    auto m = dir.write("bad.toml", "[store]\nplugin = \"micro-memory.so\"\ndriver = memory\n");
    expectOneLineError(check(m), {"bad.toml:3", "not valid TOML"});
}

TEST_CASE("a plugin path that does not exist is named with the places searched") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", "micro-nothere.so", "memory"));
    expectOneLineError(check(m),
                       {"m.toml:1", "[store]", "micro-nothere.so", "not found", "searched"});
}

TEST_CASE("a file that is not a shared object is refused") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", kPlugins + "/not-a-plugin.so", "memory"));
    expectOneLineError(check(m), {"m.toml:1", "[store]", "not-a-plugin.so", "not a shared object"});
}

TEST_CASE("a shared object without the entry symbol is refused") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", kPlugins + "/micro-no-entry.so", "memory"));
    expectOneLineError(check(m),
                       {"m.toml:1", "[store]", "micro-no-entry.so", "micro_plugin_entry"});
}

TEST_CASE("a plugin of another ABI major is refused naming both versions") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", kPlugins + "/micro-bad-major.so", "memory"));
    std::string theirs = "ABI " + std::to_string(MICRO_ABI_MAJOR + 1) + ".";
    std::string ours = "ABI " + std::to_string(MICRO_ABI_MAJOR) + ".";
    expectOneLineError(check(m), {"m.toml:1", "micro-bad-major.so", theirs, ours});
}

TEST_CASE("a driver name the plugin does not export is named with what it exports") {
    TempDir dir;
    auto m = dir.write("m.toml", "# comment\n" + slot("store", "micro-memory.so", "postgres"));
    expectOneLineError(check(m),
                       {"m.toml:2", "[store]", "'postgres'", "not exported", "store 'memory'"});
}

TEST_CASE("a driver of the wrong kind is a kind mismatch") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", "micro-memory.so", "inproc"));
    expectOneLineError(
        check(m), {"m.toml:1", "[store]", "'inproc'", "transport driver", "needs a store driver"});
}

TEST_CASE("a driver that rejects its config passes its message through") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", "micro-memory.so", "memory", "colour = \"blue\"\n"));
    expectOneLineError(check(m), {"m.toml:1", "[store]", "refused to start", "colour"});
}

TEST_CASE("a slot without plugin or driver names the missing key") {
    TempDir dir;
    auto noPlugin = dir.write("a.toml", "[broker]\ndriver = \"memory\"\n");
    expectOneLineError(check(noPlugin), {"a.toml:1", "[broker]", "'plugin'"});
    auto noDriver = dir.write("b.toml", "\n[broker]\nplugin = \"micro-memory.so\"\n");
    expectOneLineError(check(noDriver), {"b.toml:2", "[broker]", "'driver'"});
}

TEST_CASE("an unknown slot name is refused with the valid names") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("stor", "micro-memory.so", "memory"));
    expectOneLineError(check(m), {"m.toml:1", "unknown slot 'stor'", "store"});
}

TEST_CASE("a failure after earlier slots loaded starts nothing") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("registry", "micro-memory.so", "memory") +
                                     slot("store", "micro-memory.so", "nope"));
    expectOneLineError(check(m), {"m.toml:4", "[store]", "'nope'"});
}

TEST_CASE("a good manifest loads every slot and names each driver") {
    TempDir dir;
    auto m = dir.write("m.toml", slot("store", "micro-memory.so", "memory") +
                                     slot("broker", "micro-memory.so", "memory"));
    ProcessResult r = check(m);
    INFO("stderr: " << r.err);
    CHECK(r.exitCode == 0);
    CHECK(r.out.find("[store] driver 'memory'") != std::string::npos);
    CHECK(r.out.find("[broker] driver 'memory'") != std::string::npos);
    // One .so named by two slots is loaded once.
    CHECK(r.out.find("plugin:") == r.out.rfind("plugin:"));
}

TEST_CASE("plugins inspect lists every driver with kind, name and version") {
    ProcessResult r = runProcess({MICRO_BIN, "plugins", "inspect", kPlugins + "/micro-memory.so"});
    INFO("stderr: " << r.err);
    CHECK(r.exitCode == 0);
    for (const char* line : {"store ", "broker ", "registry ", "transport ", "sync ", "auth "}) {
        CHECK(r.out.find(line) != std::string::npos);
    }
    CHECK(r.out.find("abi:         1.") != std::string::npos);
}

TEST_CASE("plugins inspect on a file that is not a plugin fails with one line") {
    ProcessResult r = runProcess({MICRO_BIN, "plugins", "inspect", kPlugins + "/not-a-plugin.so"});
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("not-a-plugin.so") != std::string::npos);
    CHECK(r.err.find('\n') == r.err.size() - 1);
}
