#include "http_connection.hpp"

#include <micro/abi_view.hpp>
#include <micro/driver/transport.hpp>
#include <micro/error.hpp>

#include <boost/asio/post.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/rfc7230.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <random>
#include <utility>

#include "envelope.hpp"
#include "http_mapping.hpp"
#include "ws_frame.hpp"

namespace micro::http {

namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBuffer = 16u << 10;

using transport_common::errnoText;

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

bool parseU64(std::string_view s, std::uint64_t& out) noexcept {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

std::string_view sv(boost::beast::string_view s) noexcept { return {s.data(), s.size()}; }

bool hasToken(std::string_view list, const char* token) {
    return bhttp::token_list(boost::beast::string_view(list.data(), list.size())).exists(token);
}

// Beast's websocket::is_upgrade, on a ParsedRequest.
bool isWebSocketUpgrade(const ParsedRequest& r) {
    return r.version() >= 11 && r.method() == bhttp::verb::get &&
           hasToken(r.find("connection"), "upgrade") && hasToken(r.find("upgrade"), "websocket");
}

std::string decimal(std::uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    return std::string(buf, end);
}

std::string printableText(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        out += (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F)
                   ? c
                   : '?';
    }
    if (s.size() > 64) out += "...";
    return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Setup

HttpConnection::HttpConnection(IoWorker& worker, const Settings& settings, ConnectionOwner& owner,
                               std::shared_ptr<Announcer> announcer)
    : StreamConnection(worker, owner, settings.maxQueuedBytes),
      settings_(settings),
      announcer_(std::move(announcer)),
      client_(announcer_ == nullptr),
      timer_(worker.context()) {
    announced_ = client_;  // the core gave a dialled connection its events in dial
    if (client_) {
        std::random_device rd;
        maskState_ = (static_cast<std::uint64_t>(rd()) << 32 | rd()) | 1;
    }
}

HttpConnection::~HttpConnection() = default;

std::string HttpConnection::handshake(const std::string& host, Clock::time_point deadline) {
    const int fd = socket_.native_handle();
    auto wait = [&](short events) -> std::string {
        for (;;) {
            int waitMs = -1;
            if (deadline != Clock::time_point::max()) {
                auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
                if (left.count() <= 0) return "WebSocket upgrade timed out";
                waitMs = static_cast<int>(left.count());
            }
            pollfd p{fd, events, 0};
            const int ready = ::poll(&p, 1, waitMs);
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0) return errnoText(errno);
            if (ready > 0) return {};
        }
    };
    const std::string key = ws::newKey();
    const std::string request = "GET / HTTP/1.1\r\nHost: " + host +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: " +
                                key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n =
            ::send(fd, request.data() + sent, request.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return "sending the WebSocket upgrade: " + errnoText(errno);
        }
        if (auto why = wait(POLLOUT); !why.empty()) return why;
    }
    bhttp::response_parser<bhttp::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings_.maxHeaderBytes));
    parser.skip(true);  // a 101 has no body; anything after it is WebSocket
    in_.reserve(kReadBuffer);
    for (;;) {
        if (!in_.empty()) {
            error_code ec;
            const std::size_t used = parser.put(boost::asio::buffer(in_.data(), in_.size()), ec);
            in_.consume(used);
            if (!ec && parser.is_header_done()) break;
            if (ec && ec != bhttp::error::need_more) {
                return "the answer to the WebSocket upgrade is not HTTP: " + ec.message();
            }
        }
        if (in_.size() == in_.capacity()) in_.reserve(in_.capacity() * 2);
        const ssize_t n =
            ::recv(fd, in_.data() + in_.size(), in_.capacity() - in_.size(), MSG_DONTWAIT);
        if (n > 0) {
            in_.commit(static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return "the server closed the connection during the WebSocket upgrade";
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return "reading the WebSocket upgrade: " + errnoText(errno);
        }
        if (auto why = wait(POLLIN); !why.empty()) return why;
    }
    const auto& res = parser.get();
    if (res.result_int() != 101) {
        return "the server answered the WebSocket upgrade with HTTP " +
               std::to_string(res.result_int()) + " (is it an http transport listener?)";
    }
    if (sv(res[bhttp::field::sec_websocket_accept]) != ws::acceptKey(key)) {
        return "the server's Sec-WebSocket-Accept does not match the key sent";
    }
    wsMode_ = true;
    phase_ = Phase::kWebSocket;
    return {};
}

