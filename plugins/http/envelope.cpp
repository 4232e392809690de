#include "envelope.hpp"

#include <micro/error.hpp>

#include <cstring>

namespace micro::http::envelope {

namespace {
constexpr std::size_t kMax16 = 0xFFFF;

void put16(std::uint8_t*& p, std::size_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p += 2;
}
void put32(std::uint8_t*& p, std::size_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
    p += 4;
}
std::size_t get16(const std::uint8_t* p) noexcept {
    return static_cast<std::size_t>(p[0]) | static_cast<std::size_t>(p[1]) << 8;
}
std::size_t get32(const std::uint8_t* p) noexcept {
    return static_cast<std::size_t>(p[0]) | static_cast<std::size_t>(p[1]) << 8 |
           static_cast<std::size_t>(p[2]) << 16 | static_cast<std::size_t>(p[3]) << 24;
}
std::string pastEnd(std::size_t i, std::size_t count) {
    std::string out("malformed message: header ");
    out.append(std::to_string(i)).append(" of ").append(std::to_string(count));
    out.append(" runs past the end of the message");
    return out;
}
}  // namespace

std::size_t encodedSize(const micro_transport_message& m) {
    if (m.header_count > kMax16) {
        throw Error(Code::kInvalidArgument, "message has " + std::to_string(m.header_count) +
                                                " headers; at most 65535 fit in a message");
    }
    std::size_t n = 2 + m.body.size;
    for (std::size_t i = 0; i < m.header_count; ++i) {
        const micro_kv& kv = m.headers[i];
        if (kv.key.size > kMax16) {
            throw Error(Code::kInvalidArgument, "header key of " + std::to_string(kv.key.size) +
                                                    " bytes; at most 65535 fit in a message");
        }
        if (kv.value.size > 0xFFFFFFFFu) {
            throw Error(Code::kInvalidArgument, "header value over 4 GiB");
        }
        n += 6 + kv.key.size + kv.value.size;
    }
    return n;
}

void encode(const micro_transport_message& m, std::uint8_t* out) noexcept {
    put16(out, m.header_count);
    for (std::size_t i = 0; i < m.header_count; ++i) {
        const micro_kv& kv = m.headers[i];
        put16(out, kv.key.size);
        put32(out, kv.value.size);
        if (kv.key.size != 0) std::memcpy(out, kv.key.data, kv.key.size);
        out += kv.key.size;
        if (kv.value.size != 0) std::memcpy(out, kv.value.data, kv.value.size);
        out += kv.value.size;
    }
    if (m.body.size != 0) std::memcpy(out, m.body.data, m.body.size);
}

bool parse(const std::uint8_t* payload, std::size_t size, std::vector<micro_kv>& headers,
           micro_bytes& body, std::string& error) {
    headers.clear();
    if (size < 2) {
        error.assign("malformed message: ");
        error.append(std::to_string(size)).append(" bytes, shorter than the 2-byte header count");
        return false;
    }
    const std::size_t count = get16(payload);
    std::size_t at = 2;
    for (std::size_t i = 0; i < count; ++i) {
        if (size - at < 6) {
            error = pastEnd(i, count);
            return false;
        }
        const std::size_t k = get16(payload + at);
        const std::size_t v = get32(payload + at + 2);
        at += 6;
        if (size - at < k || size - at - k < v) {
            error = pastEnd(i, count);
            return false;
        }
        headers.push_back(micro_kv{micro_str{reinterpret_cast<const char*>(payload + at), k},
                                   micro_str{reinterpret_cast<const char*>(payload + at + k), v}});
        at += k + v;
    }
    body = micro_bytes{payload + at, size - at};
    return true;
}

}  // namespace micro::http::envelope
