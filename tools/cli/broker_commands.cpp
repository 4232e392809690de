// `micro publish` and `micro subscribe` — the broker the manifest selects.
//
//   micro publish TOPIC BODY [--header K=V]... [--content-type T]
//       BODY is JSON by default (Content-Type application/json, checked for
//       well-formedness before anything is sent); --content-type
//       application/octet-stream sends it as bytes. Prints the message id.
//   micro subscribe TOPIC [--group G] [--count N]
//       Prints one JSON line per message as it comes:
//       {"topic":…,"id":…,"headers":{…},"body":…} (a JSON body inline,
//       anything else as a string), flushed per line. Stops after N messages
//       or on SIGINT/SIGTERM, exit status 0.
#include <micro/broker.hpp>
#include <micro/codec.hpp>
#include <micro/driver/text.hpp>
#include <micro/runtime.hpp>

#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "commands.hpp"

namespace micro::cli {

namespace {

std::string_view flagValue(const std::vector<std::string>& args, std::size_t& i) {
    if (i + 1 >= args.size()) {
        throw Error(Code::kInvalidArgument, fmt::format("usage: {} needs a value", args[i]));
    }
    return args[++i];
}

}  // namespace

int publish(const Options& options) {
    std::vector<std::string> positional;
    std::vector<std::pair<std::string, std::string>> extra;
    std::string contentType = "application/json";
    for (std::size_t i = 0; i < options.args.size(); ++i) {
        const std::string_view a = options.args[i];
        if (a == "--header") {
            const std::string_view kv = flagValue(options.args, i);
            const std::size_t eq = kv.find('=');
            if (eq == std::string_view::npos || eq == 0) {
                throw Error(Code::kInvalidArgument,
                            fmt::format("usage: --header needs KEY=VALUE, got '{}'", kv));
            }
            extra.emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
        } else if (a == "--content-type") {
            contentType = flagValue(options.args, i);
        } else if (a.starts_with("--")) {
            throw Error(Code::kInvalidArgument, fmt::format("usage: unknown option '{}'", a));
        } else {
            positional.emplace_back(a);
        }
    }
    if (positional.size() != 2) {
        throw Error(Code::kInvalidArgument, "usage: micro publish TOPIC BODY [--header K=V]...");
    }
    const codec::ContentType type = codec::parseContentType(contentType);
    if (type == codec::ContentType::kJson) codec::checkJson(positional[1]);
    if (type == codec::ContentType::kCapnp) {
        throw Error(Code::kInvalidArgument,
                    "usage: publish sends JSON or raw bytes; a capnp body comes from a program");
    }
    Runtime rt = Runtime::load(findManifest(options.manifest));
    // The id is chosen here so it can be printed.
    const std::string id = fmt::format("cli-{:x}-{:x}", static_cast<unsigned>(::getpid()),
                                       static_cast<unsigned long long>(std::time(nullptr)));
    std::vector<Header> headers;
    headers.reserve(extra.size() + 2);
    headers.push_back({headers::kContentType, contentType});
    headers.push_back({headers::kId, id});
    for (const auto& [k, v] : extra) headers.push_back({k, v});
    rt.broker().publish(positional[0], positional[1], headers);
    fmt::print("{}\n", id);
    return 0;
}

int subscribe(const Options& options) {
    std::vector<std::string> positional;
    SubscribeOptions subscribeOptions;
    std::uint64_t count = 0;
    for (std::size_t i = 0; i < options.args.size(); ++i) {
        const std::string_view a = options.args[i];
        if (a == "--group") {
            subscribeOptions.group = flagValue(options.args, i);
        } else if (a == "--count") {
            const std::string_view v = flagValue(options.args, i);
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), count);
            if (ec != std::errc() || end != v.data() + v.size() || count == 0) {
                throw Error(Code::kInvalidArgument,
                            fmt::format("usage: --count needs a positive integer, got '{}'", v));
            }
        } else if (a.starts_with("--")) {
            throw Error(Code::kInvalidArgument, fmt::format("usage: unknown option '{}'", a));
        } else {
            positional.emplace_back(a);
        }
    }
    if (positional.size() != 1) {
        throw Error(Code::kInvalidArgument, "usage: micro subscribe TOPIC [--group G] [--count N]");
    }
    // Block the stop signals before any thread exists, so every thread
    // inherits the mask and only sigtimedwait below sees them.
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    Runtime rt = Runtime::load(findManifest(options.manifest));
    std::atomic<std::uint64_t> printed{0};
    std::mutex out;
    Subscription sub = rt.broker().subscribe(
        positional[0],
        [&](const MessageView& m) {
            std::string headersJson;
            for (const auto& kv : m.headers) {
                headersJson += fmt::format("{}{}:{}", headersJson.empty() ? "" : ",",
                                           driver::jsonQuoted(abi::view(kv.key)),
                                           driver::jsonQuoted(abi::view(kv.value)));
            }
            std::string body;
            bool inlineJson = false;
            if (m.header(headers::kContentType) == "application/json") {
                try {
                    codec::checkJson(m.body);
                    inlineJson = true;
                } catch (const Error&) {
                    inlineJson = false;  // shown as a string instead
                }
            }
            body = inlineJson ? std::string(m.body) : driver::jsonQuoted(m.body);
            std::lock_guard lock(out);
            if (count != 0 && printed.load() >= count) {
                // Past --count: a nack, so a durable engine hands it to
                // another member instead of losing it to a closing command.
                throw Error(Code::kUnavailable, "micro subscribe is stopping");
            }
            fmt::print("{{\"topic\":{},\"id\":{},\"headers\":{{{}}},\"body\":{}}}\n",
                       driver::jsonQuoted(m.topic), driver::jsonQuoted(m.id()), headersJson, body);
            std::fflush(stdout);
            printed.fetch_add(1);
        },
        subscribeOptions);
    std::fputs("micro: subscribed; waiting for messages (Ctrl-C stops)\n", stderr);
    const timespec tick{0, 50'000'000};
    while (count == 0 || printed.load() < count) {
        const int sig = sigtimedwait(&stopSignals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) break;
    }
    sub.unsubscribe();
    return 0;
}

}  // namespace micro::cli