void HttpConnection::configure() {
    configureSocket(/*keepalive=*/false);
    if (in_.capacity() < kReadBuffer) in_.reserve(kReadBuffer);
}

void HttpConnection::start() noexcept {
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    pump();
}

void HttpConnection::discard() noexcept {
    {
        std::lock_guard lock(mutex_);
        state_ = State::kClosed;
    }
    error_code ec;
    socket_.close(ec);
    timer_.cancel();
    closeTimer_.cancel();
}

// ---------------------------------------------------------------------------
// Writing

std::size_t HttpConnection::pendingCount() noexcept {
    // Exact under mutex_; outside it a hint that the caller re-checks under
    // mutex_ before acting on it (see processHttp's pause).
    return pendingSize_.load(std::memory_order_relaxed);
}

void HttpConnection::pendingChanged() noexcept {
    pendingSize_.store(pending_.size(), std::memory_order_relaxed);
}

const std::uint8_t* HttpConnection::nextMask(std::uint8_t (&mask)[4]) noexcept {
    if (!client_) return nullptr;  // only a client masks its frames
    maskState_ ^= maskState_ << 13;
    maskState_ ^= maskState_ >> 7;
    maskState_ ^= maskState_ << 17;
    for (int i = 0; i < 4; ++i) mask[i] = static_cast<std::uint8_t>(maskState_ >> (8 * i));
    return mask;
}

void HttpConnection::queueFrame(std::uint8_t opcode, const std::uint8_t* payload,
                                std::size_t size) {
    std::uint8_t mask[4];
    const std::uint8_t* m = nextMask(mask);
    std::uint8_t* at = out_.append(ws::headSize(size, client_) + size);
    at += ws::writeHead(at, opcode, size, m);
    if (size != 0) std::memcpy(at, payload, size);
    if (m != nullptr) ws::applyMask(at, size, m);
}

void HttpConnection::moveReady() {
    while (!pending_.empty() && pending_.front().done) {
        Pending& p = pending_.front();
        std::memcpy(out_.append(p.bytes.size()), p.bytes.data(), p.bytes.size());
        if (!p.keepAlive) {
            closeAfterFlush_ = true;
            closeAfterCode_ = p.closeCode;
            closeAfterReason_ = std::move(p.closeReason);
        }
        pending_.pop_front();
    }
    pendingChanged();
}

bool HttpConnection::sendReply(const micro_transport_message& message,
                               std::unique_lock<std::mutex>& lock) {
    // The core's reply frame for one pipelined request: find the request by
    // the id it was given, make its response, release what is now in order.
    char kind = 0;
    std::uint64_t id = 0, code = MICRO_UNKNOWN;
    std::string_view contentType;
    // Reply metadata, in place for the usual few entries.
    constexpr std::size_t kInline = 8;
    micro_kv inlineExtra[kInline];
    std::vector<micro_kv> heapExtra;
    std::size_t extraCount = 0;
    for (std::size_t i = 0; i < message.header_count; ++i) {
        const micro_kv& kv = message.headers[i];
        const std::string_view k = abi::view(kv.key), v = abi::view(kv.value);
        if (k == mapping::kKind) {
            kind = v.empty() ? 0 : v[0];
        } else if (k == mapping::kId) {
            parseU64(v, id);
        } else if (k == mapping::kCode) {
            parseU64(v, code);
        } else if (k == mapping::kContentType) {
            contentType = v;
        } else if (!k.starts_with(':')) {
            if (extraCount < kInline) {
                inlineExtra[extraCount] = kv;
            } else {
                if (heapExtra.empty()) heapExtra.assign(inlineExtra, inlineExtra + kInline);
                heapExtra.push_back(kv);
            }
            ++extraCount;
        }
    }
    if (kind != 'r' && kind != 'x') return true;  // nothing an HTTP client could receive
    Pending* p = nullptr;
    for (Pending& candidate : pending_) {
        if (candidate.id == id && !candidate.done) {
            p = &candidate;
            break;
        }
    }
    if (p == nullptr) return true;  // not a request of this connection (or answered)
    if (queueFull(message.body.size + 256)) return false;
    mapping::Response r;
    if (kind == 'r') {
        r.status = 200;
        r.contentType = contentType;
    } else {
        r.code = static_cast<micro_code>(code);
        r.status = mapping::statusFor(r.code);
        r.contentType = contentType.empty() ? std::string_view("application/json") : contentType;
    }
    r.id = p->clientId;
    r.extra = extraCount <= kInline ? std::span<const micro_kv>(inlineExtra, extraCount)
                                    : std::span<const micro_kv>(heapExtra);
    r.body = abi::view(message.body);
    r.close = !p->keepAlive;
    p->done = true;
    if (&pending_.front() != p) {
        mapping::appendResponse(p->bytes, r);
        return true;  // waits for the replies before it
    }
    // In order (the usual case): written straight into the send queue.
    const mapping::ResponseText text(r);
    text.writeTo(reinterpret_cast<char*>(out_.append(text.size())));
    moveReady();
    scheduleFlush(lock, driver::moreFollows(message));
    return true;
}

