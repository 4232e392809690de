#include "server.hpp"

#include <micro/abi_view.hpp>
#include <micro/driver/worker_pool.hpp>

#include <fmt/core.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "channel.hpp"
#include "protocol.hpp"
#include "stream_state.hpp"

namespace micro::rpc {

namespace {

using Clock = std::chrono::steady_clock;

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

// The longest a reply may wait for a caller that does not read.
constexpr std::chrono::seconds kReplyWait{10};

ServerHandler compose(const std::vector<ServerMiddleware>& chain, ServerHandler last) {
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        last = [mw = *it, next = std::move(last)](ServerCall& call) { mw(call, next); };
    }
    return last;
}

Clock::time_point deadlineFrom(std::string_view timeoutMs) {
    std::uint64_t ms = 0;
    if (!parseU64(timeoutMs, ms)) return Clock::time_point::max();
    return Clock::now() + std::chrono::milliseconds(ms);
}

Metadata metadataOf(std::span<const micro_kv> headers) {
    Metadata md;
    for (const micro_kv& kv : headers) {
        std::string_view key = abi::view(kv.key);
        if (key.starts_with(':') || key == kContentType) continue;
        md.emplace_back(key, abi::view(kv.value));
    }
    return md;
}

}  // namespace

// One endpoint and what listen() derives from it.
struct Route {
    Endpoint endpoint;
    std::vector<ServerMiddleware> chain;  // this endpoint's middleware, outermost first
    ServerHandler unary;                  // chain and endpoint.unary composed, when unary
};

// One accepted connection.
struct ServerConnection {
    std::shared_ptr<Channel> channel = std::make_shared<Channel>();
    std::mutex mutex;
    std::unordered_map<std::uint64_t, std::shared_ptr<Stream::State>> streams;
};

struct Server::Shared : std::enable_shared_from_this<Server::Shared> {
    std::string service;
    std::unordered_map<std::string, Route, StringHash, std::equal_to<>> routes;
    std::vector<EndpointMiddleware> middleware;

    // Fixed at construction. With no handler threads there never is a pool
    // (the destructor only takes one away), so inline calls neither lock
    // poolMutex nor read `pool` to find that out: one lock less per call.
    bool inlineHandlers = false;
    std::mutex poolMutex;
    std::unique_ptr<driver::WorkerPool> pool;

    std::atomic<bool> draining{false};
    std::atomic<std::uint64_t> inFlight{0};

    std::mutex connectionsMutex;
    std::vector<std::weak_ptr<ServerConnection>> connections;

    std::mutex streamThreadsMutex;
    std::condition_variable streamThreadsDone;
    std::size_t streamThreads = 0;

    void sendError(const std::shared_ptr<Channel>& channel, std::uint64_t id, Code code,
                   std::string_view detail, bool notProcessed = false,
                   SendTiming timing = SendTiming::kNow) {
        Decimal idText(id);
        Decimal codeText(static_cast<std::uint64_t>(code));
        std::string body = errorJson(service, code, detail);
        std::string_view shortDetail = detail.substr(0, 1024);
        Header headers[6] = {{kKind, "x"},
                             {kId, idText.view()},
                             {kCode, codeText.view()},
                             {kDetail, shortDetail},
                             {kContentType, "application/json"},
                             {kNotProcessed, "1"}};
        try {
            channel->send(std::span<const Header>(headers, notProcessed ? 6 : 5), body,
                          Clock::time_point::max(), kReplyWait, timing);
        } catch (const Error&) {
            // The caller is gone or not reading; nobody is left to tell.
            channel->close();
        }
    }

