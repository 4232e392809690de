// tests/unit/memory/config_plugin_test.cpp — micro-config.so: env and file.
#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "plugin_harness.hpp"

using namespace std::chrono_literals;
using micro::abi::view;
using micro::test::Call;
using micro::test::Instance;
using Source = micro_config_source_driver;

namespace {

const Source& source(const char* name) {
    return micro::test::driver<Source>(micro::test::plugin(MICRO_CONFIG_SO),
                                       MICRO_KIND_CONFIG_SOURCE, name);
}

struct Document {
    std::string text, format;
    micro_config_sink sink() {
        return {this, [](void* ctx, micro_bytes doc, micro_str fmt) {
                    auto* self = static_cast<Document*>(ctx);
                    self->text = view(doc);
                    self->format = view(fmt);
                }};
    }
};

micro_code read(const Instance<Source>& in, Document& doc, std::string* message = nullptr) {
    Call c;
    in.t().read(in.self(), doc.sink(), c.done());
    micro_code code = c.wait();
    if (message != nullptr) *message = c.message();
    return code;
}

TEST_CASE("env source: prefixed variables as sorted KEY=value lines") {
    ::setenv("MICROUNIT_B", "2", 1);
    ::setenv("MICROUNIT_A", "x=1", 1);
    ::setenv("MICROUNIT_NL", "two\nlines", 1);  // cannot be one line: skipped
    Instance<Source> env(source("env"), {{"prefix", "MICROUNIT_"}});
    REQUIRE(env.code() == MICRO_OK);
    bool canWatch = env.t().watch != nullptr;  // NULL = UNIMPLEMENTED
    CHECK_FALSE(canWatch);
    Document doc;
    REQUIRE(read(env, doc) == MICRO_OK);
    CHECK(doc.text == "A=x=1\nB=2\n");
    CHECK(doc.format == "env");
}

TEST_CASE("file source: config errors, missing file, read, watch") {
    Instance<Source> noPath(source("file"));
    CHECK(noPath.code() == MICRO_INVALID_ARGUMENT);
    CHECK(noPath.message() == "key 'path' is required");
    Instance<Source> unknownFormat(source("file"), {{"path", "x.ini"}});
    CHECK(unknownFormat.code() == MICRO_INVALID_ARGUMENT);

    auto path = std::filesystem::temp_directory_path() /
                ("micro-config-test-" + std::to_string(::getpid()) + ".toml");
    std::filesystem::remove(path);
    Instance<Source> file(source("file"), {{"path", path.string()}, {"poll_ms", "10"}});
    REQUIRE(file.code() == MICRO_OK);
    Document doc;
    std::string message;
    CHECK(read(file, doc, &message) == MICRO_NOT_FOUND);
    CHECK(message.find(path.string()) != std::string::npos);

    std::atomic<int> changes{0};
    void* watch = nullptr;
    micro_error err{};
    REQUIRE(file.t().watch(file.self(),
                           {&changes, [](void* ctx) { ++*static_cast<std::atomic<int>*>(ctx); }},
                           &watch, &err) == MICRO_OK);
    std::ofstream(path) << "a = 1\n";
    for (int i = 0; i < 200 && changes == 0; ++i) std::this_thread::sleep_for(5ms);
    CHECK(changes >= 1);
    REQUIRE(read(file, doc) == MICRO_OK);
    CHECK(doc.text == "a = 1\n");
    CHECK(doc.format == "toml");
    file.t().unwatch(file.self(), watch);
    int seen = changes;
    std::ofstream(path) << "a = 22\n";
    std::this_thread::sleep_for(60ms);
    CHECK(changes == seen);
    std::filesystem::remove(path);
}

}  // namespace
