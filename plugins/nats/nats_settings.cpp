#include "nats_settings.hpp"

#include <micro/error.hpp>

#include <charconv>

namespace micro::nats {

namespace {

[[noreturn]] void bad(std::string_view key, const std::string& why) {
    throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': " + why);
}

std::int64_t boundedInt(const driver::Config& config, std::string_view key, std::int64_t fallback,
                        std::int64_t lo, std::int64_t hi) {
    const std::int64_t v = config.getInt(key, fallback);
    if (v < lo || v > hi) {
        bad(key, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
                     std::to_string(v));
    }
    return v;
}

// "nats://user:secret@host:4222" -> "nats://user:***@host:4222"
std::string redact(std::string_view url) {
    const auto scheme = url.find("://");
    const auto at = url.find('@');
    if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
        return std::string(url);
    }
    const auto colon = url.find(':', scheme + 3);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

// One server url; throws naming the key. Returns it trimmed.
std::string checkServer(std::string_view url) {
    while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
    while (!url.empty() && url.back() == ' ') url.remove_suffix(1);
    const std::string shown = redact(url);
    constexpr std::string_view kScheme = "nats://";
    if (url.substr(0, kScheme.size()) != kScheme) {
        bad("url", "'" + shown + "' must start with nats:// (TLS and websocket are not supported)");
    }
    std::string_view rest = url.substr(kScheme.size());
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    if (rest.find_first_of("/?#") != std::string_view::npos) {
        bad("url", "'" + shown + "' must be nats://host[:port] with no path or query");
    }
    std::string_view host = rest;
    if (const auto colon = rest.rfind(':');
        colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
        host = rest.substr(0, colon);
        const std::string_view port = rest.substr(colon + 1);
        int n = 0;
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
        if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n < 1 ||
            n > 65535) {
            bad("url", "'" + shown + "' has an invalid port '" + std::string(port) + "'");
        }
    }
    if (host.empty()) bad("url", "'" + shown + "' has no host");
    return std::string(url);
}

bool validToken(std::string_view token) {
    if (token.empty() || token == "*" || token == ">") return false;
    for (unsigned char c : token) {
        if (c <= 0x20 || c == 0x7f) return false;
    }
    return true;
}

bool validSubject(std::string_view subject) {
    std::size_t start = 0;
    for (;;) {
        const auto dot = subject.find('.', start);
        if (!validToken(subject.substr(start, dot - start))) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

}  // namespace

Settings parseSettings(const driver::Config& config) {
    config.allowOnly({"url", "timeout_ms", "jetstream", "stream", "ack_wait_ms", "max_deliver",
                      "nak_delay_ms", "subject_prefix", "max_pending_msgs"});
    Settings s;
    const std::string url = config.getString("url", "nats://127.0.0.1:4222");
    s.redactedUrl = redact(url);
    std::size_t start = 0;
    for (;;) {
        const auto comma = url.find(',', start);
        s.servers.push_back(checkServer(std::string_view(url).substr(start, comma - start)));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    s.timeoutMs = boundedInt(config, "timeout_ms", s.timeoutMs, 1, 600'000);
    s.jetstream = config.getBool("jetstream", false);
    s.stream = config.getString("stream", s.stream);
    if (s.stream.empty() || s.stream.find_first_of(" \t\r\n.*>/\\") != std::string::npos) {
        bad("stream", "'" + s.stream +
                          "' is not a valid JetStream stream name (non-empty, none of . * > / \\ "
                          "or whitespace)");
    }
    s.ackWaitMs = boundedInt(config, "ack_wait_ms", s.ackWaitMs, 10, 86'400'000);
    s.maxDeliver = boundedInt(config, "max_deliver", s.maxDeliver, -1, 1'000'000'000);
    if (s.maxDeliver == 0) bad("max_deliver", "must be -1 (unlimited) or at least 1, got 0");
    s.nakDelayMs = boundedInt(config, "nak_delay_ms", s.nakDelayMs, 0, 86'400'000);
    s.maxPendingMsgs = boundedInt(config, "max_pending_msgs", s.maxPendingMsgs, 1, 100'000'000);
    std::string prefix = config.getString("subject_prefix", s.subjectPrefix);
    while (!prefix.empty() && prefix.back() == '.') prefix.pop_back();
    if (!prefix.empty() && !validSubject(prefix)) {
        bad("subject_prefix", "'" + prefix +
                                  "' is not a NATS subject (dot-separated tokens without "
                                  "whitespace or wildcards)");
    }
    if (prefix.empty() && s.jetstream) {
        bad("subject_prefix",
            "must not be empty with jetstream = true (the stream covers "
            "'<subject_prefix>.>')");
    }
    s.subjectPrefix = prefix;
    return s;
}

std::string subjectFor(std::string_view prefix, std::string_view topic) {
    if (!validSubject(topic)) {
        throw Error(Code::kInvalidArgument,
                    "nats: topic '" + std::string(topic) +
                        "' is not a NATS subject (dot-separated non-empty tokens, no whitespace, "
                        "no * or > tokens)");
    }
    if (prefix.empty()) return std::string(topic);
    std::string subject;
    subject.reserve(prefix.size() + 1 + topic.size());
    subject.append(prefix).append(".").append(topic);
    return subject;
}

std::string subjectsUnder(std::string_view prefix) { return std::string(prefix) + ".>"; }

}  // namespace micro::nats