    void sendReply(const std::shared_ptr<Channel>& channel, std::uint64_t id, ServerCall& call,
                   SendTiming timing) {
        Decimal idText(id);
        std::string_view contentType =
            call.responseContentType.empty() ? call.contentType : call.responseContentType;
        constexpr std::size_t kInline = 8;
        Header inlineHeaders[kInline];
        std::vector<Header> heap;
        std::size_t n = 3 + call.responseMetadata.size();
        Header* h = inlineHeaders;
        if (n > kInline) {
            heap.resize(n);
            h = heap.data();
        }
        h[0] = {kKind, "r"};
        h[1] = {kId, idText.view()};
        h[2] = {kContentType, contentType};
        for (std::size_t i = 0; i < call.responseMetadata.size(); ++i) {
            h[3 + i] = {call.responseMetadata[i].first, call.responseMetadata[i].second};
        }
        try {
            // kReplyWait counts from the first full send: a reply that goes
            // out at once reads no clock.
            channel->send(std::span<const Header>(h, n), call.response, call.deadline, kReplyWait,
                          timing);
        } catch (const Error&) {
            // The caller stopped reading its replies: drop the connection
            // rather than hold the reply (and this thread) without bound.
            channel->close();
        }
    }

    // Run one unary call: middleware, handler, reply. Never throws.
    // `pool`: the pool running it, if any. While the pool has calls queued
    // or other calls are in flight, more replies follow shortly, and the
    // transport may write them together (SendTiming::kMoreFollows): from a
    // worker thread, a reply written on its own costs a system call each.
    void runUnary(const std::shared_ptr<Channel>& channel, std::uint64_t id,
                  const ServerHandler& handler, ServerCall& call,
                  const driver::WorkerPool* pool = nullptr) {
        const auto timing = [this, pool] {
            return pool != nullptr && (pool->queued() > 0 ||
                                       inFlight.load(std::memory_order_relaxed) > 1)
                       ? SendTiming::kMoreFollows
                       : SendTiming::kNow;
        };
        try {
            // No deadline, no clock to read.
            if (call.deadline != Clock::time_point::max() && call.expired()) {
                throw Error(Code::kDeadlineExceeded, "deadline passed before the handler ran");
            }
            handler(call);
            sendReply(channel, id, call, timing());
        } catch (const Error& e) {
            sendError(channel, id, e.code(), e.what(), false, timing());
        } catch (const std::bad_alloc&) {
            sendError(channel, id, Code::kResourceExhausted, "out of memory", false, timing());
        } catch (const std::exception& e) {
            sendError(channel, id, Code::kInternal, e.what(), false, timing());
        } catch (...) {
            sendError(channel, id, Code::kInternal, "unknown exception", false, timing());
        }
        inFlight.fetch_sub(1, std::memory_order_acq_rel);
    }

    void onRequest(const std::shared_ptr<ServerConnection>& conn, const FrameHeaders& f,
                   const TransportMessageView& m) {
        const std::shared_ptr<Channel>& channel = conn->channel;
        if (draining.load(std::memory_order_acquire)) {
            sendError(channel, f.id, Code::kUnavailable, service + " is shutting down", true);
            return;
        }
        if (!f.service.empty() && f.service != service) {
            sendError(channel, f.id, Code::kNotFound,
                      fmt::format("this node serves '{}', not '{}'", service, f.service), true);
            return;
        }
        auto route = routes.find(f.endpoint);
        if (route == routes.end()) {
            sendError(channel, f.id, Code::kNotFound,
                      fmt::format("{}: unknown endpoint '{}'", service, f.endpoint), true);
            return;
        }
        inFlight.fetch_add(1, std::memory_order_acq_rel);
        const Endpoint& endpoint = route->second.endpoint;
        bool streaming = f.streaming == "1";
        if (streaming != static_cast<bool>(endpoint.streaming)) {
            inFlight.fetch_sub(1, std::memory_order_acq_rel);
            sendError(channel, f.id, Code::kInvalidArgument,
                      fmt::format("{}: endpoint '{}' is {}", service, f.endpoint,
                                  streaming ? "not a streaming endpoint" : "a streaming endpoint"),
                      true);
            return;
        }
        if (streaming) {
            startStream(conn, f, m, route->second);
            return;
        }
        const ServerHandler& handler = route->second.unary;
        bool runInline = inlineHandlers || endpoint.nonBlocking;
        std::unique_lock<std::mutex> poolLock;
        if (!runInline) {
            poolLock = std::unique_lock(poolMutex);
            runInline = !pool;  // the destructor took it: run what still comes inline
            if (runInline) poolLock.unlock();
        }
        if (runInline) {
            // Inline: the views into the transport's buffer stay valid for
            // the whole call, so nothing is copied.
            ServerCall call{service, route->first, f.contentType, m.body, metadataOf(m.headers),
                            deadlineFrom(f.timeout), {}, {}, {}, {}};
            runUnary(channel, f.id, handler, call);
            return;
        }
        // Pooled: copy what the transport only lends for this callback.
        struct Task {
            std::string contentType, body;
            Metadata metadata;
            Clock::time_point deadline;
        };
        auto task = std::make_shared<Task>(Task{std::string(f.contentType), std::string(m.body),
                                                metadataOf(m.headers), deadlineFrom(f.timeout)});
        std::uint64_t id = f.id;
        std::string_view name = route->first;
        // The pool outlives its tasks: its destructor runs what is queued.
        const driver::WorkerPool* runner = pool.get();
        pool->post([this, channel, id, name, task, &handler, runner] {
            ServerCall call{service, name, task->contentType, task->body, std::move(task->metadata),
                            task->deadline, {}, {}, {}, {}};
            runUnary(channel, id, handler, call, runner);
        });
    }