bool HttpConnection::send(const micro_transport_message& message) {
    std::unique_lock lock(mutex_);
    if (state_.load(std::memory_order_relaxed) != State::kOpen) {
        throw Error(Code::kUnavailable, closedMessage());
    }
    if (!wsMode_.load(std::memory_order_relaxed)) return sendReply(message, lock);
    lock.unlock();
    const std::size_t size = envelope::encodedSize(message);
    if (size > settings_.maxBodyBytes) {
        throw Error(Code::kInvalidArgument, "message of " + std::to_string(size) +
                                                " bytes exceeds max_body_bytes (" +
                                                std::to_string(settings_.maxBodyBytes) + ")");
    }
    const std::size_t bytes = ws::headSize(size, client_) + size;
    lock.lock();
    if (state_.load(std::memory_order_relaxed) != State::kOpen) {
        throw Error(Code::kUnavailable, closedMessage());
    }
    if (queueFull(bytes)) return false;
    std::uint8_t mask[4];
    const std::uint8_t* m = nextMask(mask);
    std::uint8_t* at = out_.append(bytes);
    at += ws::writeHead(at, ws::kBinary, size, m);
    envelope::encode(message, at);
    if (m != nullptr) ws::applyMask(at, size, m);
    scheduleFlush(lock, driver::moreFollows(message));
    return true;
}

void HttpConnection::scheduleFlush(std::unique_lock<std::mutex>& lock, bool moreFollows) {
    // A response that ends the connection, or a paused pipeline, is the io
    // thread's to finish even when the socket took every byte.
    StreamConnection::scheduleFlush(
        lock, [this] { return !closeAfterFlush_ && !paused_; }, moreFollows);
}

void HttpConnection::flush() noexcept {
    bool writable = false;
    bool closeNow = false;
    bool resume = false;
    micro_code code = MICRO_OK;
    std::string reason;
    const bool open = writeQueued(writable, [&] {
        if (closeAfterFlush_) {
            closeAfterFlush_ = false;
            closeNow = true;
            code = closeAfterCode_;
            reason = std::move(closeAfterReason_);
        }
        resume = paused_ && pending_.size() < settings_.maxPipelined;
    });
    if (!open) return;
    if (closeRequested_) {
        finishClose();
        return;
    }
    if (closeNow) {
        {
            std::lock_guard lock(mutex_);
            if (state_.load(std::memory_order_relaxed) == State::kOpen) state_ = State::kClosing;
            if (closeReason_.empty()) closeReason_ = "connection closed: " + reason;
        }
        beginClose(code, std::move(reason));
        return;
    }
    if (resume) {
        paused_ = false;
        try {
            boost::asio::post(worker_.context(), [self = shared_from_this()] { self->pump(); });
        } catch (...) {
            fail(MICRO_RESOURCE_EXHAUSTED, "out of memory resuming a read");
            return;
        }
    }
    notifyWritable(writable);
}

// ---------------------------------------------------------------------------
// Reading

void HttpConnection::pump() noexcept {
    try {
        eventAt_ = Clock::now();
        if (state_.load(std::memory_order_relaxed) == State::kOpen && !in_.empty()) process();
        if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
        updateDeadline();
        if (!readPending_ && !paused_) readSome();
    } catch (const std::bad_alloc&) {
        fail(MICRO_RESOURCE_EXHAUSTED, "out of memory reading a request");
    } catch (const std::exception& e) {
        fail(MICRO_INTERNAL, std::string("reading: ") + e.what());
    }
}

