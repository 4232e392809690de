#include "direct_broker.hpp"

#include <micro/driver/text.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "wire.hpp"

namespace micro::direct {

using Clock = std::chrono::steady_clock;

namespace {

std::int64_t configRange(const driver::Config& config, std::string_view key, std::int64_t fallback,
                         std::int64_t min, std::int64_t max) {
    std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > max) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be between " +
                                                std::to_string(min) + " and " +
                                                std::to_string(max) + ", got " + std::to_string(v));
    }
    return v;
}

std::string makeNodeId() {
    std::random_device device;
    std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device() ^
                        static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "broker-";
    std::uint64_t bits = rng();
    for (int i = 0; i < 16; ++i, bits >>= 4) id.push_back(kHex[bits & 15]);
    return id;
}

/// One asynchronous registry call waited for with a deadline. Heap-held and
/// kept alive by its own completion, so giving up on a slow registry never
/// leaves the registry a dangling context.
struct RegistryCall {
    std::mutex mutex;
    std::condition_variable cv;
    bool finished = false;
    micro_code code = MICRO_OK;
    std::string message;
    std::vector<std::pair<std::string, std::string>> nodes;  // lookup: (node, record)
    std::shared_ptr<RegistryCall> keep;

    static std::shared_ptr<RegistryCall> make() {
        auto call = std::make_shared<RegistryCall>();
        call->keep = call;
        return call;
    }
    micro_done done() noexcept { return micro_done{this, &RegistryCall::onDone}; }
    micro_node_sink sink() noexcept { return micro_node_sink{this, &RegistryCall::onNode}; }

    static void onDone(void* ctx, micro_code code, micro_str message, std::uint64_t) {
        auto* self = static_cast<RegistryCall*>(ctx);
        std::shared_ptr<RegistryCall> keep;
        {
            std::lock_guard lock(self->mutex);
            self->code = code;
            self->message.assign(message.data, message.size);
            self->finished = true;
            keep = std::move(self->keep);
        }
        self->cv.notify_all();
    }
    static void onNode(void* ctx, const micro_registry_node* node) {
        auto* self = static_cast<RegistryCall*>(ctx);
        std::lock_guard lock(self->mutex);
        self->nodes.emplace_back(std::string(abi::view(node->node)),
                                 std::string(abi::view(node->record)));
    }
    /// The call's code, or DEADLINE_EXCEEDED after `timeout`.
    micro_code wait(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, timeout, [&] { return finished; })) {
            message =
                "no answer from the registry within " + std::to_string(timeout.count()) + " ms";
            return MICRO_DEADLINE_EXCEEDED;
        }
        return code;
    }
};

}  // namespace

// ---------------------------------------------------------------------------
// One publish in flight: counts the nodes' answers and completes once.

struct DirectBroker::Publish {
    std::mutex mutex;
    driver::Done done;
    std::string topic;
    Clock::time_point deadline;
    std::chrono::milliseconds timeout;
    std::atomic<bool> finished{false};
    int outstanding = 1;  // the publisher's own guard, released when it has sent everything
    std::uint64_t delivered = 0;
    int unreachable = 0;
    int notFound = 0;
    int full = 0;
    micro_code failedCode = MICRO_OK;
    std::string problem;  // the first reason a node did not take the message

    Publish(driver::Done&& d, std::string_view t, std::chrono::milliseconds limit)
        : done(std::move(d)), topic(t), deadline(Clock::now() + limit), timeout(limit) {}

    void begin() {
        std::lock_guard lock(mutex);
        ++outstanding;
    }
    void release() {
        std::unique_lock lock(mutex);
        settle(lock);
    }
    void nodeUnreachable(std::string reason) {
        std::unique_lock lock(mutex);
        ++unreachable;
        note(std::move(reason));
        settle(lock);
    }
    void reply(micro_code code, std::uint64_t n, std::string_view message) {
        std::unique_lock lock(mutex);
        delivered += n;
        if (code == MICRO_OK && n > 0) {
        } else if (code == MICRO_OK || code == MICRO_NOT_FOUND) {
            ++notFound;
        } else if (code == MICRO_RESOURCE_EXHAUSTED) {
            ++full;
            note(std::string(message));
        } else if (code == MICRO_UNAVAILABLE) {
            ++unreachable;
            note(std::string(message));
        } else {
            if (failedCode == MICRO_OK) failedCode = code;
            note(std::string(message));
        }
        settle(lock);
    }
    /// Complete now if the deadline passed; true once finished.
    bool expire(Clock::time_point now) {
        std::unique_lock lock(mutex);
        if (finished) return true;
        if (now < deadline) return false;
        finish(lock, true);
        return true;
    }

