#include "conninfo.hpp"

#include <micro/error.hpp>

#include <libpq-fe.h>

#include <map>
#include <memory>

#include "common.hpp"

namespace micro::postgres {
namespace {

/// A value quoted for a keyword='value' connection string: backslash and
/// single quote escaped.
std::string quoteValue(std::string_view value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\\' || c == '\'') out.push_back('\\');
        out.push_back(c);
    }
    return out + "'";
}

struct OptionsDeleter {
    void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};
struct ErrorDeleter {
    void operator()(char* message) const noexcept { PQfreemem(message); }
};

}  // namespace

std::string redactUrl(std::string_view url) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    const auto authorityStart = scheme + 3;
    const auto authorityEnd = url.find_first_of("/?", authorityStart);
    const std::string_view authority = url.substr(
        authorityStart, authorityEnd == std::string_view::npos ? std::string_view::npos
                                                               : authorityEnd - authorityStart);
    const auto at = authority.rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    const auto colon = authority.substr(0, at).find(':');
    if (colon == std::string_view::npos) return std::string(url);
    std::string out(url.substr(0, authorityStart + colon + 1));
    out += "***";
    out += url.substr(authorityStart + at);
    return out;
}

ConnectionTarget parseUrl(std::string_view url, std::int64_t connectTimeoutMs) {
    const std::string shown = printable(redactUrl(url));
    auto refuse = [&](const std::string& why) {
        return Error(Code::kInvalidArgument, "key 'url': '" + shown + "' " + why);
    };
    if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
        throw refuse("is not a connection URI (expected postgresql://user@host:port/database)");
    }
    if (url.find('\0') != std::string_view::npos) throw refuse("contains a NUL byte");

    const std::string text(url);
    char* rawError = nullptr;
    std::unique_ptr<PQconninfoOption, OptionsDeleter> options(
        PQconninfoParse(text.c_str(), &rawError));
    std::unique_ptr<char, ErrorDeleter> error(rawError);
    if (!options) {
        std::string why = error ? std::string(error.get()) : std::string("cannot be parsed");
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        throw refuse("cannot be parsed: " + why);
    }

    std::map<std::string, std::string> values;
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
        if (o->val != nullptr && o->val[0] != '\0') values[o->keyword] = o->val;
    }
    const std::int64_t seconds = (connectTimeoutMs + 999) / 1000;
    values["connect_timeout"] = std::to_string(seconds < 1 ? 1 : seconds);
    values["keepalives"] = "1";
    values["keepalives_idle"] = "5";
    values["keepalives_interval"] = "2";
    values["keepalives_count"] = "3";
    values.try_emplace("application_name", "micro-postgres");

    ConnectionTarget target;
    for (const auto& [key, value] : values) {
        if (!target.conninfo.empty()) target.conninfo.push_back(' ');
        target.conninfo += key + "=" + quoteValue(value);
    }
    std::string host = values.count("host") ? values["host"] : values["hostaddr"];
    if (host.empty()) host = "localhost";
    const std::string port = values.count("port") ? values["port"] : "5432";
    target.label = host + ":" + port;
    target.redacted = redactUrl(url);
    return target;
}

}  // namespace micro::postgres