void HttpConnection::readSome() {
    if (needed_ > in_.capacity()) {
        in_.reserve(needed_);  // <= a frame header + max_body_bytes: checked from the header
    } else if (in_.capacity() - in_.size() < 4096) {
        in_.reserve(in_.capacity() < kReadBuffer ? kReadBuffer : in_.capacity() * 2);
    }
    readPending_ = true;
    reader_.start(shared_from_this(), in_.data() + in_.size(), in_.capacity() - in_.size());
}

void HttpConnection::onRead(const error_code& ec, std::size_t n) noexcept {
    readPending_ = false;
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    if (ec) {
        readFailed(ec);
        return;
    }
    in_.commit(n);
    if (state_.load(std::memory_order_relaxed) != State::kOpen) {
        in_.clear();  // closing: what the peer still sends is dropped
        needed_ = 0;
    }
    pump();
}

void HttpConnection::process() {
    IoWorker::Scope scope(worker_);  // replies sent from on_message leave together
    if (!wsMode_.load(std::memory_order_relaxed)) processHttp();
    if (wsMode_.load(std::memory_order_relaxed) &&
        state_.load(std::memory_order_relaxed) == State::kOpen) {
        processWs();
    }
    if (in_.empty()) in_.release(kKeepBuffer);
}

void HttpConnection::processHttp() {
    if (stopRequests_) {
        in_.clear();  // after the last request (or a refusal): nothing more is read
        return;
    }
    while (state_.load(std::memory_order_relaxed) == State::kOpen && !stopRequests_ &&
           !wsMode_.load(std::memory_order_relaxed)) {
        if (!parser_) {
            if (in_.empty()) break;
            if (pendingCount() >= settings_.maxPipelined) {
                paused_ = true;
                // A reply may have come meanwhile: its flush re-checks.
                std::unique_lock lock(mutex_);
                if (pending_.size() < settings_.maxPipelined) {
                    paused_ = false;
                    continue;
                }
                break;
            }
            bool keepAlive = true;
            if (const std::size_t used = parsePlainRequest(
                    {reinterpret_cast<const char*>(in_.data()), in_.size()},
                    settings_.maxHeaderBytes, settings_.maxBodyBytes, request_, keepAlive)) {
                in_.consume(used);  // request_ holds copies
                handleRequest(request_, keepAlive);
                continue;
            }
            parser_.emplace(request_);
            parser_->header_limit(static_cast<std::uint32_t>(settings_.maxHeaderBytes));
            parser_->body_limit(settings_.maxBodyBytes);
            parser_->eager(true);
            phase_ = Phase::kHeader;
            phaseStart_ = eventAt_;
            continueSent_ = false;
        }
        error_code ec;
        const std::size_t used = parser_->put(boost::asio::buffer(in_.data(), in_.size()), ec);
        in_.consume(used);
        if (ec == bhttp::error::need_more || (!ec && !parser_->is_done() && used == 0)) {
            if (parser_->is_header_done() && phase_ == Phase::kHeader) {
                phase_ = Phase::kBody;
                phaseStart_ = eventAt_;
                const std::string_view expect = request_.find("expect");
                if (!continueSent_ &&
                    boost::beast::iequals(boost::beast::string_view(expect.data(), expect.size()),
                                          "100-continue")) {
                    continueSent_ = true;
                    std::unique_lock lock(mutex_);
                    if (pending_.empty()) {  // else it would overtake a response
                        static constexpr std::string_view k100 = "HTTP/1.1 100 Continue\r\n\r\n";
                        std::memcpy(out_.append(k100.size()), k100.data(), k100.size());
                        scheduleFlush(lock);
                    }
                }
            }
            break;
        }
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                refuse(431, MICRO_INVALID_ARGUMENT,
                       "request header block exceeds max_header_bytes (" +
                           std::to_string(settings_.maxHeaderBytes) + " bytes)",
                       true);
            } else if (ec == bhttp::error::body_limit) {
                refuse(413, MICRO_INVALID_ARGUMENT,
                       "request body exceeds max_body_bytes (" +
                           std::to_string(settings_.maxBodyBytes) + " bytes)",
                       true);
            } else {
                refuse(400, MICRO_INVALID_ARGUMENT, "malformed HTTP request: " + ec.message(),
                       true);
            }
            return;
        }
        if (!parser_->is_done()) continue;
        const bool keepAlive = parser_->keep_alive();
        parser_.reset();
        phase_ = Phase::kIdle;
        handleRequest(request_, keepAlive);
    }
}

