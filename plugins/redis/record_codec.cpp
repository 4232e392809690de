#include "record_codec.hpp"

#include <charconv>

namespace micro::redis {

namespace {

std::size_t varintSize(std::size_t n) noexcept {
    std::size_t bytes = 1;
    while (n >= 0x80) {
        n >>= 7;
        ++bytes;
    }
    return bytes;
}

void putVarint(std::string& out, std::size_t n) {
    while (n >= 0x80) {
        out.push_back(static_cast<char>((n & 0x7f) | 0x80));
        n >>= 7;
    }
    out.push_back(static_cast<char>(n));
}

/// Read a varint at `at`; false when truncated or longer than 9 bytes.
bool getVarint(std::string_view in, std::size_t& at, std::size_t& n) noexcept {
    n = 0;
    for (unsigned shift = 0; shift < 63; shift += 7) {
        if (at >= in.size()) return false;
        auto byte = static_cast<unsigned char>(in[at++]);
        n |= static_cast<std::size_t>(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

bool getString(std::string_view in, std::size_t& at, micro_str& out) noexcept {
    std::size_t n = 0;
    if (!getVarint(in, at, n) || n > in.size() - at) return false;
    out = micro_str{in.data() + at, n};
    at += n;
    return true;
}

}  // namespace

std::size_t encodedMetadataSize(std::span<const micro_kv> metadata) noexcept {
    std::size_t total = 0;
    for (const micro_kv& kv : metadata) {
        total += varintSize(kv.key.size) + kv.key.size + varintSize(kv.value.size) + kv.value.size;
    }
    return total;
}

std::string encodeMetadata(std::span<const micro_kv> metadata) {
    std::string out;
    out.reserve(encodedMetadataSize(metadata));
    for (const micro_kv& kv : metadata) {
        putVarint(out, kv.key.size);
        out.append(kv.key.data, kv.key.size);
        putVarint(out, kv.value.size);
        out.append(kv.value.data, kv.value.size);
    }
    return out;
}

bool decodeMetadata(std::string_view encoded, std::vector<micro_kv>& out) {
    out.clear();
    std::size_t at = 0;
    while (at < encoded.size()) {
        micro_kv kv{};
        if (!getString(encoded, at, kv.key) || !getString(encoded, at, kv.value)) return false;
        out.push_back(kv);
    }
    return true;
}

std::optional<std::uint64_t> parseVersion(std::string_view text) noexcept {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v == 0) return std::nullopt;
    return v;
}

std::optional<std::int64_t> parseExpiry(std::string_view text) noexcept {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0) return std::nullopt;
    return v;
}

}  // namespace micro::redis
