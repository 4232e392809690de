// micro-conformance: run the driver conformance suites against the drivers a
// manifest selects.
//
//   micro-conformance --manifest their.toml [doctest options]
//
// The manifest is loaded once. Each suite runs only when the manifest fills
// its slot; a run in which no test case ran at all fails, so a typo in a
// manifest or a filter cannot look green. Exit codes: 0 all passed, 1 a test
// failed or nothing ran, 2 bad usage or the manifest did not load.
#define DOCTEST_CONFIG_IMPLEMENT
#include "conformance.hpp"

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace conformance {
namespace {

std::optional<micro::Runtime> g_runtime;
std::string g_listenAddress;
std::atomic<unsigned> g_started{0};

std::string makeRunId() {
    std::random_device device;
    std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device() ^
                        static_cast<std::uint64_t>(nowUnixMs()));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id;
    for (int i = 0; i < 10; ++i) id.push_back(kHex[rng() % 16]);
    return id;
}

// Counts the test cases that actually started, whatever reporter is chosen.
struct StartCounter : doctest::IReporter {
    explicit StartCounter(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_start(const doctest::TestCaseData&) override { ++g_started; }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

micro::Runtime& runtime() { return *g_runtime; }

const std::string& listenAddress() { return g_listenAddress; }

std::string unique(std::string_view label) {
    static const std::string runId = makeRunId();
    static std::atomic<unsigned> counter{0};
    return "conf-" + runId + "-" + std::to_string(++counter) + "-" + std::string(label);
}

}  // namespace conformance

REGISTER_LISTENER("micro-conformance-counter", 1, conformance::StartCounter);

namespace {

constexpr const char* kProgram = "micro-conformance";

void printUsage() {
    std::cout << "usage: " << kProgram
              << " --manifest FILE [--listen-address ADDR] [doctest options]\n"
                 "  --manifest FILE        the manifest naming the drivers to test "
                 "(or $MICRO_MANIFEST)\n"
                 "  --listen-address ADDR  where the transport suite listens "
                 "(or $MICRO_CONFORMANCE_LISTEN_ADDRESS;\n"
                 "                         default: 127.0.0.1:0, then the driver's "
                 "choice for \"\")\n"
                 "Each suite runs only when its slot is in the manifest. Test suites: store, "
                 "broker,\nregistry, sync, auth, config.source, transport (select with "
                 "-ts=NAME).\n\n";
}

// Removes `--name VALUE` / `--name=VALUE` from args; returns VALUE if present.
// Names the flag in `missingValue` when it is last with no value.
std::optional<std::string> takeOption(std::vector<char*>& args, std::string_view name,
                                      std::string& missingValue) {
    std::optional<std::string> value;
    const std::string eq = std::string(name) + "=";
    for (std::size_t i = 1; i < args.size();) {
        std::string_view arg = args[i];
        if (arg == name) {
            if (i + 1 >= args.size()) {
                missingValue = name;
                args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            value = args[i + 1];
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                       args.begin() + static_cast<std::ptrdiff_t>(i + 2));
        } else if (arg.starts_with(eq)) {
            value = std::string(arg.substr(eq.size()));
            args.erase(args.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            ++i;
        }
    }
    return value;
}

bool hasConfigSources(micro::Runtime& rt) {
    if (rt.has("config.source") || rt.has("config.source[0]")) return true;
    try {
        return !rt.configSources().empty();
    } catch (const std::exception&) {
        return false;
    }
}

// The transport slot's `conformance_address` key, if the manifest has one.
std::string manifestListenAddress(const std::string& manifestPath) {
    try {
        const micro::Manifest manifest = micro::Manifest::load(manifestPath);
        for (const auto& slot : manifest.slots) {
            if (slot.slot != "transport") continue;
            for (const auto& [key, value] : slot.config)
                if (key == "conformance_address") return value;
        }
    } catch (const std::exception&) {
        // Runtime::load already accepted this manifest; nothing to add.
    }
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<char*> args(argv, argv + argc);
    std::string missingValue;
    std::optional<std::string> manifest = takeOption(args, "--manifest", missingValue);
    std::optional<std::string> listen = takeOption(args, "--listen-address", missingValue);
    if (!missingValue.empty()) {
        std::cerr << kProgram << ": " << missingValue << " needs a value\n";
        return 2;
    }

    doctest::Context context;
    context.applyCommandLine(static_cast<int>(args.size()), args.data());

    // Help, version and listing need no manifest.
    if (context.shouldExit()) {
        for (std::string_view a : args)
            if (a == "-h" || a == "--help" || a == "-?" || a == "-dt-h" || a == "--dt-help")
                printUsage();
        return context.run();
    }

    if (!manifest) {
        if (const char* env = std::getenv("MICRO_MANIFEST"); env != nullptr && *env != '\0')
            manifest = env;
    }
    if (!manifest) {
        std::cerr << kProgram
                  << ": no manifest: pass --manifest FILE (or set MICRO_MANIFEST); "
                     "see --help\n";
        return 2;
    }

    try {
        conformance::g_runtime.emplace(micro::Runtime::load(*manifest));
    } catch (const micro::Error& e) {
        std::cerr << kProgram << ": cannot load manifest " << *manifest << ": " << e.describe()
                  << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << kProgram << ": cannot load manifest " << *manifest << ": " << e.what() << "\n";
        return 2;
    }
    micro::Runtime& rt = *conformance::g_runtime;

    if (listen) {
        conformance::g_listenAddress = *listen;
    } else if (const char* env = std::getenv("MICRO_CONFORMANCE_LISTEN_ADDRESS");
               env != nullptr && *env != '\0') {
        conformance::g_listenAddress = env;
    } else {
        conformance::g_listenAddress = manifestListenAddress(*manifest);
    }

    std::cout << kProgram << ": manifest " << rt.manifestPath().string() << "\n";
    for (const auto& slot : rt.loaded())
        std::cout << "  " << slot.slot << " = " << slot.driver << " (" << slot.plugin.string()
                  << ")\n";

    struct Suite {
        const char* name;
        bool present;
    };
    const Suite suites[] = {
        {"store", rt.has("store")},
        {"broker", rt.has("broker")},
        {"registry", rt.has("registry")},
        {"sync", rt.has("sync")},
        {"auth", rt.has("auth")},
        {"transport", rt.has("transport")},
        {"config.source", hasConfigSources(rt)},
    };
    for (const Suite& suite : suites) {
        if (suite.present) continue;
        std::cout << kProgram << ": no [" << suite.name << "] in manifest: " << suite.name
                  << " suite skipped\n";
        context.addFilter("test-suite-exclude", suite.name);
    }
    std::cout.flush();

    int result = context.run();
    if (result == 0 && conformance::g_started.load() == 0) {
        std::cerr << kProgram
                  << ": no test case ran: the manifest fills no slot that has a suite, "
                     "or the filters excluded every test\n";
        result = 1;
    }
    conformance::g_runtime.reset();
    return result;
}