void HttpConnection::refuse(int status, micro_code code, std::string detail, bool fatal,
                            std::string_view allow) {
    // An answer of the transport itself, in its place among the replies.
    if (fatal) {
        stopRequests_ = true;
        parser_.reset();
        in_.clear();
        phase_ = Phase::kIdle;
    }
    Pending p;
    p.done = true;
    p.keepAlive = !fatal;
    p.closeCode = code;
    p.closeReason = detail;
    const std::string body = mapping::errorBody("", code, detail);
    mapping::Response r;
    r.status = status;
    r.code = code;
    r.contentType = "application/json";
    r.body = body;
    r.close = fatal;
    r.allow = allow;
    mapping::appendResponse(p.bytes, r);
    std::unique_lock lock(mutex_);
    pending_.push_back(std::move(p));
    pendingChanged();
    moveReady();
    scheduleFlush(lock);
}

bool HttpConnection::announce() noexcept {
    if (announced_) return true;
    if (!announcer_ || !announcer_->announce(*this)) {
        // The listener stopped before this connection said what it is.
        fail(MICRO_UNAVAILABLE, "listener stopped");
        return false;
    }
    announced_ = true;
    return true;
}

void HttpConnection::handleRequest(const ParsedRequest& request, bool keepAlive) {
    if (!keepAlive) stopRequests_ = true;
    if (isWebSocketUpgrade(request)) {
        upgrade(request);
        return;
    }
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (request.method() != bhttp::verb::post) {
        refuse(405, MICRO_INVALID_ARGUMENT,
               "method " + printableText(request.methodText()) +
                   " not allowed: POST / calls an endpoint, GET / with Upgrade: websocket opens "
                   "a message connection",
               !keepAlive, "POST");
        return;
    }
    if (path != "/") {
        refuse(404, MICRO_NOT_FOUND, "no such path '" + printableText(path) + "': calls are POST /",
               !keepAlive);
        return;
    }
    // The mapping's own fields; every other one (but the connection's) is
    // call metadata, below.
    std::string_view service, endpoint, timeout, clientId, contentType;
    auto mappingField = [&](std::string_view name) -> std::string_view* {
        if (name == mapping::kContentType) return &contentType;
        if (!name.starts_with("micro-")) return nullptr;
        if (name == mapping::kHttpService) return &service;
        if (name == mapping::kHttpEndpoint) return &endpoint;
        if (name == mapping::kHttpTimeout) return &timeout;
        if (name == mapping::kHttpId) return &clientId;
        return nullptr;
    };
    for (const ParsedRequest::Field& f : request.fields()) {
        std::string_view* known = mappingField(f.name);
        if (known != nullptr && known->data() == nullptr) *known = f.value;  // the first counts
    }
    if (endpoint.empty()) {
        refuse(400, MICRO_INVALID_ARGUMENT,
               "missing header Micro-Endpoint (the endpoint to call, e.g. Greeter.Hello)",
               !keepAlive);
        return;
    }
    std::uint64_t timeoutMs = 0;
    if (!timeout.empty() && !parseU64(timeout, timeoutMs)) {
        refuse(400, MICRO_INVALID_ARGUMENT,
               "header Micro-Timeout must be a whole number of milliseconds, got '" +
                   printableText(timeout) + "'",
               !keepAlive);
        return;
    }
    if (!announce()) return;
    const std::uint64_t id = nextId_++;
    const std::string idText = decimal(id);
    {
        Pending p;
        p.id = id;
        p.clientId =
            clientId.empty() || !mapping::isFieldValue(clientId) ? idText : std::string(clientId);
        p.keepAlive = keepAlive;
        if (!keepAlive) p.closeReason = "the client asked to close the connection";
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(p));
        pendingChanged();
    }
    // The request frame the core's RPC server expects (core/src/rpc/
    // protocol.hpp); other headers are call metadata, lowercased.
    headers_.clear();
    auto add = [&](std::string_view k, std::string_view v) {
        headers_.push_back(micro_kv{abi::str(k), abi::str(v)});
    };
    add(mapping::kKind, "q");
    add(mapping::kId, idText);
    if (!service.empty()) add(mapping::kService, service);
    add(mapping::kEndpoint, endpoint);
    if (!timeout.empty()) add(mapping::kTimeout, timeout);
    if (!contentType.empty()) add(mapping::kContentType, contentType);
    for (const ParsedRequest::Field& f : request.fields()) {
        if (mappingField(f.name) != nullptr || mapping::isConnectionHeader(f.name)) continue;
        add(f.name, f.value);
    }
    if (events_.on_message != nullptr) {
        const micro_transport_message m{sizeof(micro_transport_message), headers_.data(),
                                        headers_.size(), abi::bytes(request.body()), 0};
        events_.on_message(events_.ctx, &m);
    }
}