    void startStream(const std::shared_ptr<ServerConnection>& conn, const FrameHeaders& f,
                     const TransportMessageView& m, const Route& route) {
        const Endpoint& endpoint = route.endpoint;
        auto state = std::make_shared<Stream::State>();
        state->channel = conn->channel;
        state->id = f.id;
        state->clientSide = false;
        state->deadline = deadlineFrom(f.timeout);
        std::uint64_t id = f.id;
        std::weak_ptr<ServerConnection> weak = conn;
        state->release = [weak, id] {
            if (auto c = weak.lock()) {
                std::lock_guard lock(c->mutex);
                c->streams.erase(id);
            }
        };
        {
            std::lock_guard lock(conn->mutex);
            conn->streams[id] = state;
        }
        auto call = std::make_shared<ServerCall>(ServerCall{service, endpoint.name, {}, {},
                                                            metadataOf(m.headers), state->deadline,
                                                            {}, {}, {}, {}});
        auto contentType = std::make_shared<std::string>(f.contentType);
        call->contentType = *contentType;
        {
            std::lock_guard lock(streamThreadsMutex);
            ++streamThreads;
        }
        auto self = shared_from_this();
        // `route` lives as long as `self`: routes are fixed once listening.
        std::thread([self, state, call, contentType, &route] {
            Stream stream(state);
            ServerHandler last = [&](ServerCall& c) { route.endpoint.streaming(c, stream); };
            try {
                compose(route.chain, last)(*call);
                Decimal idText(state->id);
                Header headers[2] = {{kKind, "r"}, {kId, idText.view()}};
                state->channel->send(headers, {});
            } catch (const Error& e) {
                self->sendError(state->channel, state->id, e.code(), e.what());
            } catch (const std::exception& e) {
                self->sendError(state->channel, state->id, Code::kInternal, e.what());
            } catch (...) {
                self->sendError(state->channel, state->id, Code::kInternal, "unknown exception");
            }
            state->finish();
            self->inFlight.fetch_sub(1, std::memory_order_acq_rel);
            std::lock_guard lock(self->streamThreadsMutex);
            if (--self->streamThreads == 0) self->streamThreadsDone.notify_all();
        }).detach();
    }

    void onFrame(const std::shared_ptr<ServerConnection>& conn, const TransportMessageView& m) {
        FrameHeaders f = FrameHeaders::parse(m.headers);
        if (!f.hasId) {
            // Not our protocol: refuse the connection rather than guess.
            conn->channel->close();
            return;
        }
        if (f.kind == kRequest) {
            onRequest(conn, f, m);
            return;
        }
        std::shared_ptr<Stream::State> state;
        {
            std::lock_guard lock(conn->mutex);
            auto it = conn->streams.find(f.id);
            if (it != conn->streams.end()) state = it->second;
        }
        if (state) state->onFrame(f, m.body);
        // A frame for an unknown or finished call (late credit, a cancel of a
        // finished unary call) is dropped.
    }

