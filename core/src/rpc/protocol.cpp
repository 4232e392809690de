#include "protocol.hpp"

#include <micro/abi_view.hpp>

namespace micro::rpc {

FrameHeaders FrameHeaders::parse(std::span<const micro_kv> headers) noexcept {
    FrameHeaders f;
    for (const micro_kv& kv : headers) {
        std::string_view key = abi::view(kv.key);
        std::string_view value = abi::view(kv.value);
        if (key.size() < 2 || key[0] != ':') {
            if (key == kContentType) f.contentType = value;
            continue;
        }
        switch (key[1]) {
            case 'k': f.kind = value.empty() ? 0 : value[0]; break;
            case 'i': f.hasId = parseU64(value, f.id); break;
            case 's': (key == kStreaming ? f.streaming : f.service) = value; break;
            case 'e': f.endpoint = value; break;
            case 't': f.timeout = value; break;
            case 'c': f.code = value; break;
            case 'd': f.detail = value; break;
            case 'n': f.n = value; break;
            default: break;
        }
    }
    return f;
}

namespace {
void appendJsonString(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    static const char* hex = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[(c >> 4) & 0xf];
                    out += hex[c & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}
}  // namespace

std::string errorJson(std::string_view id, Code code, std::string_view detail) {
    std::string out = "{\"id\":";
    appendJsonString(out, id);
    out += ",\"code\":" + std::to_string(static_cast<int>(code)) + ",\"detail\":";
    appendJsonString(out, detail);
    out += ",\"status\":";
    appendJsonString(out, codeName(code));
    out += '}';
    return out;
}

}  // namespace micro::rpc
