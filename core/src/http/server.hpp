// server.hpp — a small HTTP/1.1 server (Boost.Beast) shared by the API
// gateway and every service's admin endpoint (/health, /metrics).
//
// Keep-alive and pipelined requests are served in order, one at a time per
// connection. Limits protect the server from one bad client while every other
// connection keeps being served:
//   - the header block (request line and fields) over maxHeaderBytes: 431,
//     then the connection is closed;
//   - a body over maxBodyBytes (declared or streamed): 413, then closed;
//   - anything that is not HTTP/1.x: 400, then closed;
//   - a header block not complete within headerTimeout once its first bytes
//     came (a slow client), or a body not complete within bodyTimeout: the
//     connection is closed without a reply;
//   - a keep-alive connection idle for idleTimeout: closed.
// `Expect: 100-continue` is answered before the body is read, so a client
// sending a body that is too large gets its 413 without sending it.
//
// Threads: `threads` I/O threads, each running its own event loop; a
// connection stays on one of them. The handler runs on that thread and must
// not block: it may answer later, from any thread, through its Reply.
//
// Lifetime: stop() (and the destructor) closes the listener and every
// connection and joins the threads. A Reply invoked after stop() is dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro::http {

struct Request {
    std::string_view method;  ///< "GET", "POST", ... as sent
    std::string_view target;  ///< "/greeter/hello?x=1"
    std::string_view body;
    std::vector<std::pair<std::string_view, std::string_view>> headers;  ///< as sent
    bool keepAlive = true;

    /// The first value of a header, matched case-insensitively; empty if absent.
    std::string_view header(std::string_view name) const noexcept;
    /// The target without its query string.
    std::string_view path() const noexcept;
};

struct Response {
    int status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< extra fields
    bool close = false;  ///< close the connection after this response
};

/// A response with a status, content type and body, nothing else.
inline Response makeResponse(int status, std::string contentType, std::string body) {
    Response r;
    r.status = status;
    r.contentType = std::move(contentType);
    r.body = std::move(body);
    return r;
}

/// Sends the response to a request. Call it exactly once, from any thread.
/// The Request it came with (and every view in it) stays valid until then.
using Reply = std::function<void(Response)>;
using Handler = std::function<void(const Request&, Reply)>;

struct ServerOptions {
    std::string address = "127.0.0.1:0";  ///< host:port; port 0 picks one
    std::size_t threads = 1;
    std::size_t maxHeaderBytes = 64 * 1024;
    std::size_t maxBodyBytes = 4 * 1024 * 1024;
    std::chrono::milliseconds headerTimeout{10000};
    std::chrono::milliseconds bodyTimeout{30000};
    std::chrono::milliseconds idleTimeout{60000};
};

/// The reason phrase of a status code ("Not Found").
std::string_view reasonPhrase(int status) noexcept;

class Server {
 public:
    /// Binds and starts serving at once. Throws micro::Error: INVALID_ARGUMENT
    /// for an address that is not host:port, UNAVAILABLE naming the address
    /// when it cannot be bound.
    Server(ServerOptions options, Handler handler);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// The bound address, "127.0.0.1:41234".
    const std::string& address() const noexcept;
    void stop() noexcept;

    struct Impl;

 private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace micro::http