 private:
    void note(std::string reason) {
        if (problem.empty()) problem = std::move(reason);
    }
    void settle(std::unique_lock<std::mutex>& lock) {
        if (--outstanding == 0 && !finished) finish(lock, false);
    }
    void finish(std::unique_lock<std::mutex>& lock, bool timedOut) {
        finished = true;
        driver::Done d(std::move(done));
        const std::string quoted = "'" + driver::printable(topic) + "'";
        Code code = Code::kOk;
        std::string message;
        if (delivered > 0) {
            code = Code::kOk;
        } else if (timedOut) {
            code = Code::kUnavailable;
            message = "no subscriber of topic " + quoted + " answered within " +
                      std::to_string(timeout.count()) + " ms (timeout_ms)";
            if (!problem.empty()) message += "; " + problem;
        } else if (unreachable > 0) {
            code = Code::kUnavailable;
            message =
                "subscribers of topic " + quoted + " exist but none could be reached: " + problem;
        } else if (full > 0) {
            code = Code::kResourceExhausted;
            message = problem;
        } else if (failedCode != MICRO_OK) {
            code = static_cast<Code>(failedCode);
            message = problem;
        } else {
            code = Code::kNotFound;
            message = "no subscriber for topic " + quoted;
        }
        lock.unlock();
        if (code == Code::kOk) {
            d.ok();
        } else {
            d.fail(code, message);
        }
    }
};

// ---------------------------------------------------------------------------
// An outgoing connection to one node. Alive until the transport reports
// on_close (it holds itself), so a late event never touches freed memory.

struct DirectBroker::Link {
    DirectBroker* owner = nullptr;
    std::string node;
    std::string address;
    std::mutex mutex;  // guards everything below; held across transport send/close
    void* connection = nullptr;
    bool closed = false;
    std::unordered_map<std::uint64_t, std::weak_ptr<Publish>> pending;
    std::shared_ptr<Link> self;

    bool open() {
        std::lock_guard lock(mutex);
        return !closed && connection != nullptr;
    }

    /// Queue one request; false (and `error`) when the connection is gone or
    /// refuses it.
    bool send(std::uint64_t id, const std::shared_ptr<Publish>& publish,
              const micro_transport_message& message, std::string& error) {
        std::lock_guard lock(mutex);
        if (closed || connection == nullptr) {
            error = "the connection to " + address + " is closed";
            return false;
        }
        pending.emplace(id, publish);
        micro_error err{};
        // The lock is held across send: the transport never calls on_close
        // from inside send, and the handle stays valid until on_close.
        micro_code code =
            owner->transport_->send(owner->transportSelf_, connection, &message, &err);
        if (code != MICRO_OK) {
            pending.erase(id);
            error = "sending to " + address + " failed: " + err.message;
            return false;
        }
        return true;
    }

    void close() {
        std::lock_guard lock(mutex);
        if (!closed && connection != nullptr)
            owner->transport_->close(owner->transportSelf_, connection);
    }

    static void onMessage(void* ctx, const micro_transport_message* message) {
        auto* link = static_cast<Link*>(ctx);
        auto reply = wire::parseReply(*message);
        std::shared_ptr<Publish> publish;
        {
            std::lock_guard lock(link->mutex);
            if (!reply) {
                // Not our protocol: this peer cannot be trusted with more requests.
                if (!link->closed && link->connection != nullptr) {
                    link->owner->transport_->close(link->owner->transportSelf_, link->connection);
                }
                return;
            }
            auto it = link->pending.find(reply->id);
            if (it == link->pending.end()) return;  // answered after its publish timed out
            publish = it->second.lock();
            link->pending.erase(it);
        }
        if (publish) publish->reply(reply->code, reply->delivered, reply->message);
    }

    static void onWritable(void*) {}