void HttpConnection::upgrade(const ParsedRequest& request) {
    const std::string_view target = request.target();
    if (target.substr(0, target.find('?')) != "/") {
        refuse(404, MICRO_NOT_FOUND,
               "no such path '" + printableText(target) + "': WebSocket upgrades are GET /", true);
        return;
    }
    if (request.find("sec-websocket-version") != "13") {
        refuse(400, MICRO_INVALID_ARGUMENT, "WebSocket upgrade without Sec-WebSocket-Version: 13",
               true);
        return;
    }
    const std::string_view key = request.find("sec-websocket-key");
    if (key.empty() || !mapping::isFieldValue(key)) {
        refuse(400, MICRO_INVALID_ARGUMENT, "WebSocket upgrade without Sec-WebSocket-Key", true);
        return;
    }
    {
        std::unique_lock lock(mutex_);
        if (!pending_.empty()) {
            lock.unlock();
            refuse(400, MICRO_INVALID_ARGUMENT,
                   "a WebSocket upgrade must not be pipelined behind unanswered requests", true);
            return;
        }
        const std::string answer =
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: " +
            ws::acceptKey(key) + "\r\n\r\n";
        std::memcpy(out_.append(answer.size()), answer.data(), answer.size());
        // From here every send is a WebSocket message, so what the accept
        // handler sends leaves after the 101.
        wsMode_ = true;
        scheduleFlush(lock);
    }
    stopRequests_ = false;
    phase_ = Phase::kWebSocket;
    announce();
}

void HttpConnection::processWs() {
    const std::uint8_t* data = in_.data();
    const std::size_t have = in_.size();
    std::size_t at = 0;
    bool completed = false;
    needed_ = 0;
    while (state_.load(std::memory_order_relaxed) == State::kOpen) {
        ws::Head h;
        if (!ws::readHead(data + at, have - at, h)) break;
        if (h.rsv != 0) {
            wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                   "WebSocket frame with reserved bits set (no extension was negotiated)");
            return;
        }
        if (h.masked == client_) {
            wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                   client_ ? "masked WebSocket frame from the server"
                           : "unmasked WebSocket frame from a client");
            return;
        }
        const bool control = (h.opcode & 0x8) != 0;
        if (control) {
            if (h.opcode != ws::kClose && h.opcode != ws::kPing && h.opcode != ws::kPong) {
                wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                       "unknown WebSocket opcode " + std::to_string(h.opcode));
                return;
            }
            if (!h.fin || h.length > 125) {
                wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                       "WebSocket control frame fragmented or over 125 bytes");
                return;
            }
        } else {
            if (h.opcode == ws::kText) {
                wsFail(ws::kCloseUnsupportedData, MICRO_INVALID_ARGUMENT,
                       "text WebSocket messages are not accepted: send binary messages");
                return;
            }
            if (h.opcode != ws::kBinary && h.opcode != ws::kContinuation) {
                wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                       "unknown WebSocket opcode " + std::to_string(h.opcode));
                return;
            }
            if ((h.opcode == ws::kContinuation) != wsInMessage_) {
                wsFail(ws::kCloseProtocolError, MICRO_INVALID_ARGUMENT,
                       wsInMessage_ ? "new WebSocket message before the last one ended"
                                    : "WebSocket continuation frame without a message");
                return;
            }
            const std::size_t sofar = wsMessage_.size();
            if (h.length > settings_.maxBodyBytes || sofar + h.length > settings_.maxBodyBytes) {
                wsFail(ws::kCloseTooBig, MICRO_INVALID_ARGUMENT,
                       "WebSocket message of " + std::to_string(sofar + h.length) +
                           " bytes exceeds max_body_bytes (" +
                           std::to_string(settings_.maxBodyBytes) + ")");
                return;
            }
        }
        const std::size_t size = h.headerBytes + static_cast<std::size_t>(h.length);
        if (have - at < size) {
            needed_ = size;
            break;
        }
        std::uint8_t* payload = in_.data() + at + h.headerBytes;
        const std::size_t length = static_cast<std::size_t>(h.length);
        if (h.masked) ws::applyMask(payload, length, h.mask);
        at += size;
        completed = true;
        if (h.opcode == ws::kPing) {
            std::unique_lock lock(mutex_);
            queueFrame(ws::kPong, payload, length);
            scheduleFlush(lock);
        } else if (h.opcode == ws::kClose) {
            std::uint16_t code = ws::kCloseNormal;
            std::string_view why;
            if (length >= 2) {
                code = static_cast<std::uint16_t>(payload[0] << 8 | payload[1]);
                why = std::string_view(reinterpret_cast<const char*>(payload + 2), length - 2);
            }
            bool answered = false;
            {
                std::unique_lock lock(mutex_);
                answered = wsCloseSent_;
                if (!wsCloseSent_) {
                    wsCloseSent_ = true;
                    const std::string echo = ws::closePayload(code, {});
                    queueFrame(ws::kClose, reinterpret_cast<const std::uint8_t*>(echo.data()),
                               echo.size());
                }
                state_ = State::kClosing;
                if (closeReason_.empty()) closeReason_ = "connection closed by peer";
                scheduleFlush(lock);
            }
            in_.clear();
            needed_ = 0;
            if (answered) return;  // our own close is completing
            if (code == ws::kCloseNormal || code == ws::kCloseGoingAway) {
                beginClose(MICRO_OK, "peer closed");
            } else {
                beginClose(MICRO_UNAVAILABLE, "peer closed the WebSocket with code " +
                                                  std::to_string(code) + ": " + printableText(why));
            }
            return;
        } else if (h.opcode == ws::kBinary || h.opcode == ws::kContinuation) {
            if (h.fin && !wsInMessage_) {
                deliverWs(payload, length);
            } else {
                std::memcpy(wsMessage_.append(length), payload, length);
                wsInMessage_ = !h.fin;
                if (h.fin) {
                    deliverWs(wsMessage_.data(), wsMessage_.size());
                    wsMessage_.clear();
                    wsMessage_.release(kKeepBuffer);
                }
            }
        }
        if (state_.load(std::memory_order_relaxed) != State::kOpen) {
            in_.clear();
            needed_ = 0;
            return;
        }
    }
    if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
    in_.consume(at);
    if (in_.empty()) {
        phase_ = Phase::kWebSocket;
        return;
    }
    // Part of a frame is waiting: the clock runs from its first byte.
    if (completed || phase_ != Phase::kBody) {
        phase_ = Phase::kBody;
        phaseStart_ = eventAt_;
    }
}

