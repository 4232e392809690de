// plugins/http/address.hpp — the http transport's address syntax.
//
//     [http://]HOST:PORT      HOST an IPv4 address or a host name
//     [http://][IPV6]:PORT    e.g. [::1]:8080, [fe80::1%eth0]:80
//
// A trailing "/" is allowed, so "http://127.0.0.1:8080/" works as written.
//
// The syntax is shared with the other socket transports and lives in
// micro/transport_common/address.hpp (plugins/common); this header binds it
// to the "http" scheme, so errors read "bad http address '...': why".
//
// Contract: pure functions, no state, no I/O (no name resolution); safe from
// any thread. Bad syntax throws micro::Error(INVALID_ARGUMENT).
#pragma once

#include <micro/transport_common/address.hpp>

#include <string_view>

namespace micro::http {

using transport_common::formatAddress;
using transport_common::HostPort;
using transport_common::printable;

inline constexpr transport_common::AddressSyntax kAddressSyntax{"http", true};

/// Split `address` per the syntax above; throws micro::Error(INVALID_ARGUMENT).
inline HostPort parseAddress(std::string_view address) {
    return transport_common::parseAddress(address, kAddressSyntax);
}

}  // namespace micro::http
