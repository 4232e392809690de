// micro — the command-line tool: inspect plugins, check a manifest; later
// verbs call services, publish, read the store.
#include <micro/error.hpp>

#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <string_view>

#include "commands.hpp"

namespace {

constexpr std::string_view kUsage = R"(micro — microservices toolkit

Usage:
  micro services                           list the services in the registry
  micro describe SERVICE                   nodes, addresses, endpoints with their
                                           request and response fields
  micro call SERVICE ENDPOINT 'JSON'       call an endpoint; prints the JSON
                                           response, or the error and exits 1
  micro call --stream SERVICE ENDPOINT ['JSON'...]
                                           stream messages (the arguments, or
                                           stdin lines) and print every reply
  micro store read KEY [--prefix|--suffix] [--limit N] [--offset M]
  micro store write KEY VALUE [--ttl MS] [--version V]
  micro store delete KEY
  micro store list [--prefix P | --suffix S] [--limit N] [--offset M]
                                           the store the manifest selects; each
                                           takes --database D --table T --json
  micro publish TOPIC 'JSON' [--header K=V]... [--content-type T]
                                           publish one message; prints its id
  micro subscribe TOPIC [--group G] [--count N]
                                           print each message as a JSON line
  micro api [--address HOST:PORT] [--config FILE] [--cors-origin O]...
                                           the HTTP/JSON gateway to every service:
                                           POST /SERVICE/ENDPOINT (docs/gateway.md)
  micro plugins inspect FILE.so [--json]   show a plugin's ABI version and drivers
  micro plugins check                      load every plugin the manifest names,
                                           create each driver, report or fail
  micro --help | micro COMMAND --help

Options:
  --manifest FILE   the manifest to use; default: $MICRO_MANIFEST, then
                    ./plugins.toml, then the installed default
  --json            machine-readable output where supported
  --timeout MS      deadline of a call (default 5000)

Exit status: 0 on success, 1 on an error (one line on stderr naming what
and where), 2 on a usage error.
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace micro;
    std::string_view verb = argc > 1 ? argv[1] : "";
    std::string_view sub = argc > 2 ? argv[2] : "";
    try {
        if (verb.empty() || verb == "--help" || verb == "-h" || verb == "help") {
            fmt::print("{}", kUsage);
            return verb.empty() ? 2 : 0;
        }
        if (verb == "services" || verb == "describe" || verb == "call") {
            cli::Options options = cli::Options::parse(argc, argv, 2);
            if (options.help) {
                fmt::print("{}", kUsage);
                return 0;
            }
            if (verb == "services") return cli::services(options);
            if (verb == "describe") return cli::describe(options);
            return cli::call(options);
        }
        if (verb == "api") {
            cli::Options options = cli::Options::parse(argc, argv, 2, true);
            if (options.help) {
                fmt::print("{}", kUsage);
                return 0;
            }
            return cli::api(options);
        }
        if (verb == "publish" || verb == "subscribe") {
            cli::Options options = cli::Options::parse(argc, argv, 2, true);
            if (options.help) {
                fmt::print("{}", kUsage);
                return 0;
            }
            return verb == "publish" ? cli::publish(options) : cli::subscribe(options);
        }
        if (verb == "store") {
            cli::Options options = cli::Options::parse(argc, argv, 2, true);
            if (options.help) {
                fmt::print("{}", kUsage);
                return 0;
            }
            return cli::store(options);
        }
        if (verb == "plugins") {
            cli::Options options = cli::Options::parse(argc, argv, 3);
            if (options.help || sub.empty() || sub == "--help") {
                fmt::print("{}", kUsage);
                return 0;
            }
            if (sub == "inspect") return cli::pluginsInspect(options);
            if (sub == "check") return cli::pluginsCheck(options);
            fmt::print(stderr, "micro: unknown command 'plugins {}' (try micro --help)\n", sub);
            return 2;
        }
        fmt::print(stderr, "micro: unknown command '{}' (try micro --help)\n", verb);
        return 2;
    } catch (const Error& e) {
        fmt::print(stderr, "micro: {}\n", e.describe());
        return e.code() == Code::kInvalidArgument && std::string_view(e.what()).starts_with("usage")
                   ? 2
                   : 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "micro: {}\n", e.what());
        return 1;
    }
}
