#include <micro/transport_common/address.hpp>

#include <micro/error.hpp>

namespace micro::transport_common {

namespace {

constexpr std::string_view kSyntax = "expected HOST:PORT or [IPV6]:PORT";

// Every refusal names the scheme, so a message says which driver's syntax
// the address failed.
[[noreturn]] void refuse(const AddressSyntax& syntax, std::string_view address,
                         std::string_view why) {
    std::string text = "bad ";
    text.append(syntax.scheme).append(" address '").append(printable(address)).append("': ");
    throw Error(Code::kInvalidArgument, text.append(why));
}

bool isNameChar(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

bool isIpv6Char(char c) noexcept {
    return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
           c == '.';
}

}  // namespace

HostPort parseAddress(std::string_view address, const AddressSyntax& syntax) {
    std::string_view rest = address;
    if (rest.starts_with(syntax.scheme) && rest.substr(syntax.scheme.size()).starts_with("://")) {
        rest.remove_prefix(syntax.scheme.size() + 3);
    } else if (rest.find("://") != std::string_view::npos) {
        std::string why = "only ";
        why.append(syntax.scheme).append(":// is understood; ").append(kSyntax);
        refuse(syntax, address, why);
    }
    if (syntax.allowTrailingSlash && rest.ends_with('/')) rest.remove_suffix(1);  // as a URL
    HostPort out;
    std::string_view port;
    if (rest.starts_with('[')) {
        const std::size_t close = rest.find(']');
        if (close == std::string_view::npos)
            refuse(syntax, address, "unclosed '['; " + std::string(kSyntax));
        std::string_view host = rest.substr(1, close - 1);
        // A zone ("%eth0") follows the address itself and names an interface.
        std::string_view ip = host.substr(0, host.find('%'));
        std::string_view zone = host.size() > ip.size() ? host.substr(ip.size() + 1) : "";
        bool ok = !ip.empty() && ip.find(':') != std::string_view::npos;
        for (char c : ip) ok = ok && isIpv6Char(c);
        for (char c : zone) ok = ok && isNameChar(c);
        if (!ok || (host.size() > ip.size() && zone.empty())) {
            refuse(syntax, address, "'[" + printable(host) + "]' is not an IPv6 address");
        }
        if (close + 1 >= rest.size() || rest[close + 1] != ':') {
            refuse(syntax, address, "no ':PORT' after ']'; " + std::string(kSyntax));
        }
        out.host = host;
        port = rest.substr(close + 2);
    } else {
        const std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos)
            refuse(syntax, address, "no port; " + std::string(kSyntax));
        std::string_view host = rest.substr(0, colon);
        if (host.find(':') != std::string_view::npos) {
            refuse(syntax, address, "an IPv6 address needs brackets, as in [::1]:8080");
        }
        if (host.empty()) refuse(syntax, address, "no host; " + std::string(kSyntax));
        for (char c : host) {
            if (!isNameChar(c)) {
                std::string why = printable(host);
                why.insert(why.begin(), '\'');
                refuse(syntax, address, why.append("' is not a host name"));
            }
        }
        out.host = host;
        port = rest.substr(colon + 1);
    }
    if (port.empty() || port.size() > 5) {
        refuse(syntax, address, "port '" + printable(port) + "' is not a number from 0 to 65535");
    }
    std::uint32_t value = 0;
    for (char c : port) {
        if (c < '0' || c > '9') {
            refuse(syntax, address,
                   "port '" + printable(port) + "' is not a number from 0 to 65535");
        }
        value = value * 10 + static_cast<std::uint32_t>(c - '0');
    }
    if (value > 0xFFFF) {
        refuse(syntax, address, "port '" + printable(port) + "' is not a number from 0 to 65535");
    }
    out.port = static_cast<std::uint16_t>(value);
    return out;
}

std::string formatAddress(std::string_view host, std::uint16_t port) {
    std::string out;
    if (host.find(':') != std::string_view::npos) {
        out.append("[").append(host).append("]");
    } else {
        out.append(host);
    }
    return out.append(":").append(std::to_string(port));
}

}  // namespace micro::transport_common
