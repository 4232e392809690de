// The HTTP/1.1 server behind the gateway and the admin endpoints (see
// server.hpp). The only translation unit of the core that includes Beast.
#include "server.hpp"

#include <micro/error.hpp>

#include <fmt/core.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "../rpc/protocol.hpp"

namespace micro::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

std::string_view sv(beast::string_view s) noexcept { return {s.data(), s.size()}; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

tcp::endpoint parseEndpoint(std::string_view address) {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("HTTP address '{}' is not host:port", address));
    }
    std::string host(address.substr(0, colon));
    std::string_view portText = address.substr(colon + 1);
    std::uint64_t port = 0;
    if (!rpc::parseU64(portText, port) || port > 65535) {
        throw Error(
            Code::kInvalidArgument,
            fmt::format("HTTP address '{}': port '{}' is not a number 0-65535", address, portText));
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty() || host == "*") host = "0.0.0.0";
    if (host == "localhost") host = "127.0.0.1";
    boost::system::error_code ec;
    auto ip = net::ip::make_address(host, ec);
    if (ec) {
        throw Error(Code::kInvalidArgument,
                    fmt::format("HTTP address '{}': '{}' is not an IP address", address, host));
    }
    return {ip, static_cast<unsigned short>(port)};
}

Code codeForStatus(int status) noexcept {
    switch (status) {
        case 400:
            return Code::kInvalidArgument;
        case 408:
            return Code::kDeadlineExceeded;
        case 413:
        case 431:
            return Code::kResourceExhausted;
        default:
            return Code::kInternal;
    }
}

class Connection;

// One event loop and its thread. Replies from other threads are posted here
// while `alive`; stop() clears it under `mutex` before the loop goes away.
struct Loop {
    std::optional<net::io_context> ioc{std::in_place, 1};
    std::thread thread;
    std::mutex mutex;
    bool alive = true;
    std::unordered_set<Connection*> connections;
};

// The loop whose thread this is, if any: a reply made on it is written at once.
thread_local const Loop* tCurrentLoop = nullptr;

struct Shared {
    ServerOptions options;
    Handler handler;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
    Connection(tcp::socket socket, std::shared_ptr<Loop> loop, std::shared_ptr<const Shared> shared)
        : loop_(std::move(loop)), shared_(std::move(shared)) {
        stream_.emplace(std::move(socket));
        boost::system::error_code ignored;
        stream_->socket().set_option(tcp::no_delay(true), ignored);
        std::lock_guard lock(loop_->mutex);
        loop_->connections.insert(this);
    }
    ~Connection() {
        std::lock_guard lock(loop_->mutex);
        loop_->connections.erase(this);
    }

    void start() { readRequest(); }

    // After the loop's thread stopped: close the socket while its io_context
    // still exists.
    void detach() noexcept { stream_.reset(); }

 private:
    const ServerOptions& options() const noexcept { return shared_->options; }

    void readRequest() {
        if (buffer_.size() > 0) {
            readHeader();
            return;
        }
        // Wait for the first byte with the idle timeout; the header timeout
        // starts only when a request begins.
        stream_->expires_after(options().idleTimeout);
        stream_->async_read_some(
            buffer_.prepare(4096),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                if (ec) return self->closeNow();
                self->buffer_.commit(n);
                self->readHeader();
            });
    }

    void readHeader() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(options().maxHeaderBytes));
        parser_->body_limit(options().maxBodyBytes);
        stream_->expires_after(options().headerTimeout);
        bhttp::async_read_header(*stream_, buffer_, *parser_,
                                 [self = shared_from_this()](boost::system::error_code ec,
                                                             std::size_t) { self->onHeader(ec); });
    }

    // True when the error was answered or the connection closed.
    bool failed(boost::system::error_code ec) {
        if (!ec) return false;
        if (ec == bhttp::error::header_limit) {
            fail(431, fmt::format("request header block over {} bytes", options().maxHeaderBytes));
        } else if (ec == bhttp::error::body_limit) {
            fail(413, fmt::format("request body over {} bytes", options().maxBodyBytes));
        } else if (ec.category() ==
                       bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                   ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
            fail(400, fmt::format("malformed HTTP request: {}", ec.message()));
        } else {
            // Timeout, the peer gone or half-closed mid-request: nobody to answer.
            closeNow();
        }
        return true;
    }

    void onHeader(boost::system::error_code ec) {
        if (failed(ec)) return;
        if (parser_->is_done()) return dispatch();
        if (iequals(sv(parser_->get()[bhttp::field::expect]), "100-continue")) {
            static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
            stream_->expires_after(options().bodyTimeout);
            net::async_write(
                *stream_, net::buffer(kContinue.data(), kContinue.size()),
                [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                    if (ec) return self->closeNow();
                    self->readBody();
                });
            return;
        }
        readBody();
    }

    void readBody() {
        stream_->expires_after(options().bodyTimeout);
        bhttp::async_read(*stream_, buffer_, *parser_,
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                              if (self->failed(ec)) return;
                              self->dispatch();
                          });
    }

    void dispatch() {
        stream_->expires_never();
        auto& msg = parser_->get();
        request_.method = sv(msg.method_string());
        request_.target = sv(msg.target());
        request_.body = msg.body();
        request_.keepAlive = msg.keep_alive();
        request_.headers.clear();
        for (const auto& field : msg) {
            request_.headers.emplace_back(sv(field.name_string()), sv(field.value()));
        }
        Reply reply = [self = shared_from_this()](Response response) {
            self->reply(std::move(response));
        };
        try {
            shared_->handler(request_, std::move(reply));
        } catch (const std::exception& e) {
            // The handler owns replying; if it threw before doing so, answer here.
            Response r = makeResponse(500, "application/json",
                                      rpc::errorJson("micro.http", Code::kInternal, e.what()));
            r.close = true;
            write(std::move(r));
        }
    }

    void reply(Response response) {
        if (tCurrentLoop == loop_.get()) {
            write(std::move(response));
            return;
        }
        std::lock_guard lock(loop_->mutex);
        if (!loop_->alive) return;
        net::post(*loop_->ioc, [self = shared_from_this(), r = std::move(response)]() mutable {
            self->write(std::move(r));
        });
    }

    void fail(int status, std::string detail) {
        parser_.reset();
        Response r = makeResponse(status, "application/json",
                                  rpc::errorJson("micro.http", codeForStatus(status), detail));
        r.close = true;
        write(std::move(r));
    }

    void write(Response response) {
        if (!stream_) return;
        closeAfter_ = response.close || !request_.keepAlive || !parser_;
        head_.clear();
        head_ += "HTTP/1.1 ";
        head_ += std::to_string(response.status);
        head_ += ' ';
        head_ += reasonPhrase(response.status);
        head_ += "\r\nContent-Type: ";
        head_ += response.contentType;
        head_ += "\r\nContent-Length: ";
        head_ += std::to_string(response.body.size());
        head_ += "\r\n";
        for (const auto& [name, value] : response.headers) {
            head_ += name;
            head_ += ": ";
            head_ += value;
            head_ += "\r\n";
        }
        if (closeAfter_) head_ += "Connection: close\r\n";
        head_ += "\r\n";
        body_ = std::move(response.body);
        std::array<net::const_buffer, 2> buffers = {net::buffer(head_), net::buffer(body_)};
        stream_->expires_after(options().bodyTimeout);
        net::async_write(*stream_, buffers,
                         [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             if (ec) return self->closeNow();
                             if (self->closeAfter_) return self->lingeringClose();
                             self->parser_.reset();
                             self->readRequest();
                         });
    }

    // Stop sending, then read and discard what the client still sends for a
    // moment, so the kernel does not reset the connection and lose the reply.
    void lingeringClose() {
        boost::system::error_code ignored;
        stream_->socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_->expires_after(std::chrono::seconds(2));
        drain();
    }
    void drain() {
        stream_->async_read_some(
            net::buffer(discard_),
            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (ec) return self->closeNow();
                self->drain();
            });
    }

    void closeNow() {
        if (!stream_) return;
        boost::system::error_code ignored;
        stream_->socket().close(ignored);
    }

    std::shared_ptr<Loop> loop_;
    std::shared_ptr<const Shared> shared_;
    std::optional<beast::tcp_stream> stream_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    Request request_;
    std::string head_, body_;
    bool closeAfter_ = false;
    std::array<char, 4096> discard_{};
};

}  // namespace

