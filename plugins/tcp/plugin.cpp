// plugins/tcp/plugin.cpp — micro-tcp.so: the "tcp" transport driver, ordered
// messages {headers, body} over TCP (see tcp_transport.hpp, frame.hpp).
#include <micro/driver/transport.hpp>

#include "tcp_transport.hpp"

using micro::driver::TransportDriver;
using micro::tcp::TcpTransport;

MICRO_PLUGIN("micro-tcp", "0.1.0", "TCP transport: length-prefixed frames over Boost.Asio",
             MICRO_DRIVER(TransportDriver<TcpTransport>, "tcp", "0.1.0",
                          "ordered {headers, body} messages over TCP, one frame each"));
