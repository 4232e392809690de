// micro/transport_common/connect.hpp — a blocking connect with a time limit,
// for dial.
//
// Contract
//   Threads: blocks the calling thread (poll) for at most `timeout`; never
//     touches the socket's io_context, so it may run on any thread but the
//     socket's own io thread must not use the socket meanwhile.
//   Result: empty on success, with the socket open, connected and
//     non-blocking. Otherwise a message naming why (the system's text, or
//     "timed out after N ms"), with the socket closed again. Never throws
//     but for out of memory building that message.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

namespace micro::transport_common {

/// The system's text for errno value `e`.
inline std::string errnoText(int e) { return std::system_category().message(e); }

/// Connect `socket` (closed on entry) to `to`, waiting at most `timeout`
/// (<= 0: only the system's own connect timeout).
inline std::string connectSocket(boost::asio::ip::tcp::socket& socket,
                                 const boost::asio::ip::tcp::endpoint& to,
                                 std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    boost::system::error_code ec;
    socket.open(to.protocol(), ec);
    if (ec) return "cannot open a socket: " + ec.message();
    socket.non_blocking(true, ec);
    const int fd = socket.native_handle();
    auto failed = [&](const std::string& why) {
        boost::system::error_code ignored;
        socket.close(ignored);
        return why;
    };
    if (::connect(fd, to.data(), static_cast<socklen_t>(to.size())) != 0) {
        if (errno != EINPROGRESS && errno != EINTR) return failed(errnoText(errno));
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            int waitMs = -1;
            if (timeout.count() > 0) {
                auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
                if (left.count() <= 0) {
                    return failed("timed out after " + std::to_string(timeout.count()) + " ms");
                }
                waitMs = static_cast<int>(left.count());
            }
            pollfd p{fd, POLLOUT, 0};
            const int ready = ::poll(&p, 1, waitMs);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) return failed(errnoText(errno));
            if (ready > 0) break;
        }
        int soError = 0;
        socklen_t len = sizeof soError;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len) != 0) soError = errno;
        if (soError != 0) return failed(errnoText(soError));
    }
    return {};
}

}  // namespace micro::transport_common