    ConnectionHandlers accept(std::shared_ptr<Connection> connection) {
        auto conn = std::make_shared<ServerConnection>();
        conn->channel->attach(std::move(connection));
        {
            std::lock_guard lock(connectionsMutex);
            std::erase_if(connections, [](const auto& w) { return w.expired(); });
            connections.push_back(conn);
        }
        auto self = shared_from_this();
        ConnectionHandlers h;
        h.onMessage = [self, conn](const TransportMessageView& m) {
            Channel::InCallback inCallback;
            self->onFrame(conn, m);
        };
        h.onWritable = [conn] { conn->channel->onWritable(); };
        h.onClose = [conn](Code, std::string_view reason) {
            conn->channel->onClosed();
            std::vector<std::shared_ptr<Stream::State>> streams;
            {
                std::lock_guard lock(conn->mutex);
                for (auto& [id, s] : conn->streams) streams.push_back(s);
            }
            for (auto& s : streams) {
                s->fail(Code::kUnavailable, fmt::format("connection closed: {}", reason));
            }
        };
        return h;
    }
};

Server::Server(Transport& transport, std::string serviceName, ServerOptions options)
    : shared_(std::make_shared<Shared>()) {
    shared_->service = std::move(serviceName);
    shared_->inlineHandlers = options.handlerThreads == 0;
    if (!shared_->inlineHandlers) {
        shared_->pool = std::make_unique<driver::WorkerPool>(options.handlerThreads);
    }
    transport_ = &transport;
}

Server::~Server() {
    listener_.stop();
    std::vector<std::shared_ptr<ServerConnection>> open;
    {
        std::lock_guard lock(shared_->connectionsMutex);
        for (auto& w : shared_->connections) {
            if (auto c = w.lock()) open.push_back(std::move(c));
        }
    }
    for (auto& c : open) c->channel->close();
    std::unique_ptr<driver::WorkerPool> pool;
    {
        std::lock_guard lock(shared_->poolMutex);
        pool = std::move(shared_->pool);
    }
    pool.reset();  // runs what is queued, then joins
    std::unique_lock lock(shared_->streamThreadsMutex);
    shared_->streamThreadsDone.wait_for(lock, std::chrono::seconds(10),
                                        [&] { return shared_->streamThreads == 0; });
}

void Server::add(Endpoint endpoint) {
    std::string name = endpoint.name;
    shared_->routes.insert_or_assign(std::move(name), Route{std::move(endpoint), {}, {}});
}

void Server::use(ServerMiddleware middleware) {
    shared_->middleware.push_back(
        [middleware = std::move(middleware)](std::string_view) { return middleware; });
}

void Server::usePerEndpoint(EndpointMiddleware make) {
    shared_->middleware.push_back(std::move(make));
}

std::string Server::listen(std::string_view address) {
    for (auto& [name, route] : shared_->routes) {
        route.chain.clear();
        for (const EndpointMiddleware& make : shared_->middleware) route.chain.push_back(make(name));
        if (route.endpoint.unary) route.unary = compose(route.chain, route.endpoint.unary);
    }
    std::weak_ptr<Shared> weak = shared_;
    listener_ = transport_->listen(address, [weak](std::shared_ptr<Connection> c) {
        auto shared = weak.lock();
        if (!shared) throw Error(Code::kUnavailable, "server stopped");
        return shared->accept(std::move(c));
    });
    return listener_.address();
}

void Server::stopAccepting() { listener_.stop(); }

bool Server::drain(std::chrono::milliseconds grace) {
    shared_->draining.store(true, std::memory_order_release);
    auto until = Clock::now() + grace;
    while (shared_->inFlight.load(std::memory_order_acquire) > 0) {
        if (Clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

std::uint64_t Server::inFlight() const noexcept {
    return shared_->inFlight.load(std::memory_order_acquire);
}

}  // namespace micro::rpc
