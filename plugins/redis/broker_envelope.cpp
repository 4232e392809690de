#include "broker_envelope.hpp"

#include <micro/abi_view.hpp>

#include <cstdint>

namespace micro::redis {

namespace {

constexpr std::string_view kMagic = "m1";

void putLength(std::string& out, std::uint64_t n) {
    while (n >= 0x80) {
        out.push_back(static_cast<char>((n & 0x7F) | 0x80));
        n >>= 7;
    }
    out.push_back(static_cast<char>(n));
}

void putBytes(std::string& out, std::string_view bytes) {
    putLength(out, bytes.size());
    out.append(bytes);
}

bool getLength(std::string_view& in, std::uint64_t& n) {
    n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in.empty()) return false;
        const auto byte = static_cast<std::uint8_t>(in.front());
        in.remove_prefix(1);
        n |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
        if ((byte & 0x80) == 0) return true;
    }
    return false;
}

bool getBytes(std::string_view& in, std::string_view& out) {
    std::uint64_t n = 0;
    if (!getLength(in, n) || n > in.size()) return false;
    out = in.substr(0, n);
    in.remove_prefix(n);
    return true;
}

}  // namespace

std::string encodeEnvelope(std::string_view id, const micro_message& message) {
    const auto headers = abi::view(message.headers, message.header_count);
    std::size_t size = kMagic.size() + id.size() + 20 + message.body.size;
    for (const micro_kv& kv : headers) size += kv.key.size + kv.value.size + 20;
    std::string out;
    out.reserve(size);
    out.append(kMagic);
    putBytes(out, id);
    putLength(out, headers.size());
    for (const micro_kv& kv : headers) {
        putBytes(out, abi::view(kv.key));
        putBytes(out, abi::view(kv.value));
    }
    out.append(abi::view(message.body));
    return out;
}

std::optional<Envelope> decodeEnvelope(std::string_view in) {
    if (!in.starts_with(kMagic)) return std::nullopt;
    in.remove_prefix(kMagic.size());
    Envelope e;
    std::uint64_t count = 0;
    if (!getBytes(in, e.id) || !getLength(in, count) || count > in.size()) return std::nullopt;
    e.headers.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        std::string_view k;
        std::string_view v;
        if (!getBytes(in, k) || !getBytes(in, v)) return std::nullopt;
        e.headers.push_back(micro_kv{abi::str(k), abi::str(v)});
    }
    e.body = in;
    return e;
}

}  // namespace micro::redis
