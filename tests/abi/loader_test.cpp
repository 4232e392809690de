// loader_test.cpp — the loader keeps the ABI's promises.
//
// Versioning: a plugin of an older or a newer minor of the same major loads;
// another major is refused with one line naming the file and both majors.
// Entry: a shared object without `micro_plugin_entry`, or a file that is no
// shared object at all, is refused naming what was wrong and where. A
// driver's own error from `create` reaches the user unchanged, naming the
// manifest slot. And a plugin written in plain C works behind the C++ API.
//
// The fixtures are built by tests/abi/CMakeLists.txt into
// MICRO_TEST_PLUGIN_DIR; each test writes its manifest into a fresh temporary
// directory and names plugins by absolute path.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <doctest/doctest.h>

#include <stdlib.h>  // mkdtemp

#include <exception>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace fs = std::filesystem;

namespace {

fs::path plugin(std::string_view file) { return fs::path(MICRO_TEST_PLUGIN_DIR) / file; }

/// A fresh directory under the system's temp dir, removed with its contents.
class TempDir {
 public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "micro-abi-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const noexcept { return path_; }

 private:
    fs::path path_;
};

/// Write `plugins.toml` with one [store] slot filled by `driver` of `so`,
/// plus `extra` lines (the driver's config); returns its path.
fs::path writeStoreManifest(const TempDir& dir, const fs::path& so, std::string_view driver,
                            std::string_view extra = {}) {
    fs::path file = dir.path() / "plugins.toml";
    std::ofstream out(file);
    out << "[store]\nplugin = \"" << so.string() << "\"\ndriver = \"" << driver << "\"\n" << extra;
    out.close();
    REQUIRE(out.good());
    return file;
}

/// The micro::Error that `body` throws; fails the test when it throws
/// nothing or something else.
template <typename Body>
micro::Error errorOf(Body&& body) {
    try {
        body();
    } catch (const micro::Error& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("threw something other than micro::Error: " << e.what());
    }
    FAIL("did not throw");
    return micro::Error(micro::Code::kUnknown, "unreachable");
}

#define CHECK_CONTAINS(text, part)                                             \
    CHECK_MESSAGE(std::string_view(text).find(part) != std::string_view::npos, \
                  "\"" << (text) << "\" does not contain \"" << (part) << "\"")

#define CHECK_ONE_LINE(text) \
    CHECK_MESSAGE(std::string_view(text).find('\n') == std::string_view::npos, (text))

}  // namespace

TEST_CASE("a plugin built for an older ABI minor loads") {
    micro::PluginInfo info = micro::inspectPlugin(plugin("micro-old-minor.so"));
    CHECK(info.name == "micro-old-minor");
    CHECK(info.abiMajor == MICRO_ABI_MAJOR);
    CHECK(info.abiMinor == 0);
    REQUIRE(info.drivers.size() == 1);
    CHECK(info.drivers[0].kind == MICRO_KIND_STORE);
    CHECK(info.drivers[0].name == "old");
    CHECK(info.drivers[0].version == "1.0.0");

    TempDir dir;
    micro::Runtime rt =
        micro::Runtime::load(writeStoreManifest(dir, plugin("micro-old-minor.so"), "old"));
    REQUIRE(rt.has("store"));
    // The table is called through: the fixture finds nothing.
    CHECK(errorOf([&] { rt.store().read("anything"); }).code() == micro::Code::kNotFound);
}

TEST_CASE("a plugin built for a newer ABI minor loads and its appended members are ignored") {
    micro::PluginInfo info = micro::inspectPlugin(plugin("micro-newer-minor.so"));
    CHECK(info.name == "micro-newer-minor");
    CHECK(info.abiMajor == MICRO_ABI_MAJOR);
    CHECK(info.abiMinor == MICRO_ABI_MINOR + 1);
    REQUIRE(info.drivers.size() == 1);
    CHECK(info.drivers[0].kind == MICRO_KIND_STORE);
    CHECK(info.drivers[0].name == "newer");

    TempDir dir;
    micro::Runtime rt =
        micro::Runtime::load(writeStoreManifest(dir, plugin("micro-newer-minor.so"), "newer"));
    REQUIRE(rt.has("store"));
    // Both slots of the larger table are where the core expects them.
    CHECK(errorOf([&] { rt.store().read("anything"); }).code() == micro::Code::kNotFound);
    CHECK(errorOf([&] { rt.store().write(micro::Record{.key = "k", .value = "v"}); }).code() ==
          micro::Code::kUnimplemented);
}

TEST_CASE("a plugin of another ABI major is refused naming the file and both majors") {
    const std::string ours = std::to_string(MICRO_ABI_MAJOR);
    const std::string theirs = std::to_string(MICRO_ABI_MAJOR + 1);

    SUBCASE("by inspect") {
        micro::Error e = errorOf([] { micro::inspectPlugin(plugin("micro-bad-major.so")); });
        CHECK_CONTAINS(e.what(), "micro-bad-major.so");
        CHECK_CONTAINS(e.what(), "major");
        CHECK_CONTAINS(e.what(), ours);
        CHECK_CONTAINS(e.what(), theirs);
        CHECK_ONE_LINE(e.what());
    }
    SUBCASE("by the runtime") {
        TempDir dir;
        fs::path manifest = writeStoreManifest(dir, plugin("micro-bad-major.so"), "bad");
        micro::Error e = errorOf([&] { micro::Runtime::load(manifest); });
        CHECK_CONTAINS(e.what(), "micro-bad-major.so");
        CHECK_CONTAINS(e.what(), "major");
        CHECK_CONTAINS(e.what(), ours);
        CHECK_CONTAINS(e.what(), theirs);
        CHECK_CONTAINS(e.what(), manifest.filename().string());
        CHECK_ONE_LINE(e.what());
    }
}