    static void onClose(void* ctx, micro_code, micro_str reason) {
        auto* link = static_cast<Link*>(ctx);
        std::shared_ptr<Link> keep;
        std::unordered_map<std::uint64_t, std::weak_ptr<Publish>> orphans;
        DirectBroker* owner = link->owner;
        {
            std::lock_guard lock(link->mutex);
            link->closed = true;
            orphans.swap(link->pending);
            keep = std::move(link->self);
        }
        const std::string why = "connection to node " + link->node + " at " + link->address +
                                " closed: " + std::string(abi::view(reason));
        for (auto& [id, weak] : orphans) {
            if (auto publish = weak.lock()) publish->nodeUnreachable(why);
        }
        owner->connectionClosed();  // last use of owner
    }
};

struct DirectBroker::Peer {
    std::mutex dialMutex;  // one dial at a time per node
    std::shared_ptr<Link> link;
};

// ---------------------------------------------------------------------------
// An accepted connection: requests in, replies out.

struct DirectBroker::Inbound {
    DirectBroker* owner = nullptr;
    void* connection = nullptr;

    static void onMessage(void* ctx, const micro_transport_message* message) {
        auto* inbound = static_cast<Inbound*>(ctx);
        inbound->owner->onRequest(*inbound, *message);
    }
    static void onWritable(void*) {}
    static void onClose(void* ctx, micro_code, micro_str) {
        auto* inbound = static_cast<Inbound*>(ctx);
        DirectBroker* owner = inbound->owner;
        {
            std::lock_guard lock(owner->connMutex_);
            owner->inbound_.erase(inbound);  // frees *inbound
            --owner->liveConnections_;
            owner->connCv_.notify_all();  // under the lock: owner may be gone once it is released
        }
    }
};

// ---------------------------------------------------------------------------

DirectBroker::DirectBroker(const driver::Context& ctx)
    : host_(ctx.host), instance_(ctx.instanceName) {
    ctx.config.allowOnly(
        {"address", "registry_service", "ttl_ms", "timeout_ms", "delivery_threads", "max_pending"});
    address_ = ctx.config.getString("address", "127.0.0.1:0");
    if (address_.empty()) throw Error(Code::kInvalidArgument, "key 'address': must not be empty");
    service_ = ctx.config.getString("registry_service", "micro.broker");
    if (service_.empty()) {
        throw Error(Code::kInvalidArgument, "key 'registry_service': must not be empty");
    }
    ttl_ = std::chrono::milliseconds(configRange(ctx.config, "ttl_ms", 30000, 300, 86400000));
    timeout_ = std::chrono::milliseconds(configRange(ctx.config, "timeout_ms", 5000, 1, 3600000));
    auto threads = configRange(ctx.config, "delivery_threads", 2, 1, 64);
    auto maxPending = configRange(ctx.config, "max_pending", 65536, 1, 1 << 24);

    const micro_host_registry* registry = nullptr;
    const micro_host_transport* transport = nullptr;
    if (host_ != nullptr && MICRO_HAS(host_, micro_host, get_extension) &&
        host_->get_extension != nullptr) {
        registry = static_cast<const micro_host_registry*>(
            host_->get_extension(host_, MICRO_HOST_REGISTRY_EXTENSION));
        transport = static_cast<const micro_host_transport*>(
            host_->get_extension(host_, MICRO_HOST_TRANSPORT_EXTENSION));
    }
    if (registry == nullptr || transport == nullptr || registry->driver == nullptr ||
        transport->driver == nullptr) {
        throw Error(Code::kFailedPrecondition,
                    "the direct broker needs a [registry] and a [transport] slot in the manifest "
                    "(it finds subscribers through the registry and reaches them over the "
                    "transport); missing: " +
                        std::string(registry == nullptr || registry->driver == nullptr
                                        ? (transport == nullptr || transport->driver == nullptr
                                               ? "[registry], [transport]"
                                               : "[registry]")
                                        : "[transport]"));
    }
    registry_ = registry->driver;
    registrySelf_ = registry->self;
    transport_ = transport->driver;
    transportSelf_ = transport->self;
    transportName_ = std::string(abi::view(transport->name));
    nodeId_ = makeNodeId();
    index_ = std::make_shared<const Index>();
    subs_ = std::make_unique<LocalSubscriptions>(static_cast<std::size_t>(threads),
                                                 static_cast<std::size_t>(maxPending));
    maintenance_ = std::jthread([this](std::stop_token stop) { maintain(stop); });
}

