// Manifest parsing: slots, flattened driver config, line numbers in errors.
#include <doctest/doctest.h>
#include <micro/error.hpp>
#include <micro/manifest.hpp>

#include <string>

using micro::Code;
using micro::Error;
using micro::Manifest;

namespace {

std::string errorOf(const std::string& text) {
    try {
        Manifest::parse(text, "conf/plugins.toml");
    } catch (const Error& e) {
        CHECK(e.code() == Code::kInvalidArgument);
        return e.what();
    }
    FAIL("expected the manifest to be refused");
    return {};
}

const std::string* configValue(const micro::SlotSpec& s, const std::string& key) {
    for (const auto& [k, v] : s.config) {
        if (k == key) return &v;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("every slot kind is parsed and ordered registry first, config sources last") {
    Manifest m = Manifest::parse(R"(
[[config.source]]
plugin = "c.so"
driver = "env"
[store]
plugin = "s.so"
driver = "memory"
[registry]
plugin = "r.so"
driver = "memory"
[[config.source]]
plugin = "c.so"
driver = "file"
)",
                                 "plugins.toml");
    REQUIRE(m.slots.size() == 4);
    CHECK(m.slots[0].slot == "registry");
    CHECK(m.slots[0].kind == MICRO_KIND_REGISTRY);
    CHECK(m.slots[1].slot == "store");
    CHECK(m.slots[2].slot == "config.source[0]");
    CHECK(m.slots[2].driver == "env");
    CHECK(m.slots[3].slot == "config.source[1]");
    CHECK(m.slots[3].driver == "file");
    CHECK(m.slots[1].line == 5);
}

TEST_CASE("driver config is flattened: nested tables dotted, scalars as text, arrays as JSON") {
    Manifest m = Manifest::parse(R"([store]
plugin = "s.so"
driver = "memory"
url = "redis://127.0.0.1:6379/0"
pool = { size = 8, timeout_ms = 250 }
tls = false
ratio = 0.5
hosts = ["a", "b"]
)",
                                 "plugins.toml");
    REQUIRE(m.slots.size() == 1);
    const auto& s = m.slots[0];
    CHECK(configValue(s, "plugin") == nullptr);  // plugin/driver are not driver config
    CHECK(configValue(s, "driver") == nullptr);
    REQUIRE(configValue(s, "url") != nullptr);
    CHECK(*configValue(s, "url") == "redis://127.0.0.1:6379/0");
    REQUIRE(configValue(s, "pool.size") != nullptr);
    CHECK(*configValue(s, "pool.size") == "8");
    CHECK(*configValue(s, "pool.timeout_ms") == "250");
    CHECK(*configValue(s, "tls") == "false");
    CHECK(*configValue(s, "ratio") == "0.5");
    REQUIRE(configValue(s, "hosts") != nullptr);
    CHECK(configValue(s, "hosts")->find("\"a\"") != std::string::npos);
}

TEST_CASE("syntax errors name the file and the line") {
    std::string e = errorOf("[store]\nplugin = \"a.so\"\ndriver = \n");
    CHECK(e.find("conf/plugins.toml:3") != std::string::npos);
    CHECK(e.find("not valid TOML") != std::string::npos);
}

TEST_CASE("an unknown slot is refused, naming it and the valid slots") {
    std::string e = errorOf("\n[stroe]\nplugin = \"a.so\"\ndriver = \"x\"\n");
    CHECK(e.find("conf/plugins.toml:2") != std::string::npos);
    CHECK(e.find("'stroe'") != std::string::npos);
    CHECK(e.find("registry, transport") != std::string::npos);
}

TEST_CASE("a slot that is not a table, or lacks plugin or driver, is refused") {
    CHECK(errorOf("store = \"memory\"\n").find("[store] must be a table") != std::string::npos);
    CHECK(errorOf("[store]\ndriver = \"m\"\n").find("no 'plugin' key") != std::string::npos);
    CHECK(errorOf("[store]\nplugin = \"a.so\"\n").find("no 'driver' key") != std::string::npos);
    CHECK(errorOf("[store]\nplugin = 3\ndriver = \"m\"\n").find("non-empty string") !=
          std::string::npos);
    CHECK(errorOf("[store]\nplugin = \"\"\ndriver = \"m\"\n").find("non-empty string") !=
          std::string::npos);
}

TEST_CASE("config must hold only an array of source tables") {
    CHECK(errorOf("[config]\nsources = 1\n").find("unknown slot 'config.sources'") !=
          std::string::npos);
    CHECK(errorOf("[config.source]\nplugin = \"a\"\ndriver = \"b\"\n").find("[[config.source]]") !=
          std::string::npos);
}

TEST_CASE("a manifest file that cannot be read is NOT_FOUND naming it") {
    try {
        Manifest::load("/nonexistent/dir/plugins.toml");
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.code() == Code::kNotFound);
        CHECK(std::string(e.what()).find("/nonexistent/dir/plugins.toml") != std::string::npos);
    }
}
