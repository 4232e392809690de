// micro/transport_common/address.hpp — the address syntax of the socket
// transports, shared by every scheme that uses it ("tcp", "http"):
//
//     [SCHEME://]HOST:PORT      HOST an IPv4 address or a host name
//     [SCHEME://][IPV6]:PORT    e.g. [::1]:8080, [fe80::1%eth0]:80
//
// A scheme that is a URL (http) may also allow one trailing "/", so
// "http://127.0.0.1:8080/" works as written.
//
// PORT is decimal, 0-65535; 0 asks `listen` to pick a free port and is
// refused by `dial`. Anything else (no port, an unbracketed IPv6 address,
// another scheme, spaces or control bytes) is INVALID_ARGUMENT with a message
// "bad SCHEME address '...': why", naming the address.
//
// Contract: pure functions, no state, no I/O (no name resolution); safe from
// any thread.
#pragma once

#include <micro/driver/text.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace micro::transport_common {

/// What differs between the schemes; the strings are not owned and must
/// outlive the call (string literals in practice).
struct AddressSyntax {
    std::string_view scheme;          // "tcp": accepts "tcp://", says "bad tcp address"
    bool allowTrailingSlash = false;  // accept "HOST:PORT/" as a URL would be written
};

struct HostPort {
    std::string host;  // without brackets
    std::uint16_t port = 0;
};

/// Split `address` per the syntax above; throws micro::Error(INVALID_ARGUMENT).
HostPort parseAddress(std::string_view address, const AddressSyntax& syntax);

/// "HOST:PORT", with brackets around a host that contains ':'.
std::string formatAddress(std::string_view host, std::uint16_t port);

/// `text` made safe to quote in a one-line message (the SDK's helper).
using micro::driver::printable;

}  // namespace micro::transport_common
