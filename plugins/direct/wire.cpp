#include "wire.hpp"

#include <micro/abi_view.hpp>
#include <micro/driver/text.hpp>

#include <charconv>

namespace micro::direct::wire {

namespace {

std::optional<std::uint64_t> parseU64(std::string_view text) noexcept {
    std::uint64_t out = 0;
    if (text.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return out;
}

std::optional<std::int64_t> parseI64(std::string_view text) noexcept {
    std::int64_t out = 0;
    if (text.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return out;
}

}  // namespace

ParsedRequest parseRequest(const micro_transport_message& message) {
    ParsedRequest out;
    auto headers = abi::view(message.headers, message.header_count);
    if (headers.empty() || abi::view(headers[0].key) != kControl) {
        out.error = "not a broker request: the first header is not " + std::string(kControl);
        return out;
    }
    auto count = parseU64(abi::view(headers[0].value));
    if (!count || *count > headers.size() - 1) {
        out.error = std::string(kControl) + " '" + driver::printable(abi::view(headers[0].value)) +
                    "' is not a count of the headers that follow";
        return out;
    }
    Request r;
    bool haveId = false, haveNode = false, haveTopic = false;
    for (std::size_t i = 1; i <= *count; ++i) {
        std::string_view key = abi::view(headers[i].key);
        std::string_view value = abi::view(headers[i].value);
        if (key == kId && !haveId) {
            auto id = parseU64(value);
            if (!id) {
                out.error = std::string(kId) + " '" + driver::printable(value) +
                            "' is not an unsigned integer";
                return out;
            }
            r.id = out.id = *id;
            haveId = true;
        } else if (key == kNode && !haveNode) {
            r.node = value;
            haveNode = true;
        } else if (key == kTopic && !haveTopic) {
            r.topic = value;
            haveTopic = true;
        } else if (key == kPlain && !r.plain && value == "1") {
            r.plain = true;
        } else if (key == kGroup && !value.empty()) {
            r.groups.push_back(value);
        } else {
            out.error = "unexpected or repeated control header '" + driver::printable(key) + "'";
            return out;
        }
    }
    if (!haveId || !haveNode || !haveTopic || r.topic.empty()) {
        out.error = "a broker request needs " + std::string(kId) + ", " + std::string(kNode) +
                    " and a non-empty " + std::string(kTopic);
        return out;
    }
    r.headers = headers.subspan(*count + 1);
    r.body = abi::view(message.body);
    out.request = std::move(r);
    return out;
}

EncodedRequest::EncodedRequest(std::uint64_t id, std::string_view node, std::string_view topic,
                               bool plain, const std::vector<std::string>& groups,
                               const micro_message& message)
    : id_(std::to_string(id)), body_(message.body) {
    std::size_t control = 3 + (plain ? 1 : 0) + groups.size();
    count_ = std::to_string(control);
    kv_.reserve(1 + control + message.header_count);
    kv_.push_back({abi::str(kControl), abi::str(count_)});
    kv_.push_back({abi::str(kId), abi::str(id_)});
    kv_.push_back({abi::str(kNode), abi::str(node)});
    kv_.push_back({abi::str(kTopic), abi::str(topic)});
    if (plain) kv_.push_back({abi::str(kPlain), abi::str("1")});
    for (const auto& g : groups) kv_.push_back({abi::str(kGroup), abi::str(g)});
    for (std::size_t i = 0; i < message.header_count; ++i) kv_.push_back(message.headers[i]);
}

micro_transport_message EncodedRequest::view() const noexcept {
    return micro_transport_message{sizeof(micro_transport_message), kv_.data(), kv_.size(), body_,
                                   0};
}

std::optional<Reply> parseReply(const micro_transport_message& message) {
    auto headers = abi::view(message.headers, message.header_count);
    if (headers.size() != 3 || abi::view(headers[0].key) != kReply ||
        abi::view(headers[1].key) != kStatus || abi::view(headers[2].key) != kDelivered) {
        return std::nullopt;
    }
    auto id = parseU64(abi::view(headers[0].value));
    auto code = parseI64(abi::view(headers[1].value));
    auto delivered = parseU64(abi::view(headers[2].value));
    if (!id || !code || !delivered || *code < 0 || *code > MICRO_UNAUTHENTICATED) {
        return std::nullopt;
    }
    return Reply{*id, static_cast<micro_code>(*code), *delivered, abi::view(message.body)};
}

EncodedReply::EncodedReply(std::uint64_t id, micro_code code, std::uint64_t delivered,
                           std::string_view message)
    : id_(std::to_string(id)),
      code_(std::to_string(code)),
      delivered_(std::to_string(delivered)),
      message_(message),
      kv_{{abi::str(kReply), abi::str(id_)},
          {abi::str(kStatus), abi::str(code_)},
          {abi::str(kDelivered), abi::str(delivered_)}} {}

micro_transport_message EncodedReply::view() const noexcept {
    return micro_transport_message{sizeof(micro_transport_message), kv_, 3, abi::bytes(message_),
                                   0};
}

}  // namespace micro::direct::wire