std::string_view Request::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return {};
}

std::string_view Request::path() const noexcept {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

std::string_view reasonPhrase(int status) noexcept {
    return sv(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
}

struct Server::Impl {
    std::shared_ptr<const Shared> shared;
    std::vector<std::shared_ptr<Loop>> loops;
    std::optional<tcp::acceptor> acceptor;
    std::string address;
    std::size_t next = 0;
    bool stopped = false;

    void accept() {
        auto& loop = loops[next++ % loops.size()];
        acceptor->async_accept(loop->ioc->get_executor(), [this, loop](boost::system::error_code ec,
                                                                       tcp::socket socket) {
            if (ec == net::error::operation_aborted) return;
            if (!ec) {
                auto c = std::make_shared<Connection>(std::move(socket), loop, shared);
                net::post(*loop->ioc, [c] { c->start(); });
            }
            // Out of descriptors and the like: keep
            // serving the connections already open.
            accept();
        });
    }
};

Server::Server(ServerOptions options, Handler handler) : impl_(std::make_unique<Impl>()) {
    std::size_t threads = std::max<std::size_t>(options.threads, 1);
    tcp::endpoint endpoint = parseEndpoint(options.address);
    impl_->shared = std::make_shared<Shared>(Shared{std::move(options), std::move(handler)});
    for (std::size_t i = 0; i < threads; ++i) impl_->loops.push_back(std::make_shared<Loop>());
    boost::system::error_code ec;
    impl_->acceptor.emplace(*impl_->loops[0]->ioc);
    impl_->acceptor->open(endpoint.protocol(), ec);
    if (!ec) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor->bind(endpoint, ec);
    if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        std::string wanted = impl_->shared->options.address;
        impl_->acceptor.reset();
        throw Error(Code::kUnavailable,
                    fmt::format("cannot listen for HTTP on {}: {}", wanted, ec.message()));
    }
    auto bound = impl_->acceptor->local_endpoint();
    impl_->address = bound.address().is_v6()
                         ? fmt::format("[{}]:{}", bound.address().to_string(), bound.port())
                         : fmt::format("{}:{}", bound.address().to_string(), bound.port());
    impl_->accept();
    for (auto& loop : impl_->loops) {
        loop->thread = std::thread([l = loop.get()] {
            tCurrentLoop = l;
            auto guard = net::make_work_guard(*l->ioc);
            l->ioc->run();
        });
    }
}

Server::~Server() { stop(); }

const std::string& Server::address() const noexcept { return impl_->address; }

void Server::stop() noexcept {
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& loop : impl_->loops) loop->ioc->stop();
    for (auto& loop : impl_->loops) {
        if (loop->thread.joinable()) loop->thread.join();
    }
    for (auto& loop : impl_->loops) {
        std::lock_guard lock(loop->mutex);
        loop->alive = false;
        for (Connection* c : loop->connections) c->detach();
    }
    impl_->acceptor.reset();
    // Destroying each io_context destroys the handlers still queued in it,
    // which releases their connections.
    for (auto& loop : impl_->loops) loop->ioc.reset();
}

}  // namespace micro::http
