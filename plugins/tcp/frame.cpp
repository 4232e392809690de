#include "frame.hpp"

#include <micro/error.hpp>

#include <cstring>

namespace micro::tcp::frame {

namespace {

void put16(std::uint8_t* p, std::size_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
}

void put32(std::uint8_t* p, std::size_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
    p[3] = static_cast<std::uint8_t>(v >> 24);
}

std::size_t get16(const std::uint8_t* p) noexcept {
    return static_cast<std::size_t>(p[0]) | static_cast<std::size_t>(p[1]) << 8;
}

std::uint8_t* copy(std::uint8_t* out, const void* data, std::size_t n) noexcept {
    if (n != 0) std::memcpy(out, data, n);
    return out + n;
}

}  // namespace

std::size_t encodedLength(const micro_transport_message& m, std::uint64_t maxFrameBytes) {
    if (m.header_count > kMaxHeaders) {
        throw Error(Code::kInvalidArgument, "message has " + std::to_string(m.header_count) +
                                                " headers; a frame holds at most 65535");
    }
    std::uint64_t length = kCountBytes + std::uint64_t{m.body.size};
    for (std::size_t i = 0; i < m.header_count; ++i) {
        const micro_kv& h = m.headers[i];
        if (h.key.size > kMaxKeyBytes) {
            throw Error(Code::kInvalidArgument, "header " + std::to_string(i) + ": key of " +
                                                    std::to_string(h.key.size) +
                                                    " bytes; a frame allows at most 65535");
        }
        length += kHeaderFieldBytes + std::uint64_t{h.key.size} + std::uint64_t{h.value.size};
    }
    const std::uint64_t limit = maxFrameBytes < kMaxLength ? maxFrameBytes : kMaxLength;
    if (length > limit) {
        throw Error(Code::kInvalidArgument, "message of " + std::to_string(length) +
                                                " bytes exceeds max_frame_bytes (" +
                                                std::to_string(limit) + ")");
    }
    return static_cast<std::size_t>(length);
}

void encode(const micro_transport_message& m, std::size_t length, std::uint8_t* out) noexcept {
    put32(out, length);
    put16(out + kPrefixBytes, m.header_count);
    out += kPrefixBytes + kCountBytes;
    for (std::size_t i = 0; i < m.header_count; ++i) {
        const micro_kv& h = m.headers[i];
        put16(out, h.key.size);
        put32(out + 2, h.value.size);
        out = copy(out + kHeaderFieldBytes, h.key.data, h.key.size);
        out = copy(out, h.value.data, h.value.size);
    }
    copy(out, m.body.data, m.body.size);
}

bool checkLength(std::uint32_t length, std::uint64_t maxFrameBytes, std::string& error) {
    if (length < kCountBytes) {
        error = "malformed frame: length " + std::to_string(length) +
                " is shorter than its 2-byte header count";
        return false;
    }
    if (length > maxFrameBytes) {
        error = "frame of " + std::to_string(length) + " bytes exceeds max_frame_bytes (" +
                std::to_string(maxFrameBytes) + ")";
        return false;
    }
    return true;
}

bool parse(const std::uint8_t* payload, std::size_t length, std::vector<micro_kv>& headers,
           micro_bytes& body, std::string& error) {
    headers.clear();
    if (length < kCountBytes) {
        error = "malformed frame: length " + std::to_string(length) +
                " is shorter than its 2-byte header count";
        return false;
    }
    const std::size_t count = get16(payload);
    std::size_t at = kCountBytes;
    // Every header needs at least its 6 length bytes: refuse a count that
    // cannot fit before reserving room for it.
    if (count > (length - at) / kHeaderFieldBytes) {
        error = "malformed frame: " + std::to_string(count) + " headers cannot fit in " +
                std::to_string(length) + " bytes";
        return false;
    }
    headers.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        if (length - at < kHeaderFieldBytes) {
            error = "malformed frame: header " + std::to_string(i) + " of " +
                    std::to_string(count) + " starts past the end of the frame (length " +
                    std::to_string(length) + ")";
            headers.clear();
            return false;
        }
        const std::size_t keyLength = get16(payload + at);
        const std::size_t valueLength = readLength(payload + at + 2);
        at += kHeaderFieldBytes;
        // Compare against what is left, never add: no overflow on 32 bits.
        if (keyLength > length - at || valueLength > length - at - keyLength) {
            error = "malformed frame: header " + std::to_string(i) + " of " +
                    std::to_string(count) + " (key " + std::to_string(keyLength) +
                    " bytes, value " + std::to_string(valueLength) +
                    " bytes) runs past the end of the frame (length " + std::to_string(length) +
                    ")";
            headers.clear();
            return false;
        }
        const char* key = reinterpret_cast<const char*>(payload + at);
        const char* value = key + keyLength;
        headers.push_back(micro_kv{micro_str{key, keyLength}, micro_str{value, valueLength}});
        at += keyLength + valueLength;
    }
    body = micro_bytes{payload + at, length - at};
    return true;
}

}  // namespace micro::tcp::frame
