// plugins/redis/broker_link.hpp — one hiredis connection of the broker,
// with pipelining and a socket another thread may shut down to wake it.
//
// Contract
//   Threads: one thread uses a Link; only fd() may be read by another
//     thread, to shutdown(2) the socket and so end a blocking read at once
//     (the owner then sees UNAVAILABLE). That thread must have SIGPIPE
//     blocked (sigpipe.hpp): a write to a dead socket fails with EPIPE.
//   Arguments go in hiredis's argv form, (pointer, length): binary-safe.
//   open() connects within connect_timeout, sets the read timeout, TCP
//     keep-alive, AUTH (url password) and SELECT (url database).
//   Errors (micro::Error, message "redis HOST:PORT: WHAT: reason"):
//     cannot connect, I/O error, closed, timeout: UNAVAILABLE, and the link
//     is broken for good; AUTH refused UNAUTHENTICATED; SELECT refused
//     INVALID_ARGUMENT; error replies through command() are mapped as the
//     store's Connection maps them (throwServerError); read() returns them.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "connection.hpp"  // Reply, throwServerError
#include "redis_url.hpp"

namespace micro::redis {

class Link {
    struct Private {
        explicit Private() = default;
    };

 public:
    /// `readTimeout` 0 waits for a reply forever (a SUBSCRIBE connection).
    static std::unique_ptr<Link> open(const RedisUrl& url, std::chrono::milliseconds connectTimeout,
                                      std::chrono::milliseconds readTimeout);
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    /// Buffer one command; read() sends everything buffered.
    void append(std::span<const std::string_view> argv);
    /// The next reply, error replies included.
    Reply read(std::string_view what);
    /// append + read; an error reply is thrown.
    Reply command(std::span<const std::string_view> argv, std::string_view what);
    void setReadTimeout(std::chrono::milliseconds timeout);

    int fd() const noexcept { return context_->fd; }
    bool broken() const noexcept { return broken_; }
    const std::string& endpoint() const noexcept { return endpoint_; }

    /// Use open(); public only for std::make_unique.
    Link(Private, redisContext* context, std::string endpoint,
         std::chrono::milliseconds readTimeout);

 private:
    [[noreturn]] void failIo(std::string_view what);

    redisContext* context_;
    std::string endpoint_;
    std::chrono::milliseconds readTimeout_;
    bool broken_ = false;
};

/// The text of an error reply.
inline std::string_view errorText(const redisReply& reply) noexcept {
    return reply.str == nullptr ? std::string_view{} : std::string_view(reply.str, reply.len);
}

}  // namespace micro::redis
