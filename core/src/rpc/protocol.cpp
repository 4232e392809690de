#include "protocol.hpp"
#include <micro/driver/text.hpp>

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
            case 'k':
                f.kind = value.empty() ? 0 : value[0];
                break;
            case 'i':
                f.hasId = parseU64(value, f.id);
                break;
            case 's':
                (key == kStreaming ? f.streaming : f.service) = value;
                break;
            case 'e':
                f.endpoint = value;
                break;
            case 't':
                f.timeout = value;
                break;
            case 'c':
                f.code = value;
                break;
            case 'd':
                f.detail = value;
                break;
            case 'n':
                f.n = value;
                break;
            default:
                break;
        }
    }
    return f;
}

std::string errorJson(std::string_view id, Code code, std::string_view detail) {
    std::string out = "{\"id\":";
    driver::appendJsonString(out, id);
    out += ",\"code\":" + std::to_string(static_cast<int>(code)) + ",\"detail\":";
    driver::appendJsonString(out, detail);
    out += ",\"status\":";
    driver::appendJsonString(out, codeName(code));
    out += '}';
    return out;
}

}  // namespace micro::rpc
