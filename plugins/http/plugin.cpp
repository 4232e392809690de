// plugins/http/plugin.cpp — micro-http.so: the "http" transport driver,
// RPC over HTTP/1.1 (unary calls as POST) and WebSocket (everything else)
// on one port (see http_transport.hpp, README.md).
#include <micro/driver/transport.hpp>

#include "http_transport.hpp"

using micro::driver::TransportDriver;
using micro::http::HttpTransport;

MICRO_PLUGIN("micro-http", "0.1.0", "HTTP transport: HTTP/1.1 and WebSocket over Boost.Beast",
             MICRO_DRIVER(TransportDriver<HttpTransport>, "http", "0.1.0",
                          "ordered {headers, body} messages over HTTP/1.1 and WebSocket"));