DirectBroker::~DirectBroker() {
    maintenance_.request_stop();
    maintenance_.join();

    void* watch = nullptr;
    {
        std::lock_guard lock(indexMutex_);
        watch = std::exchange(watch_, nullptr);
    }
    if (watch != nullptr) registry_->unwatch(registrySelf_, watch);

    {
        std::lock_guard lock(listenMutex_);
        if (listener_ != nullptr)
            transport_->unlisten(transportSelf_, std::exchange(listener_, nullptr));
    }
    {
        std::lock_guard lock(registerMutex_);
        if (registered_) {
            auto call = RegistryCall::make();
            registry_->deregister_node(registrySelf_, abi::str(service_), abi::str(nodeId_),
                                       call->done());
            (void)call->wait(timeout_);
            registered_ = false;
        }
    }

    // Close every connection and wait for each on_close: after that no
    // transport callback can reach this object.
    std::vector<std::shared_ptr<Link>> links;
    {
        std::lock_guard lock(peersMutex_);
        for (auto& [node, peer] : peers_) {
            std::lock_guard dial(peer->dialMutex);
            if (peer->link) links.push_back(peer->link);
        }
    }
    for (auto& link : links) link->close();
    {
        std::unique_lock lock(connMutex_);
        stopping_ = true;
        for (auto& [ptr, inbound] : inbound_)
            transport_->close(transportSelf_, inbound->connection);
        connCv_.wait(lock, [&] { return liveConnections_ == 0; });
    }
    // Publishes still waiting lost their nodes with the connections above;
    // any left (none in practice) end here rather than never.
    std::vector<std::shared_ptr<Publish>> pending;
    {
        std::lock_guard lock(timerMutex_);
        pending.swap(pending_);
    }
    for (auto& p : pending) p->expire(Clock::time_point::max());
    subs_.reset();  // joins the delivery workers
}

// ---------------------------------------------------------------------------
// Subscribe side

void DirectBroker::ensureListening() {
    std::lock_guard lock(listenMutex_);
    if (listener_ != nullptr) return;
    struct Bound {
        static void fn(void* ctx, micro_str value) {
            static_cast<std::string*>(ctx)->assign(value.data, value.size);
        }
    };
    auto accept = [](void* ctx, void* connection, micro_str, micro_connection_events* events) {
        static_cast<DirectBroker*>(ctx)->onAccept(connection, events);
    };
    micro_error err{};
    std::string bound;
    void* listener = nullptr;
    micro_code code =
        transport_->listen(transportSelf_, abi::str(address_), micro_accept_handler{this, accept},
                           micro_str_sink{&bound, &Bound::fn}, &listener, &err);
    if (code != MICRO_OK) {
        throw Error(static_cast<Code>(code), "the direct broker cannot listen on '" +
                                                 driver::printable(address_) +
                                                 "' (key 'address'): " + err.message);
    }
    listener_ = listener;
    bound_ = bound.empty() ? address_ : bound;
    std::string line = "listening on " + bound_ + " as node " + nodeId_ + " of '" + service_ + "'";
    if (host_ != nullptr && host_->log != nullptr) {
        host_->log(host_, MICRO_LOG_DEBUG, abi::str(instance_), abi::str(line));
    }
}

void DirectBroker::syncRegistration() {
    std::lock_guard lock(registerMutex_);
    auto subscriptions = subs_->list();
    if (subscriptions.empty()) {
        if (!registered_) return;
        auto call = RegistryCall::make();
        registry_->deregister_node(registrySelf_, abi::str(service_), abi::str(nodeId_),
                                   call->done());
        micro_code code = call->wait(timeout_);
        registered_ = false;
        if (code != MICRO_OK && code != MICRO_NOT_FOUND) {
            throw Error(static_cast<Code>(code), "the direct broker could not deregister node " +
                                                     nodeId_ + " of '" + service_ +
                                                     "': " + call->message);
        }
        return;
    }
    NodeRecord record{nodeId_, bound_, transportName_, std::move(subscriptions)};
    std::string bytes = encodeRecord(service_, record);
    micro_registry_node node{sizeof(micro_registry_node), abi::str(service_), abi::str(nodeId_),
                             abi::bytes(bytes), ttl_.count()};
    auto call = RegistryCall::make();
    registry_->register_node(registrySelf_, &node, call->done());
    micro_code code = call->wait(timeout_);
    if (code != MICRO_OK) {
        throw Error(static_cast<Code>(code), "the direct broker could not register node " +
                                                 nodeId_ + " of '" + service_ +
                                                 "' in the registry: " + call->message);
    }
    registered_ = true;
}

