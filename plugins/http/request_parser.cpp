#include "request_parser.hpp"

#include <boost/beast/http/error.hpp>

#include <span>

#include "http_mapping.hpp"

namespace micro::http {

namespace bhttp = boost::beast::http;

namespace {

constexpr char lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

void lowercase(std::span<char> text) noexcept {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z') c = lower(c);  // stores only what changes
    }
}

struct CharClasses {
    bool target[256] = {};  // a subset of Beast's is_pathchar: visible ASCII
    bool value[256] = {};   // a subset of Beast's field-value: visible ASCII, SP, HTAB
    constexpr CharClasses() {
        for (int c = 0; c < 256; ++c) {
            target[c] = c > 0x20 && c < 0x7F;
            value[c] = (c >= 0x20 && c < 0x7F) || c == '\t';
        }
    }
};
constexpr CharClasses kChars;

bool iequal(std::string_view a, std::string_view lowercase) noexcept {
    if (a.size() != lowercase.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lowercase[i]) return false;
    }
    return true;
}

}  // namespace

std::string_view ParsedRequest::find(std::string_view lowercaseName) const noexcept {
    for (const Field& f : fields_) {
        if (f.name == lowercaseName) return f.value;
    }
    return {};
}

ParsedRequest::Span ParsedRequest::append(std::string_view s, bool isName) {
    // The header is at most header_limit bytes (a uint32_t), so offsets fit.
    const Span span{static_cast<std::uint32_t>(text_.size()), static_cast<std::uint32_t>(s.size())};
    text_.append(s);
    if (isName) lowercase(std::span(text_).subspan(span.at));  // names are kept lowercased
    return span;
}

void ParsedRequest::headerDone() {
    methodText_ = view(methodAt_);
    target_ = view(targetAt_);
    fields_.reserve(at_.size());
    for (const auto& f : at_) fields_.push_back({view(f.name), view(f.value)});
}

void ParsedRequest::clear() noexcept {
    method_ = bhttp::verb::unknown;
    methodAt_ = targetAt_ = {};
    methodText_ = target_ = {};
    version_ = 11;
    text_.clear();
    at_.clear();
    fields_.clear();
    body_.clear();
}

void RequestParser::on_request_impl(bhttp::verb method, string_view methodText, string_view target,
                                    int version, error_code&) {
    into_.method_ = method;
    into_.methodAt_ = into_.append({methodText.data(), methodText.size()}, false);
    into_.targetAt_ = into_.append({target.data(), target.size()}, false);
    into_.version_ = version;
}

void RequestParser::on_field_impl(bhttp::field, string_view name, string_view value, error_code&) {
    const auto nameAt = into_.append({name.data(), name.size()}, true);
    const auto valueAt = into_.append({value.data(), value.size()}, false);
    into_.at_.push_back({nameAt, valueAt});
}

void RequestParser::on_header_impl(error_code&) { into_.headerDone(); }

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& contentLength,
                                      error_code&) {
    // Beast has checked Content-Length against body_limit by now.
    if (contentLength) into_.body_.reserve(static_cast<std::size_t>(*contentLength));
}

std::size_t RequestParser::on_body_impl(string_view body, error_code&) {
    into_.body_.append(body.data(), body.size());
    return body.size();
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, string_view body, error_code&) {
    // Beast counts chunk sizes against body_limit before it hands them over.
    into_.body_.append(body.data(), body.size());
    return body.size();
}

std::size_t parsePlainRequest(std::string_view in, std::size_t headerLimit, std::uint64_t bodyLimit,
                              ParsedRequest& r, bool& keepAlive) {
    const std::size_t end = in.find("\r\n\r\n");
    // Requests near the header limit are Beast's, so its count decides.
    if (end == std::string_view::npos || end + 8 > headerLimit) return 0;
    const std::size_t headerSize = end + 4;
    // Every scan below stops at '\r' at the latest, and the header ends in
    // "\r\n\r\n": no scan runs past it.
    const auto* p = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t i = 0;
    while (p[i] >= 'A' && p[i] <= 'Z') ++i;
    if (i == 0 || p[i] != ' ') return 0;
    const bhttp::verb method = bhttp::string_to_verb(boost::beast::string_view(in.data(), i));
    if (method == bhttp::verb::unknown) return 0;
    r.clear();
    r.method_ = method;
    r.methodAt_ = {0, static_cast<std::uint32_t>(i)};
    const std::size_t targetAt = ++i;
    while (kChars.target[p[i]]) ++i;
    if (i == targetAt || p[i] != ' ') return 0;
    r.targetAt_ = {static_cast<std::uint32_t>(targetAt), static_cast<std::uint32_t>(i - targetAt)};
    if (in.substr(i, 11) != " HTTP/1.1\r\n") return 0;
    i += 11;
    std::uint64_t contentLength = 0;
    bool haveLength = false;
    keepAlive = true;
    while (i < end + 2) {
        const std::size_t nameAt = i;
        while (mapping::kTokenChars.is[p[i]]) ++i;
        if (i == nameAt || p[i] != ':') return 0;
        const std::string_view name = in.substr(nameAt, i - nameAt);
        ++i;
        while (p[i] == ' ' || p[i] == '\t') ++i;
        const std::size_t valueAt = i;
        while (kChars.value[p[i]]) ++i;
        if (p[i] != '\r' || p[i + 1] != '\n') return 0;
        std::size_t valueEnd = i;
        while (valueEnd > valueAt && (p[valueEnd - 1] == ' ' || p[valueEnd - 1] == '\t'))
            --valueEnd;
        i += 2;
        const std::string_view value = in.substr(valueAt, valueEnd - valueAt);
        // The fields the framing depends on, by name (Beast's string_to_field
        // costs more: its tables miss the cache after each system call).
        if (iequal(name, "content-length")) {
            if (haveLength || value.empty() || value.size() > 18) return 0;
            for (char c : value) {
                if (c < '0' || c > '9') return 0;
                contentLength = contentLength * 10 + static_cast<std::uint64_t>(c - '0');
            }
            haveLength = true;
        } else if (iequal(name, "connection")) {
            if (iequal(value, "close")) {
                keepAlive = false;
            } else if (!iequal(value, "keep-alive")) {
                return 0;
            }
        } else if (iequal(name, "transfer-encoding") || iequal(name, "upgrade") ||
                   iequal(name, "expect")) {
            return 0;
        }
        r.at_.push_back(
            {{static_cast<std::uint32_t>(nameAt), static_cast<std::uint32_t>(name.size())},
             {static_cast<std::uint32_t>(valueAt), static_cast<std::uint32_t>(value.size())}});
    }
    if (contentLength >= bodyLimit || in.size() - headerSize < contentLength) return 0;
    // One copy of the header (the read buffer moves on), names lowercased in it.
    r.text_.assign(in.data(), headerSize);
    for (const auto& f : r.at_) lowercase(std::span(r.text_).subspan(f.name.at, f.name.size));
    r.headerDone();
    r.body_.assign(in.data() + headerSize, static_cast<std::size_t>(contentLength));
    return headerSize + static_cast<std::size_t>(contentLength);
}

}  // namespace micro::http
