// plugins/redis/connection.hpp — one synchronous hiredis connection.
//
// Contract
//   Threads: a Connection is used by one thread at a time (the pool lends
//     it out); it is not thread-safe itself.
//   Commands are sent in hiredis's argv form: every argument is passed as
//     (pointer, length), never formatted into the command text, so keys,
//     names and values may hold any bytes (NUL, quotes, invalid UTF-8).
//   Timeouts: connecting waits at most connect_timeout; every command at
//     most command_timeout for the socket (SO_SNDTIMEO/SO_RCVTIMEO).
//   Errors (micro::Error, the message starting "redis HOST:PORT: "):
//     - cannot connect, I/O error, server closed the connection, timeout:
//       UNAVAILABLE, and the connection is marked broken (the pool drops it);
//     - AUTH refused: UNAUTHENTICATED; SELECT refused: INVALID_ARGUMENT;
//     - error replies: LOADING, BUSY, READONLY, MASTERDOWN, TRYAGAIN and
//       CLUSTERDOWN are UNAVAILABLE; NOAUTH and WRONGPASS UNAUTHENTICATED;
//       NOPERM PERMISSION_DENIED; OOM RESOURCE_EXHAUSTED; WRONGTYPE,
//       MOVED, ASK and "ERR Protocol error" (a request over the server's
//       proto-max-bulk-len) FAILED_PRECONDITION; anything else INTERNAL.
//       An error reply leaves the connection usable, except a protocol
//       error, after which the server closes it (it is marked broken).
//   Replies are owned (Reply frees them) and outlive the connection.
#pragma once

#include <hiredis/hiredis.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "redis_url.hpp"
#include "scripts.hpp"

namespace micro::redis {

struct ReplyFree {
    void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct ConnectOptions {
    RedisUrl url;
    std::chrono::milliseconds connectTimeout{1000};
    std::chrono::milliseconds commandTimeout{2000};
};

class Connection {
    struct Private {
        explicit Private() = default;
    };

 public:
    /// Connect, set the command timeout and TCP keep-alive, AUTH when the
    /// url has a password, SELECT when it names a database other than 0.
    static std::unique_ptr<Connection> open(const ConnectOptions& options);

    /// Send `argv` and return the reply; an error reply is thrown (see the
    /// contract). `what` names the operation in messages ("read", ...).
    Reply command(std::span<const std::string_view> argv, std::string_view what);
    /// Run script `id` with `keys` and `args` (EVALSHA, falling back to
    /// EVAL when the server does not know the script, e.g. after a restart).
    Reply eval(ScriptId id, std::span<const std::string> keys, std::span<const std::string> args,
               std::string_view what);

    /// Write `bytes` (whole commands, e.g. a pipelined batch) to the socket,
    /// with no SIGPIPE (MSG_NOSIGNAL). False on failure: the connection is
    /// then broken and failure() says why.
    bool sendAll(std::string_view bytes) noexcept;
    /// The next reply (an error reply is returned, not thrown), or null on
    /// an I/O failure or timeout (the connection is then broken). A
    /// protocol error reply also marks it broken: the server closes it.
    Reply readReply() noexcept;
    /// Why the connection broke ("no reply within command_timeout_ms (N
    /// ms)", "the server closed the connection", ...).
    const std::string& failure() const noexcept { return failure_; }
    /// True when it broke because the server did not answer (or accept
    /// bytes) within command_timeout: the server is probably hung.
    bool timedOut() const noexcept { return timedOut_; }

    /// True once an I/O error or timeout made the connection unusable.
    bool broken() const noexcept { return broken_; }
    /// For an idle connection: false when the socket has something to read
    /// (the server closed it, or sent what nobody asked for) or failed.
    bool idleHealthy() const noexcept;

    /// The pool's generation this connection was made in (see the pool).
    std::uint64_t generation = 0;

 private:
    struct ContextFree {
        void operator()(redisContext* c) const noexcept { redisFree(c); }
    };

 public:
    /// Use open(); public only for std::make_unique.
    Connection(Private, std::unique_ptr<redisContext, ContextFree> context, std::string endpoint,
               std::chrono::milliseconds commandTimeout);

 private:
    /// Send and return the raw reply (error replies included).
    Reply send(std::span<const std::string_view> argv, std::string_view what);
    [[noreturn]] void failIo(std::string_view what);
    /// Mark broken, with the reason from hiredis's error state.
    void breakFromContext() noexcept;

    std::unique_ptr<redisContext, ContextFree> context_;
    std::string endpoint_;
    std::chrono::milliseconds commandTimeout_;
    std::array<std::string, kScriptCount> shas_{};
    bool broken_ = false;
    bool timedOut_ = false;
    std::string failure_;
};

/// Blocks SIGPIPE in the calling thread's mask for its lifetime, so that a
/// round trip may run on a thread the driver does not own (a store call
/// made when a connection is free runs on its caller's thread): a write to
/// a closed socket then fails with EPIPE instead of ending the process. On
/// destruction a SIGPIPE left pending is consumed and the thread's mask is
/// restored. A thread that already blocks SIGPIPE (the driver's workers)
/// keeps it blocked. Not copyable; used by one thread, on its stack.
class ScopedSigpipeBlock {
 public:
    ScopedSigpipeBlock() noexcept;
    ~ScopedSigpipeBlock();
    ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
    ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
    bool wasBlocked_ = true;
};

/// The micro::Error for an error reply `message` from `endpoint` (see the
/// contract for the mapping), prefixed "redis ENDPOINT: WHAT: ".
[[noreturn]] void throwServerError(std::string_view endpoint, std::string_view what,
                                   std::string_view message);

}  // namespace micro::redis