void* DirectBroker::subscribe(const driver::SubscribeRequest& request,
                              micro_message_handler handler) {
    if (request.topic.empty()) throw Error(Code::kInvalidArgument, "empty topic");
    if (handler.fn == nullptr) throw Error(Code::kInvalidArgument, "no handler function");
    if (request.ackMode != MICRO_ACK_AUTO && request.ackMode != MICRO_ACK_MANUAL) {
        throw Error(Code::kInvalidArgument, "unknown ack mode " + std::to_string(request.ackMode));
    }
    ensureListening();
    void* handle = subs_->add(request.topic, request.group, handler);
    try {
        syncRegistration();
    } catch (...) {
        subs_->remove(handle);
        throw;
    }
    return handle;
}

void DirectBroker::unsubscribe(void* subscription) noexcept {
    if (!subs_->remove(subscription)) return;
    try {
        syncRegistration();
    } catch (const std::exception& e) {
        // The node expires after its TTL; publishers meanwhile get NOT_FOUND
        // from it for this subscription.
        std::string line = e.what();
        if (host_ != nullptr && host_->log != nullptr) {
            host_->log(host_, MICRO_LOG_WARN, abi::str(instance_), abi::str(line));
        }
    }
}

void DirectBroker::ack(void* subscription, std::uint64_t, bool) {
    // At-most-once: a delivery is settled when it is handed to the handler,
    // so there is nothing left to ack or redeliver.
    if (!subs_->contains(subscription)) throw Error(Code::kNotFound, "unknown subscription");
}

void DirectBroker::onAccept(void* connection, micro_connection_events* events) {
    auto inbound = std::make_unique<Inbound>();
    inbound->owner = this;
    inbound->connection = connection;
    *events = micro_connection_events{inbound.get(), &Inbound::onMessage, &Inbound::onWritable,
                                      &Inbound::onClose};
    std::lock_guard lock(connMutex_);
    ++liveConnections_;
    Inbound* raw = inbound.get();
    inbound_.emplace(raw, std::move(inbound));
    if (stopping_) transport_->close(transportSelf_, connection);
}

void DirectBroker::onRequest(Inbound& inbound, const micro_transport_message& message) {
    // Runs on the connection's transport thread: the reply is sent from
    // inside the event, and handlers never run here (they are only queued).
    auto reply = [&](std::uint64_t id, micro_code code, std::uint64_t n, std::string_view text) {
        wire::EncodedReply encoded(id, code, n, text);
        micro_transport_message view = encoded.view();
        micro_error err{};
        (void)transport_->send(transportSelf_, inbound.connection, &view, &err);
    };
    wire::ParsedRequest parsed;
    try {
        parsed = wire::parseRequest(message);
        if (!parsed.request) {
            // A peer that speaks something else: say why, then hang up.
            reply(parsed.id, MICRO_INVALID_ARGUMENT, 0,
                  "malformed broker request: " + parsed.error);
            transport_->close(transportSelf_, inbound.connection);
            return;
        }
        const wire::Request& r = *parsed.request;
        if (r.node != nodeId_) {
            reply(r.id, MICRO_NOT_FOUND, 0,
                  "node " + driver::printable(r.node) + " is not at this address (node " + nodeId_ +
                      " is)");
            return;
        }
        micro_message m{sizeof(micro_message), abi::str(r.topic), r.headers.data(),
                        r.headers.size(), abi::bytes(r.body)};
        auto outcome = subs_->deliver(m, r.plain, r.groups);
        if (outcome.delivered > 0) {
            reply(r.id, MICRO_OK, outcome.delivered, {});
        } else if (outcome.full) {
            reply(r.id, MICRO_RESOURCE_EXHAUSTED, 0,
                  "the subscribers of topic '" + driver::printable(r.topic) + "' on node " +
                      nodeId_ + " have too many messages waiting (max_pending)");
        } else {
            reply(
                r.id, MICRO_NOT_FOUND, 0,
                "no subscriber for topic '" + driver::printable(r.topic) + "' on node " + nodeId_);
        }
    } catch (const std::exception& e) {
        reply(parsed.id, MICRO_RESOURCE_EXHAUSTED, 0, e.what());
    }
}