void HttpConnection::deliverWs(const std::uint8_t* payload, std::size_t size) {
    std::string why;
    micro_bytes body{};
    if (!envelope::parse(payload, size, headers_, body, why)) {
        wsFail(ws::kCloseInvalidPayload, MICRO_INVALID_ARGUMENT, why);
        return;
    }
    if (events_.on_message != nullptr) {
        const micro_transport_message m{sizeof(micro_transport_message), headers_.data(),
                                        headers_.size(), body, 0};
        events_.on_message(events_.ctx, &m);
    }
}

void HttpConnection::wsFail(std::uint16_t wsCode, micro_code code, const std::string& reason) {
    {
        std::unique_lock lock(mutex_);
        if (state_.load(std::memory_order_relaxed) == State::kClosed) return;
        state_ = State::kClosing;
        if (closeReason_.empty()) closeReason_ = "connection closed: " + reason;
        if (!wsCloseSent_) {
            wsCloseSent_ = true;
            const std::string payload = ws::closePayload(wsCode, reason);
            queueFrame(ws::kClose, reinterpret_cast<const std::uint8_t*>(payload.data()),
                       payload.size());
        }
        scheduleFlush(lock);
    }
    in_.clear();
    needed_ = 0;
    beginClose(code, reason);
}

void HttpConnection::updateDeadline() {
    if (state_.load(std::memory_order_relaxed) != State::kOpen) {
        setDeadline(Clock::time_point::max());
        return;
    }
    switch (phase_) {
        case Phase::kHeader:
            setDeadline(phaseStart_ + settings_.headerTimeout);
            break;
        case Phase::kBody:
            setDeadline(settings_.bodyTimeout.count() > 0 ? phaseStart_ + settings_.bodyTimeout
                                                          : Clock::time_point::max());
            break;
        case Phase::kIdle:
            if (wsMode_ || settings_.idleTimeout.count() <= 0) {
                setDeadline(Clock::time_point::max());
            } else {
                setDeadline(eventAt_ + settings_.idleTimeout);
            }
            break;
        default:
            setDeadline(Clock::time_point::max());
            break;
    }
}

