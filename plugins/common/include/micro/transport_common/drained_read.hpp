// micro/transport_common/drained_read.hpp — a socket read that tells the
// reactor when it left the socket empty, so the next read waits for the next
// readiness event instead of trying a recv first.
//
// Why: Asio tries every read at once and waits only when that recv finds
// nothing. On a request/response connection the read started after a reply
// almost never finds anything (the peer has not seen the reply yet), so each
// request paid one empty recv: a whole system call. With edge-triggered
// epoll, once the receive queue is empty the next byte (or the peer's FIN)
// to arrive raises a new event. The kernel says how much is left with each
// read (TCP_INQ, which also counts a FIN not yet reported as end of stream),
// so a read that leaves nothing is reported to the reactor as "exhausted":
// the reactor's next read on that descriptor waits for that event, and any
// event re-enables trying first. "Fewer bytes than asked for" would not do:
// a FIN that came with the last bytes raises no further event.
//
// Contract
//   Socket: `Socket` is a tcp::socket (usable everywhere one is) that also
//     exposes what DrainedRead needs of Asio's implementation.
//   DrainedRead<Connection>::start(self, data, size): reads up to `size` > 0
//     bytes into `data` and then calls `self->onRead(ec, n)` on the
//     socket's io thread, as an ordinary completion (never inside start).
//     End of stream is boost::asio::error::eof; close() or cancel() of the
//     socket completes it with operation_aborted. `self` keeps the
//     connection (which owns this object, the socket and the buffer) alive
//     until then. One read at a time; on the socket's io thread only.
//   Where TCP_INQ cannot be enabled every read is an ordinary one. Without
//     Asio 1.74's epoll reactor (whose internals this relies on) it is a
//     plain async_read_some with the same contract.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <micro/transport_common/socket_calls.hpp>

#if BOOST_VERSION == 107400 && defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IOCP)
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#define MICRO_DRAINED_READ_REACTOR 1
#endif

namespace micro::transport_common {

/// A tcp::socket whose Asio implementation DrainedRead can reach.
class Socket : public boost::asio::ip::tcp::socket {
 public:
    using boost::asio::ip::tcp::socket::basic_stream_socket;

#ifdef MICRO_DRAINED_READ_REACTOR
    auto& implementation() noexcept { return impl_.get_implementation(); }
#endif
};

#ifdef MICRO_DRAINED_READ_REACTOR

template <typename Connection>
class DrainedRead final : private boost::asio::detail::reactor_op {
 public:
    explicit DrainedRead(Socket& socket)
        : reactor_op(boost::system::error_code(), &DrainedRead::perform, &DrainedRead::complete),
          socket_(socket),
          reactor_(boost::asio::use_service<boost::asio::detail::reactor>(
              boost::asio::query(socket.get_executor(), boost::asio::execution::context))) {}
    DrainedRead(const DrainedRead&) = delete;
    DrainedRead& operator=(const DrainedRead&) = delete;

    void start(std::shared_ptr<Connection> self, void* data, std::size_t size) {
        self_ = std::move(self);
        data_ = data;
        size_ = size;
        ec_ = boost::system::error_code();
        bytes_transferred_ = 0;
        auto& impl = socket_.implementation();
        if (!socket_.is_open()) {
            ec_ = boost::asio::error::bad_descriptor;
            reactor_.post_immediate_completion(this, false);
            return;
        }
        if (inq_ == Inq::kUnknown) {
            const int on = 1;
            inq_ = ::setsockopt(impl.socket_, IPPROTO_TCP, TCP_INQ, &on, sizeof on) == 0
                       ? Inq::kOn
                       : Inq::kOff;
        }
        reactor_.start_op(boost::asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_,
                          this, false, true);
    }

 private:
    static status perform(reactor_op* base) {
        auto* self = static_cast<DrainedRead*>(base);
        const int fd = self->socket_.implementation().socket_;
        iovec iov{self->data_, self->size_};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        msghdr message{};
        message.msg_iov = &iov;
        message.msg_iovlen = 1;
        for (;;) {
            if (self->inq_ == Inq::kOn) {
                message.msg_control = control;
                message.msg_controllen = sizeof control;
            }
            const ssize_t n = receiveMessage(fd, &message, MSG_DONTWAIT);
            if (n > 0) {
                self->bytes_transferred_ = static_cast<std::size_t>(n);
                return nothingLeft(message) ? done_and_exhausted : done;
            }
            if (n == 0) {
                self->ec_ = boost::asio::error::eof;
                return done;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
            self->ec_ = boost::system::error_code(errno, boost::asio::error::get_system_category());
            return done;
        }
    }

    // True when the kernel reported an empty receive queue and no unreported
    // FIN (TCP_CM_INQ of 0); false when it said nothing.
    static bool nothingLeft(msghdr& message) noexcept {
        for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
            if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ &&
                c->cmsg_len >= CMSG_LEN(sizeof(int))) {
                int left = 0;
                std::memcpy(&left, CMSG_DATA(c), sizeof left);
                return left == 0;
            }
        }
        return false;
    }

    // Runs as the completion (owner set) or when the io_context is destroyed
    // with the read still queued (owner null: only let go of the connection).
    static void complete(void* owner, boost::asio::detail::scheduler_operation* base,
                         const boost::system::error_code&, std::size_t) {
        auto* self = static_cast<DrainedRead*>(base);
        std::shared_ptr<Connection> connection = std::move(self->self_);
        if (owner == nullptr || !connection) return;
        // The handler may start the next read on this same object.
        const boost::system::error_code ec = self->ec_;
        const std::size_t n = self->bytes_transferred_;
        connection->onRead(ec, n);
    }

    Socket& socket_;
    boost::asio::detail::reactor& reactor_;
    std::shared_ptr<Connection> self_;
    void* data_ = nullptr;
    std::size_t size_ = 0;
    enum class Inq : std::uint8_t { kUnknown, kOn, kOff };
    Inq inq_ = Inq::kUnknown;  // TCP_INQ on this socket, set by the first read
};

#else

template <typename Connection>
class DrainedRead {
 public:
    explicit DrainedRead(Socket& socket) : socket_(socket) {}
    DrainedRead(const DrainedRead&) = delete;
    DrainedRead& operator=(const DrainedRead&) = delete;

    void start(std::shared_ptr<Connection> self, void* data, std::size_t size) {
        socket_.async_read_some(boost::asio::buffer(data, size),
                                [self = std::move(self)](const boost::system::error_code& ec,
                                                         std::size_t n) { self->onRead(ec, n); });
    }

 private:
    Socket& socket_;
};

#endif

}  // namespace micro::transport_common