// ---------------------------------------------------------------------------
// The registry's view of the other nodes

void DirectBroker::rebuildIndexLocked(std::map<std::string, NodeRecord, std::less<>> nodes) {
    auto index = std::make_shared<Index>();
    for (const auto& [id, record] : nodes) {
        std::unordered_map<std::string, Index::Entry> mine;
        for (const auto& [topic, group] : record.subscriptions) {
            auto& e = mine[topic];
            e.node = id;
            e.address = record.address;
            if (group.empty()) {
                e.plain = true;
            } else if (std::find(e.groups.begin(), e.groups.end(), group) == e.groups.end()) {
                e.groups.push_back(group);
            }
        }
        for (auto& [topic, entry] : mine) index->byTopic[topic].push_back(std::move(entry));
    }
    index->nodes = std::move(nodes);
    index_ = std::move(index);
}

void DirectBroker::applyEvent(std::int32_t event, const micro_registry_node& node) {
    std::string id(abi::view(node.node));
    if (id == nodeId_) return;
    std::optional<NodeRecord> record;
    if (event != MICRO_REGISTRY_DELETED) {
        record = decodeRecord(abi::view(node.record));
        if (record && record->id != id) record.reset();
    }
    std::lock_guard lock(indexMutex_);
    auto nodes = index_->nodes;
    if (record) {
        nodes.insert_or_assign(id, std::move(*record));
    } else if (nodes.erase(id) == 0) {
        return;
    }
    rebuildIndexLocked(std::move(nodes));
}

void DirectBroker::refreshIndex() {
    auto call = RegistryCall::make();
    registry_->lookup(registrySelf_, abi::str(service_), call->sink(), call->done());
    micro_code code = call->wait(timeout_);
    if (code != MICRO_OK && code != MICRO_NOT_FOUND) {
        throw Error(Code::kUnavailable, "the direct broker could not look up '" + service_ +
                                            "' in the registry: " + call->message);
    }
    std::map<std::string, NodeRecord, std::less<>> nodes;
    {
        std::lock_guard lock(call->mutex);
        for (const auto& [id, bytes] : call->nodes) {
            if (id == nodeId_) continue;
            auto record = decodeRecord(bytes);
            if (record && record->id == id) nodes.insert_or_assign(id, std::move(*record));
        }
    }
    std::lock_guard lock(indexMutex_);
    rebuildIndexLocked(std::move(nodes));
}

std::shared_ptr<const DirectBroker::Index> DirectBroker::index() {
    {
        std::lock_guard lock(indexMutex_);
        if (watching_) return index_;
        watching_ = true;
    }
    // First publish: follow the registry from now on, then read what is there.
    auto onEvent = [](void* ctx, std::int32_t event, const micro_registry_node* node) {
        static_cast<DirectBroker*>(ctx)->applyEvent(event, *node);
    };
    micro_error err{};
    void* watch = nullptr;
    if (registry_->watch(registrySelf_, abi::str(service_), micro_registry_watcher{this, onEvent},
                         &watch, &err) == MICRO_OK) {
        std::lock_guard lock(indexMutex_);
        watch_ = watch;
    }
    // Without a watch the maintenance thread's periodic lookup keeps the index.
    try {
        refreshIndex();
    } catch (...) {
        // The lookup on a miss below tries again and reports the failure.
    }
    std::lock_guard lock(indexMutex_);
    return index_;
}

std::uint64_t DirectBroker::nextCursor(std::string_view topic, std::string_view group) {
    std::string key;
    key.reserve(topic.size() + group.size() + 1);
    key.append(topic).push_back('\0');
    key.append(group);
    std::lock_guard lock(indexMutex_);
    return cursors_[key]++;
}

// ---------------------------------------------------------------------------
// Publish side

