// micro/transport_common/resolve.hpp — the endpoints a HOST:PORT names, for
// listen and dial.
//
// Contract
//   Threads: may block on the system resolver (a name, not a numeric
//     address); any thread. `context` only hosts the resolver object: no
//     handler is posted to it.
//   Result: a numeric host gives itself; a name gives what the resolver
//     says, in its order. Resolution failing or giving nothing throws
//     micro::Error(UNAVAILABLE) naming the host.
#pragma once

#include <micro/error.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <vector>

#include <micro/transport_common/address.hpp>

namespace micro::transport_common {

/// `passive`: for a listening socket (a wildcard host binds every address).
inline std::vector<boost::asio::ip::tcp::endpoint> resolve(boost::asio::io_context& context,
                                                           const HostPort& hp, bool passive) {
    using boost::asio::ip::tcp;
    std::vector<tcp::endpoint> out;
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(hp.host, ec);
    if (!ec) {
        out.emplace_back(ip, hp.port);
        return out;
    }
    tcp::resolver resolver(context);
    auto flags = tcp::resolver::numeric_service;
    if (passive) flags |= tcp::resolver::passive;
    const auto results = resolver.resolve(hp.host, std::to_string(hp.port), flags, ec);
    if (ec) {
        throw Error(Code::kUnavailable,
                    "cannot resolve host '" + printable(hp.host) + "': " + ec.message());
    }
    for (const auto& r : results) out.push_back(r.endpoint());
    if (out.empty()) {
        throw Error(Code::kUnavailable, "host '" + printable(hp.host) + "' has no address");
    }
    return out;
}

}  // namespace micro::transport_common
