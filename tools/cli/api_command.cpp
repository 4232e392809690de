// `micro api`: the API gateway in front of every service in the registry.
//
//   micro api [--manifest F] [--address HOST:PORT] [--config FILE]
//             [--cors-origin ORIGIN]... [--threads N] [--timeout MS]
//             [--header-timeout MS] [--idle-timeout MS]
//             [--max-header-bytes N] [--max-body-bytes N]
//
// Flags override the [api] table of --config. Prints one line
// "micro api listening on http://ADDRESS" once it serves; runs until SIGINT
// or SIGTERM.
#include <micro/gateway.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>
#include <signal.h>

#include <charconv>
#include <cstdio>
#include <optional>

#include "commands.hpp"

namespace micro::cli {

namespace {

std::uint64_t number(std::string_view flag, std::string_view value) {
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size() || n == 0) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("usage: {} needs a positive number, got '{}'", flag, value));
    }
    return n;
}

}  // namespace

int api(const Options& options) {
    // Flags first (a bad one fails before anything loads), then the config
    // file under them.
    std::optional<std::string> config;
    std::vector<std::pair<std::string, std::string>> flags;
    const auto& args = options.args;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        static const std::vector<std::string> kTakesValue = {
            "--address",      "--config",           "--cors-origin",
            "--threads",      "--timeout",          "--header-timeout",
            "--idle-timeout", "--max-header-bytes", "--max-body-bytes"};
        bool known = false;
        for (const auto& f : kTakesValue) known = known || a == f;
        if (!known) {
            throw Error(
                Code::kInvalidArgument,
                fmt::format("usage: micro api: unknown argument '{}' (try micro --help)", a));
        }
        if (i + 1 >= args.size()) {
            throw Error(Code::kInvalidArgument, fmt::format("usage: {} needs a value", a));
        }
        if (a == "--config") {
            config = args[++i];
        } else {
            flags.emplace_back(a, args[++i]);
        }
    }
    ApiOptions api;
    if (config) api = ApiOptions::load(*config, api);
    bool corsFromFlags = false;
    using ms = std::chrono::milliseconds;
    for (const auto& [flag, value] : flags) {
        if (flag == "--address") {
            api.address = value;
        } else if (flag == "--cors-origin") {
            if (!corsFromFlags) api.corsOrigins.clear();
            corsFromFlags = true;
            api.corsOrigins.push_back(value);
        } else if (flag == "--threads") {
            api.threads = number(flag, value);
        } else if (flag == "--timeout") {
            api.timeout = ms(number(flag, value));
        } else if (flag == "--header-timeout") {
            api.headerTimeout = ms(number(flag, value));
        } else if (flag == "--idle-timeout") {
            api.idleTimeout = ms(number(flag, value));
        } else if (flag == "--max-header-bytes") {
            api.maxHeaderBytes = number(flag, value);
        } else if (flag == "--max-body-bytes") {
            api.maxBodyBytes = number(flag, value);
        }
    }

    // Block the stop signals before any thread starts, so every thread
    // inherits the mask and sigwait below receives them.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    Runtime rt = Runtime::load(findManifest(options.manifest));
    ApiGateway gateway(rt, api);
    gateway.start();
    fmt::print("micro api listening on http://{}\n", gateway.address());
    std::fflush(stdout);
    int signal = 0;
    sigwait(&stopSignals, &signal);
    gateway.stop();
    return 0;
}

}  // namespace micro::cli
