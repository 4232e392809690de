#include "nats_headers.hpp"

#include <micro/error.hpp>

#include <cstdlib>
#include <set>
#include <string_view>

namespace micro::nats {

namespace {

constexpr const char* kEscapedHeader = "Micro-Escaped-Headers";

bool isBlank(unsigned char c) { return c == ' ' || c == '\t'; }

bool needsEscape(std::string_view value) {
    // The client's header parser mistakes an empty value for the next line.
    if (value.empty()) return true;
    if (isBlank(static_cast<unsigned char>(value.front())) ||
        isBlank(static_cast<unsigned char>(value.back()))) {
        return true;
    }
    for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
}

std::string escape(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    // A leading '~' keeps even an empty value non-empty on the wire.
    std::string out = "~";
    out.reserve(value.size() * 3 + 1);
    for (unsigned char c : value) {
        if (c <= 0x20 || c == 0x7f || c == '%') {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xf]);
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string unescape(std::string_view value) {
    if (!value.empty() && value.front() == '~') value.remove_prefix(1);
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '%' && i + 2 < value.size() && hexValue(value[i + 1]) >= 0 &&
            hexValue(value[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexValue(value[i + 1]) * 16 + hexValue(value[i + 2])));
            i += 2;
        } else {
            out.push_back(value[i]);
        }
    }
    return out;
}

void check(natsStatus s, std::string_view key) {
    if (s != NATS_OK) {
        throw Error(Code::kInvalidArgument,
                    "nats: cannot add header '" + std::string(key) + "': " + natsStatus_GetText(s));
    }
}

}  // namespace

void DecodedHeaders::add(std::string key, std::string value) {
    entries.emplace_back(std::move(key), std::move(value));
}

void DecodedHeaders::seal() {
    view.clear();
    view.reserve(entries.size());
    for (const auto& [k, v] : entries) {
        view.push_back(micro_kv{{k.data(), k.size()}, {v.data(), v.size()}});
    }
}

void encodeHeaders(natsMsg* msg, std::span<const micro_kv> headers) {
    std::string escapedKeys;
    std::set<std::string, std::less<>> escapedSet;
    for (const micro_kv& kv : headers) {
        const std::string key(kv.key.data, kv.key.size);
        bool keyOk = !key.empty();
        for (unsigned char c : key) keyOk = keyOk && c > 0x20 && c != 0x7f && c != ':';
        if (!keyOk) {
            throw Error(Code::kInvalidArgument,
                        "nats: header key '" + key +
                            "' cannot be carried by NATS (empty, or has a blank, a control byte "
                            "or ':')");
        }
        const std::string_view value(kv.value.data, kv.value.size);
        if (needsEscape(value) || escapedSet.count(key) != 0) {
            // Once one value of a key is escaped, all of its values are, so
            // the receiver can unescape by key.
            if (escapedSet.insert(key).second) {
                if (!escapedKeys.empty()) escapedKeys.push_back(' ');
                escapedKeys += key;
            }
        }
    }
    for (const micro_kv& kv : headers) {
        const std::string key(kv.key.data, kv.key.size);
        const std::string_view raw(kv.value.data, kv.value.size);
        const std::string value = escapedSet.count(key) != 0 ? escape(raw) : std::string(raw);
        check(natsMsgHeader_Add(msg, key.c_str(), value.c_str()), key);
    }
    if (!escapedKeys.empty()) {
        check(natsMsgHeader_Set(msg, kEscapedHeader, escapedKeys.c_str()), kEscapedHeader);
    }
}

void decodeHeaders(natsMsg* msg, DecodedHeaders& out) {
    const char** keys = nullptr;
    int count = 0;
    if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK || keys == nullptr) return;
    std::set<std::string, std::less<>> escaped;
    const char* marker = nullptr;
    if (natsMsgHeader_Get(msg, kEscapedHeader, &marker) == NATS_OK && marker != nullptr) {
        std::string_view list(marker);
        std::size_t start = 0;
        while (start <= list.size()) {
            const auto space = list.find(' ', start);
            const auto token = list.substr(start, space - start);
            if (!token.empty()) escaped.emplace(token);
            if (space == std::string_view::npos) break;
            start = space + 1;
        }
    }
    for (int i = 0; i < count; ++i) {
        const std::string_view key(keys[i]);
        if (key == kEscapedHeader) continue;
        const char** values = nullptr;
        int n = 0;
        if (natsMsgHeader_Values(msg, keys[i], &values, &n) != NATS_OK || values == nullptr) {
            continue;
        }
        const bool unesc = escaped.count(key) != 0;
        for (int j = 0; j < n; ++j) {
            const std::string_view v(values[j] != nullptr ? values[j] : "");
            out.add(std::string(key), unesc ? unescape(v) : std::string(v));
        }
        std::free(static_cast<void*>(values));
    }
    std::free(static_cast<void*>(keys));
}

}  // namespace micro::nats