std::shared_ptr<DirectBroker::Link> DirectBroker::link(const std::string& node,
                                                       const std::string& address) {
    std::shared_ptr<Peer> peer;
    {
        std::lock_guard lock(peersMutex_);
        auto& slot = peers_[node];
        if (!slot) slot = std::make_shared<Peer>();
        peer = slot;
    }
    std::lock_guard dial(peer->dialMutex);
    if (peer->link && peer->link->open() && peer->link->address == address) return peer->link;
    if (peer->link) peer->link->close();  // the node moved: a new address
    auto fresh = std::make_shared<Link>();
    fresh->owner = this;
    fresh->node = node;
    fresh->address = address;
    fresh->self = fresh;
    {
        std::lock_guard lock(connMutex_);
        if (stopping_) {
            fresh->self.reset();
            throw Error(Code::kUnavailable, "the broker is shutting down");
        }
        ++liveConnections_;
    }
    micro_error err{};
    void* connection = nullptr;
    micro_code code;
    {
        // Held so an early on_close waits until `connection` is recorded.
        std::lock_guard lock(fresh->mutex);
        code = transport_->dial(transportSelf_, abi::str(address), timeout_.count(),
                                micro_connection_events{fresh.get(), &Link::onMessage,
                                                        &Link::onWritable, &Link::onClose},
                                &connection, &err);
        if (code == MICRO_OK) fresh->connection = connection;
    }
    if (code != MICRO_OK) {
        fresh->self.reset();
        connectionClosed();
        throw Error(Code::kUnavailable,
                    "cannot reach node " + node + " at " + address + ": " + err.message);
    }
    peer->link = fresh;
    return fresh;
}

bool DirectBroker::sendTo(const std::string& node, const Want& want, const micro_message& message,
                          const std::shared_ptr<Publish>& publish) {
    publish->begin();
    if (node == nodeId_) {
        std::vector<std::string_view> groups(want.groups.begin(), want.groups.end());
        auto outcome = subs_->deliver(message, want.plain, groups);
        micro_code code = outcome.delivered > 0 ? MICRO_OK
                          : outcome.full        ? MICRO_RESOURCE_EXHAUSTED
                                                : MICRO_NOT_FOUND;
        publish->reply(code, outcome.delivered,
                       outcome.full ? "the subscribers of topic '" +
                                          driver::printable(abi::view(message.topic)) +
                                          "' in this process have too many messages waiting "
                                          "(max_pending)"
                                    : std::string());
        return true;
    }
    std::string error;
    try {
        auto l = link(node, want.address);
        std::uint64_t id = nextRequestId_.fetch_add(1, std::memory_order_relaxed);
        wire::EncodedRequest request(id, node, abi::view(message.topic), want.plain, want.groups,
                                     message);
        if (l->send(id, publish, request.view(), error)) return true;
    } catch (const std::exception& e) {
        error = e.what();
    }
    publish->nodeUnreachable(std::move(error));
    return false;
}

