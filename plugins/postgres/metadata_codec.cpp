#include "metadata_codec.hpp"

#include <micro/abi_view.hpp>
#include <micro/error.hpp>

#include <cstdint>

namespace micro::postgres {
namespace {

void putLength(std::string& out, std::size_t n) {
    const auto v = static_cast<std::uint32_t>(n);
    out.push_back(static_cast<char>((v >> 24) & 0xff));
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
}

std::string_view take(std::string_view& in) {
    if (in.size() < 4) {
        throw Error(Code::kDataLoss, "column 'metadata' holds a truncated length");
    }
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(in[i]);
    in.remove_prefix(4);
    if (n > in.size()) {
        throw Error(Code::kDataLoss, "column 'metadata' holds a length past its end");
    }
    std::string_view out = in.substr(0, n);
    in.remove_prefix(n);
    return out;
}

}  // namespace

std::string encodeMetadata(std::span<const micro_kv> metadata) {
    std::size_t total = 0;
    for (const auto& kv : metadata) total += 8 + kv.key.size + kv.value.size;
    std::string out;
    out.reserve(total);
    for (const auto& kv : metadata) {
        putLength(out, kv.key.size);
        out += abi::view(kv.key);
        putLength(out, kv.value.size);
        out += abi::view(kv.value);
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> decodeMetadata(std::string_view bytes) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!bytes.empty()) {
        std::string_view key = take(bytes);
        std::string_view value = take(bytes);
        out.emplace_back(std::string(key), std::string(value));
    }
    return out;
}

}  // namespace micro::postgres
