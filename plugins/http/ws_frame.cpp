#include "ws_frame.hpp"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/detail/sha1.hpp>

#include <random>

namespace micro::http::ws {

bool readHead(const std::uint8_t* p, std::size_t have, Head& head) noexcept {
    if (have < 2) return false;
    head.fin = (p[0] & 0x80) != 0;
    head.rsv = static_cast<std::uint8_t>((p[0] >> 4) & 0x7);
    head.opcode = p[0] & 0x0F;
    head.masked = (p[1] & 0x80) != 0;
    const std::uint8_t len7 = p[1] & 0x7F;
    std::size_t at = 2;
    if (len7 == 126) {
        if (have < 4) return false;
        head.length = static_cast<std::uint64_t>(p[2]) << 8 | p[3];
        at = 4;
    } else if (len7 == 127) {
        if (have < 10) return false;
        head.length = 0;
        for (int i = 0; i < 8; ++i) head.length = head.length << 8 | p[2 + i];
        at = 10;
    } else {
        head.length = len7;
    }
    if (head.masked) {
        if (have < at + 4) return false;
        for (int i = 0; i < 4; ++i) head.mask[i] = p[at + i];
        at += 4;
    }
    head.headerBytes = at;
    return true;
}

std::size_t headSize(std::uint64_t length, bool masked) noexcept {
    std::size_t n = length < 126 ? 2 : length <= 0xFFFF ? 4 : 10;
    return masked ? n + 4 : n;
}

std::size_t writeHead(std::uint8_t* out, std::uint8_t opcode, std::uint64_t length,
                      const std::uint8_t* mask) noexcept {
    out[0] = static_cast<std::uint8_t>(0x80 | opcode);
    const std::uint8_t maskBit = mask != nullptr ? 0x80 : 0;
    std::size_t at = 2;
    if (length < 126) {
        out[1] = static_cast<std::uint8_t>(maskBit | length);
    } else if (length <= 0xFFFF) {
        out[1] = maskBit | 126;
        out[2] = static_cast<std::uint8_t>(length >> 8);
        out[3] = static_cast<std::uint8_t>(length);
        at = 4;
    } else {
        out[1] = maskBit | 127;
        for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(length >> (56 - 8 * i));
        at = 10;
    }
    if (mask != nullptr) {
        for (int i = 0; i < 4; ++i) out[at + i] = mask[i];
        at += 4;
    }
    return at;
}

void applyMask(std::uint8_t* p, std::size_t n, const std::uint8_t mask[4],
               std::size_t offset) noexcept {
    for (std::size_t i = 0; i < n; ++i) p[i] ^= mask[(offset + i) & 3];
}

std::string closePayload(std::uint16_t code, std::string_view reason) {
    std::string out;
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xFF));
    out.append(reason.substr(0, 123));
    return out;
}

std::string acceptKey(std::string_view key) {
    static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    namespace bd = boost::beast::detail;
    bd::sha1_context ctx;
    bd::init(ctx);
    bd::update(ctx, key.data(), key.size());
    bd::update(ctx, kGuid.data(), kGuid.size());
    std::uint8_t digest[bd::sha1_context::digest_size];
    bd::finish(ctx, digest);
    std::string out(bd::base64::encoded_size(sizeof digest), '\0');
    out.resize(bd::base64::encode(out.data(), digest, sizeof digest));
    return out;
}

std::string newKey() {
    std::random_device rd;
    std::uint8_t raw[16];
    for (std::size_t i = 0; i < sizeof raw; i += 4) {
        const std::uint32_t v = rd();
        for (std::size_t j = 0; j < 4; ++j) raw[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
    }
    namespace bd = boost::beast::detail;
    std::string out(bd::base64::encoded_size(sizeof raw), '\0');
    out.resize(bd::base64::encode(out.data(), raw, sizeof raw));
    return out;
}

}  // namespace micro::http::ws