TEST_CASE("a shared object without micro_plugin_entry is refused naming the symbol") {
    SUBCASE("by inspect") {
        micro::Error e = errorOf([] { micro::inspectPlugin(plugin("micro-no-entry.so")); });
        CHECK_CONTAINS(e.what(), "micro_plugin_entry");
        CHECK_CONTAINS(e.what(), "micro-no-entry.so");
        CHECK_ONE_LINE(e.what());
    }
    SUBCASE("by the runtime") {
        TempDir dir;
        fs::path manifest = writeStoreManifest(dir, plugin("micro-no-entry.so"), "any");
        micro::Error e = errorOf([&] { micro::Runtime::load(manifest); });
        CHECK_CONTAINS(e.what(), "micro_plugin_entry");
        CHECK_CONTAINS(e.what(), "micro-no-entry.so");
        CHECK_CONTAINS(e.what(), manifest.filename().string());
        CHECK_ONE_LINE(e.what());
    }
}

TEST_CASE("a file that is not a shared object is refused naming the file") {
    SUBCASE("by inspect") {
        micro::Error e = errorOf([] { micro::inspectPlugin(plugin("not-a-plugin.so")); });
        CHECK_CONTAINS(e.what(), "not-a-plugin.so");
        CHECK_ONE_LINE(e.what());
    }
    SUBCASE("by the runtime") {
        TempDir dir;
        fs::path manifest = writeStoreManifest(dir, plugin("not-a-plugin.so"), "any");
        micro::Error e = errorOf([&] { micro::Runtime::load(manifest); });
        CHECK_CONTAINS(e.what(), "not-a-plugin.so");
        CHECK_CONTAINS(e.what(), manifest.filename().string());
        CHECK_ONE_LINE(e.what());
    }
}

TEST_CASE("a driver's config error is passed through naming the manifest slot") {
    TempDir dir;
    fs::path so = plugin("micro-failing-config.so");

    SUBCASE("missing the key it requires") {
        fs::path manifest = writeStoreManifest(dir, so, "strict");
        micro::Error e = errorOf([&] { micro::Runtime::load(manifest); });
        CHECK(e.code() == micro::Code::kInvalidArgument);
        CHECK_CONTAINS(e.what(), "missing key 'required_key'");
        CHECK_CONTAINS(e.what(), "store");
        CHECK_CONTAINS(e.what(), manifest.filename().string());
        CHECK_ONE_LINE(e.what());
    }
    SUBCASE("given the key it requires") {
        micro::Runtime rt =
            micro::Runtime::load(writeStoreManifest(dir, so, "strict", "required_key = \"yes\"\n"));
        CHECK(rt.has("store"));
    }
}

TEST_CASE("a store driver written in C works behind the C++ API") {
    micro::PluginInfo info = micro::inspectPlugin(plugin("micro-cstore.so"));
    CHECK(info.abiMajor == MICRO_ABI_MAJOR);
    CHECK(info.abiMinor == MICRO_ABI_MINOR);
    REQUIRE(info.drivers.size() == 1);
    CHECK(info.drivers[0].kind == MICRO_KIND_STORE);
    CHECK(info.drivers[0].name == "c");

    TempDir dir;
    micro::Runtime rt =
        micro::Runtime::load(writeStoreManifest(dir, plugin("micro-cstore.so"), "c"));
    micro::Store& store = rt.store();

    const std::string key("a\0b", 3);
    micro::Record record{.key = key, .value = std::string("v\0w", 3), .metadata = {{"m", "1"}}};
    std::uint64_t v1 = store.write(record);
    CHECK(v1 > 0);

    auto found = store.read(key);
    REQUIRE(found.size() == 1);
    CHECK(found[0].key == key);
    CHECK(found[0].value == record.value);
    CHECK(found[0].metadata == record.metadata);
    CHECK(found[0].version == v1);

    micro::WriteOptions onlyIfAbsent;
    onlyIfAbsent.expectedVersion = micro::kAbsentVersion;
    CHECK(errorOf([&] { store.write(record, onlyIfAbsent); }).code() == micro::Code::kAborted);
    micro::WriteOptions ifUnchanged;
    ifUnchanged.expectedVersion = v1;
    CHECK(store.write(record, ifUnchanged) > v1);

    CHECK(store.read("a", micro::ReadOptions{.prefix = true}).size() == 1);
    store.erase(key);
    CHECK(errorOf([&] { store.read(key); }).code() == micro::Code::kNotFound);
    CHECK(errorOf([&] { store.erase(key); }).code() == micro::Code::kNotFound);
}

TEST_CASE("the C store refuses an unknown config key naming it and the slot") {
    TempDir dir;
    fs::path manifest = writeStoreManifest(dir, plugin("micro-cstore.so"), "c", "bogus = 1\n");
    micro::Error e = errorOf([&] { micro::Runtime::load(manifest); });
    CHECK(e.code() == micro::Code::kInvalidArgument);
    CHECK_CONTAINS(e.what(), "unknown key 'bogus'");
    CHECK_CONTAINS(e.what(), "store");
    CHECK_ONE_LINE(e.what());
}
