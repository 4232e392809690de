// micro/rpc/call.hpp — one RPC as handlers and middleware see it.
//
// A ServerCall is what a handler receives: who is called, the request
// metadata and deadline, the request body in its content type, and the
// response body and metadata it fills. A ClientCall is what client
// middleware sees before the request leaves. Both are borrowed for the call:
// views inside them are valid only until the handler or middleware returns.
//
// Middleware is a chain: each link may inspect or change the call, reject it
// by throwing micro::Error, time it, log it, then call `next` (or not).
#pragma once

#include <micro/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro {

/// Content types a call's body may have.
inline constexpr std::string_view kContentCapnp = "application/capnp";
inline constexpr std::string_view kContentJson = "application/json";
inline constexpr std::string_view kContentRaw = "application/octet-stream";

using Metadata = std::vector<std::pair<std::string, std::string>>;

/// The first value of `key` in `metadata`, or empty.
inline std::string_view metadataValue(const Metadata& metadata, std::string_view key) noexcept {
    for (const auto& [k, v] : metadata) {
        if (k == key) return v;
    }
    return {};
}

struct ServerCall {
    std::string_view service;   ///< the service name this node serves
    std::string_view endpoint;  ///< "Greeter.Hello"
    std::string_view contentType;
    std::string_view body;      ///< the encoded request
    Metadata metadata;          ///< request metadata (caller-supplied headers)
    std::chrono::steady_clock::time_point deadline;  ///< max() when none
    std::string caller;         ///< caller identity, when auth establishes one

    std::string response;       ///< the encoded response, filled by the handler
    std::string responseContentType;  ///< defaults to the request's
    Metadata responseMetadata;

    std::string_view header(std::string_view key) const noexcept {
        return metadataValue(metadata, key);
    }
    bool expired() const noexcept { return std::chrono::steady_clock::now() >= deadline; }
};

using ServerHandler = std::function<void(ServerCall&)>;
using ServerMiddleware = std::function<void(ServerCall&, const ServerHandler& next)>;

struct ClientCall {
    std::string service;
    std::string endpoint;
    std::string contentType;
    std::string_view body;
    Metadata metadata;
    std::chrono::steady_clock::time_point deadline;

    std::string response;  ///< filled when the call returns
    Metadata responseMetadata;
};

using ClientHandler = std::function<void(ClientCall&)>;
using ClientMiddleware = std::function<void(ClientCall&, const ClientHandler& next)>;

}  // namespace micro