void HttpConnection::setDeadline(Clock::time_point at) {
    deadline_ = at;
    if (at == Clock::time_point::max()) return;
    if (!timerArmed_) {
        armTimer();
    } else if (at < timerAt_) {
        timer_.cancel();  // its handler re-arms for the earlier deadline
    }
}

void HttpConnection::armTimer() {
    timerArmed_ = true;
    timerAt_ = deadline_;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->onTimer(ec); });
}

void HttpConnection::onTimer(const error_code&) noexcept {
    timerArmed_ = false;
    if (state_.load(std::memory_order_relaxed) != State::kOpen) return;
    if (deadline_ == Clock::time_point::max()) return;
    try {
        if (Clock::now() < deadline_) {
            armTimer();
            return;
        }
        deadline_ = Clock::time_point::max();
        IoWorker::Scope scope(worker_);
        if (wsMode_) {
            wsFail(ws::kClosePolicy, MICRO_DEADLINE_EXCEEDED,
                   "incomplete WebSocket frame: received " + std::to_string(in_.size()) +
                       " bytes in " + ms(settings_.bodyTimeout) + " (body_timeout_ms)");
        } else if (phase_ == Phase::kHeader) {
            refuse(408, MICRO_DEADLINE_EXCEEDED,
                   "request header not complete within " + ms(settings_.headerTimeout) +
                       " (header_timeout_ms)",
                   true);
        } else if (phase_ == Phase::kBody) {
            refuse(408, MICRO_DEADLINE_EXCEEDED,
                   "request body not complete within " + ms(settings_.bodyTimeout) +
                       " (body_timeout_ms)",
                   true);
        } else if (pendingCount() != 0) {
            deadline_ = Clock::now() + settings_.idleTimeout;  // replies still due: not idle
            armTimer();
        } else {
            {
                std::lock_guard lock(mutex_);
                state_ = State::kClosing;
                closeReason_ = "connection closed: idle";
            }
            beginClose(MICRO_OK, "idle for " + ms(settings_.idleTimeout) + " (idle_timeout_ms)");
        }
    } catch (...) {
        fail(MICRO_DEADLINE_EXCEEDED, "timed out");
    }
}

// ---------------------------------------------------------------------------
// Closing

void HttpConnection::onPeerEof() {
    peerEof_ = true;
    if (closeDelivered_) {
        closeSocket();
        return;
    }
    if (closeRequested_) return;
    micro_code code = MICRO_OK;
    std::string why = "peer closed";
    if (parser_ || !in_.empty()) {
        code = MICRO_UNAVAILABLE;
        why = wsMode_ ? "peer closed the connection in the middle of a WebSocket frame"
                      : "peer closed the connection in the middle of a request";
    }
    {
        std::lock_guard lock(mutex_);
        state_ = State::kClosing;
        if (closeReason_.empty()) closeReason_ = "connection closed by peer";
    }
    beginClose(code, std::move(why));
}

void HttpConnection::onCloseBegun() noexcept {
    paused_ = false;
    parser_.reset();
    in_.clear();
    needed_ = 0;
    timer_.cancel();
    deadline_ = Clock::time_point::max();
    if (wsMode_) {
        // An orderly close of our own: tell the peer before the end of the stream.
        std::unique_lock lock(mutex_);
        if (!wsCloseSent_) {
            wsCloseSent_ = true;
            try {
                const std::string payload = ws::closePayload(ws::kCloseNormal, {});
                queueFrame(ws::kClose, reinterpret_cast<const std::uint8_t*>(payload.data()),
                           payload.size());
            } catch (...) {
            }
        }
        if (!flushing_ && !out_.empty()) {
            flushing_ = true;
            lock.unlock();
            try {
                boost::asio::post(worker_.context(),
                                  [self = shared_from_this()] { self->flush(); });
            } catch (...) {
            }
        }
    }
}

void HttpConnection::awaitPeerEof() noexcept {
    if (!readPending_ && state_.load() != State::kClosed) {
        try {
            readSome();  // to see the peer's end of stream
        } catch (...) {
            closeSocket();
        }
    }
}

void HttpConnection::onSocketClosed() noexcept {
    timer_.cancel();
    in_.clear();
    parser_.reset();
}

}  // namespace micro::http