void DirectBroker::publish(const micro_message& message, driver::Done& done) {
    std::string_view topic = abi::view(message.topic);
    if (topic.empty()) throw Error(Code::kInvalidArgument, "empty topic");
    auto local = subs_->topic(topic);
    auto idx = index();
    auto findRemote = [&](const Index& i) -> const std::vector<Index::Entry>* {
        auto it = i.byTopic.find(std::string(topic));
        return it == i.byTopic.end() ? nullptr : &it->second;
    };
    const std::vector<Index::Entry>* remote = findRemote(*idx);
    if (local.empty() && remote == nullptr) {
        // A subscriber that registered since the last watch event: ask.
        refreshIndex();
        idx = index();
        remote = findRemote(*idx);
    }
    if (local.empty() && remote == nullptr) {
        throw Error(Code::kNotFound, "no subscriber for topic '" + driver::printable(topic) + "'");
    }

    std::map<std::string, Want> round;                        // node -> what it gets
    std::map<std::string, std::vector<std::string>> members;  // group -> nodes, sorted
    if (local.plain) round[nodeId_].plain = true;
    for (const auto& g : local.groups) members[g].push_back(nodeId_);
    std::unordered_map<std::string, std::string> addresses;
    if (remote != nullptr) {
        for (const auto& e : *remote) {
            addresses.emplace(e.node, e.address);
            if (e.plain) {
                auto& want = round[e.node];
                want.plain = true;
                want.address = e.address;
            }
            for (const auto& g : e.groups) members[g].push_back(e.node);
        }
    }
    struct GroupTry {
        std::string name;
        std::vector<std::string> nodes;
        std::size_t next = 0;
        std::size_t tried = 0;
    };
    std::vector<GroupTry> groups;
    for (auto& [name, nodes] : members) {
        std::sort(nodes.begin(), nodes.end());
        GroupTry g{name, std::move(nodes), 0, 0};
        g.next = static_cast<std::size_t>(nextCursor(topic, name) % g.nodes.size());
        groups.push_back(std::move(g));
    }
    std::set<std::string> unreachable;
    auto assign = [&](GroupTry& g) {
        while (g.tried < g.nodes.size()) {
            const std::string& node = g.nodes[g.next];
            g.next = (g.next + 1) % g.nodes.size();
            ++g.tried;
            if (unreachable.count(node) != 0) continue;
            auto& want = round[node];
            want.groups.push_back(g.name);
            if (node != nodeId_) want.address = addresses[node];
            return;
        }
    };
    for (auto& g : groups) assign(g);

    auto publish = std::make_shared<Publish>(std::move(done), topic, timeout_);
    while (!round.empty()) {
        std::vector<std::string> retry;
        for (auto& [node, want] : round) {
            if (!sendTo(node, want, message, publish)) {
                unreachable.insert(node);
                retry.insert(retry.end(), want.groups.begin(), want.groups.end());
            }
        }
        round.clear();
        for (const auto& name : retry) {
            for (auto& g : groups) {
                if (g.name == name) assign(g);
            }
        }
    }
    if (!publish->finished.load()) {
        bool wake = false;
        {
            std::lock_guard lock(timerMutex_);
            // A deadline before the maintenance thread's next wake-up must
            // shorten its wait, or the publish would outlive timeout_ms.
            wake = publish->deadline < timerWakeAt_;
            if (pending_.size() >= 1024) {
                std::erase_if(pending_, [](const auto& p) { return p->finished.load(); });
            }
            pending_.push_back(publish);
        }
        if (wake) timerCv_.notify_all();
    }
    publish->release();
}

// ---------------------------------------------------------------------------
// Threads and connections

void DirectBroker::connectionClosed() noexcept {
    std::lock_guard lock(connMutex_);
    --liveConnections_;
    connCv_.notify_all();  // under the lock: the destructor may proceed once it is released
}

void DirectBroker::maintain(std::stop_token stop) {
    auto nextRefresh = Clock::now() + ttl_ / 3;
    std::unique_lock lock(timerMutex_);
    while (!stop.stop_requested()) {
        std::erase_if(pending_, [](const auto& p) { return p->finished.load(); });
        auto wakeAt = nextRefresh;
        for (const auto& p : pending_) wakeAt = std::min(wakeAt, p->deadline);
        timerWakeAt_ = wakeAt;
        timerCv_.wait_until(lock, stop, wakeAt, [&] {
            return std::any_of(pending_.begin(), pending_.end(),
                               [&](const auto& p) { return p->deadline < wakeAt; });
        });
        if (stop.stop_requested()) break;
        auto now = Clock::now();
        std::vector<std::shared_ptr<Publish>> due;
        for (const auto& p : pending_) {
            if (p->deadline <= now) due.push_back(p);
        }
        if (now < nextRefresh && due.empty()) continue;
        lock.unlock();
        for (auto& p : due) p->expire(now);
        if (now >= nextRefresh) {
            nextRefresh = now + ttl_ / 3;
            try {
                syncRegistration();  // refreshes the TTL
            } catch (const std::exception& e) {
                std::string line = e.what();
                if (host_ != nullptr && host_->log != nullptr) {
                    host_->log(host_, MICRO_LOG_WARN, abi::str(instance_), abi::str(line));
                }
            }
            bool following = false;
            {
                std::lock_guard index(indexMutex_);
                following = watching_;
            }
            if (following) {
                try {
                    refreshIndex();  // repairs whatever a missed watch event left stale
                } catch (...) {
                    // A registry outage: the next refresh tries again.
                }
            }
        }
        lock.lock();
    }
}

}  // namespace micro::direct
