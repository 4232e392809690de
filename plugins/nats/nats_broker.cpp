#include "nats_broker.hpp"

#include <micro/error.hpp>

#include <span>
#include <vector>

#include "nats_headers.hpp"
#include "nats_subscription.hpp"

namespace micro::nats {

namespace {

constexpr std::int64_t kNanosPerMs = 1'000'000;

std::string text(natsStatus s) {
    const char* last = nats_GetLastError(nullptr);
    return last != nullptr && *last != '\0' ? std::string(last)
                                            : std::string(natsStatus_GetText(s));
}

// A durable name for (topic, group): readable, free of characters the server
// refuses in names, and distinct per pair.
std::string consumerName(std::string_view topic, std::string_view group) {
    std::uint64_t h = 1469598103934665603ULL;
    auto mix = [&](std::string_view s) {
        for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    };
    mix(topic);
    mix(std::string_view("\n", 1));
    mix(group);
    std::string name;
    for (char c : group.substr(0, 32)) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_';
        name.push_back(keep ? c : '_');
    }
    static constexpr char kHex[] = "0123456789abcdef";
    name.push_back('_');
    for (int i = 60; i >= 0; i -= 4) name.push_back(kHex[(h >> i) & 0xf]);
    return name;
}

void checkGroup(std::string_view group) {
    for (unsigned char c : group) {
        if (c <= 0x20 || c == 0x7f) {
            throw Error(Code::kInvalidArgument,
                        "nats: group '" + std::string(group) + "' has a blank or a control byte");
        }
    }
}

struct StreamInfoFree {
    void operator()(jsStreamInfo* p) const noexcept { jsStreamInfo_Destroy(p); }
};
struct ConsumerInfoFree {
    void operator()(jsConsumerInfo* p) const noexcept { jsConsumerInfo_Destroy(p); }
};

}  // namespace

NatsBroker::NatsBroker(const driver::Context& ctx)
    : host_(ctx.host), instanceName_(ctx.instanceName), settings_(parseSettings(ctx.config)) {
    try {
        connect();
        if (settings_.jetstream) {
            ensureStream();
            JetStreamPublisher::Params p;
            p.connection = connection_;
            p.js = js_;
            p.stream = settings_.stream;
            p.url = settings_.redactedUrl;
            p.timeoutMs = settings_.timeoutMs;
            p.ensureStream = [this] { ensureStream(); };
            publisher_ = std::make_unique<JetStreamPublisher>(std::move(p));
        }
    } catch (...) {
        publisher_.reset();
        closeConnection();
        if (options_ != nullptr) natsOptions_Destroy(options_);
        throw;
    }
}

NatsBroker::~NatsBroker() {
    std::unordered_map<void*, std::shared_ptr<NatsSubscription>> subs;
    {
        std::lock_guard lock(subsMutex_);
        subs.swap(subs_);
    }
    for (auto& [handle, sub] : subs) sub->stop();
    subs.clear();
    publisher_.reset();
    closeConnection();
    natsOptions_Destroy(options_);
}

void NatsBroker::log(std::int32_t level, const std::string& message) const noexcept {
    if (host_ != nullptr && host_->log != nullptr) {
        host_->log(host_, level, micro_str{instanceName_.data(), instanceName_.size()},
                   micro_str{message.data(), message.size()});
    }
}

// What the client's connection callbacks need. The client runs them on its
// own thread, possibly after the broker is gone, so the connection owns this:
// the closed callback, always the last one, deletes it.
struct NatsBroker::ConnectionEvents {
    const micro_host* host;
    std::string instanceName;
    std::string url;
    std::atomic<bool> closing{false};  // our own close, not an outage

    void log(std::int32_t level, const std::string& message) const noexcept {
        if (host != nullptr && host->log != nullptr) {
            host->log(host, level, micro_str{instanceName.data(), instanceName.size()},
                      micro_str{message.data(), message.size()});
        }
    }
    static void onDisconnected(natsConnection*, void* self) {
        auto* me = static_cast<ConnectionEvents*>(self);
        if (me->closing.load()) return;
        me->log(MICRO_LOG_WARN, "nats: disconnected from " + me->url +
                                    "; reconnecting (publishes fail with UNAVAILABLE meanwhile)");
    }
    static void onReconnected(natsConnection*, void* self) {
        auto* me = static_cast<ConnectionEvents*>(self);
        me->log(MICRO_LOG_INFO, "nats: reconnected to " + me->url);
    }
    static void onClosed(natsConnection*, void* self) {
        std::unique_ptr<ConnectionEvents> owned(static_cast<ConnectionEvents*>(self));
    }
    static void onAsyncError(natsConnection*, natsSubscription*, natsStatus err, void* self) {
        auto* me = static_cast<ConnectionEvents*>(self);
        me->log(MICRO_LOG_ERROR,
                std::string("nats: ") + natsStatus_GetText(err) +
                    (err == NATS_SLOW_CONSUMER
                         ? " (a subscription's pending limit was reached: messages were dropped "
                           "by the client; raise max_pending_msgs)"
                         : ""));
    }
};

void NatsBroker::closeConnection() noexcept {
    if (connection_ == nullptr) return;
    if (events_ != nullptr) events_->closing.store(true);
    natsConnection_Close(connection_);  // queues the closed callback, which frees events_
    events_ = nullptr;
    if (js_ != nullptr) jsCtx_Destroy(js_);
    js_ = nullptr;
    natsConnection_Destroy(connection_);
    connection_ = nullptr;
}

void NatsBroker::connect() {
    auto check = [](natsStatus s, const char* what) {
        if (s != NATS_OK) {
            throw Error(Code::kInternal, std::string("nats: ") + what + ": " + text(s));
        }
    };
    check(natsOptions_Create(&options_), "cannot create client options");
    std::vector<const char*> servers;
    for (const auto& s : settings_.servers) servers.push_back(s.c_str());
    {
        const natsStatus s =
            natsOptions_SetServers(options_, servers.data(), static_cast<int>(servers.size()));
        if (s != NATS_OK) {
            throw Error(Code::kInvalidArgument, "key 'url': the client refuses '" +
                                                    settings_.redactedUrl + "': " + text(s));
        }
    }
    const std::string name = "micro " + instanceName_;
    check(natsOptions_SetName(options_, name.c_str()), "name");
    check(natsOptions_SetTimeout(options_, settings_.timeoutMs), "timeout");
    // Reconnect forever, quickly at first: a broker outlives server restarts.
    check(natsOptions_SetAllowReconnect(options_, true), "reconnect");
    check(natsOptions_SetMaxReconnect(options_, -1), "max reconnect");
    check(natsOptions_SetReconnectWait(options_, 200), "reconnect wait");
    check(natsOptions_SetReconnectJitter(options_, 100, 1000), "reconnect jitter");
    // A silent (half-open) server is noticed after two unanswered pings.
    check(natsOptions_SetPingInterval(options_, 5000), "ping interval");
    check(natsOptions_SetMaxPingsOut(options_, 2), "max pings out");
    check(natsOptions_SetMaxPendingMsgs(options_, static_cast<int>(settings_.maxPendingMsgs)),
          "max pending");
    auto events = std::make_unique<ConnectionEvents>();
    events->host = host_;
    events->instanceName = instanceName_;
    events->url = settings_.redactedUrl;
    ConnectionEvents* ev = events.get();
    check(natsOptions_SetDisconnectedCB(options_, &ConnectionEvents::onDisconnected, ev),
          "disconnected cb");
    check(natsOptions_SetReconnectedCB(options_, &ConnectionEvents::onReconnected, ev),
          "reconnected cb");
    check(natsOptions_SetClosedCB(options_, &ConnectionEvents::onClosed, ev), "closed cb");
    check(natsOptions_SetErrorHandler(options_, &ConnectionEvents::onAsyncError, ev),
          "error handler");

    const natsStatus s = natsConnection_Connect(&connection_, options_);
    if (s == NATS_OK) events_ = events.release();  // the connection's now (onClosed)
    if (s != NATS_OK) {
        connection_ = nullptr;
        throw Error(Code::kUnavailable,
                    "nats: cannot connect to " + settings_.redactedUrl + " (key 'url') within " +
                        std::to_string(settings_.timeoutMs) + " ms (key 'timeout_ms'): " + text(s));
    }
    if (settings_.jetstream) {
        jsOptions jo;
        jsOptions_Init(&jo);
        jo.Wait = settings_.timeoutMs;
        check(natsConnection_JetStream(&js_, connection_, &jo), "JetStream context");
    }
}

void NatsBroker::ensureStream() {
    std::lock_guard lock(streamMutex_);
    const std::string wanted = subjectsUnder(settings_.subjectPrefix);
    jsStreamInfo* raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js_, settings_.stream.c_str(), nullptr, &jerr);
    std::unique_ptr<jsStreamInfo, StreamInfoFree> info(raw);
    if (s == NATS_NO_RESPONDERS) {
        throw Error(Code::kFailedPrecondition,
                    "nats: the server at " + settings_.redactedUrl +
                        " has no JetStream (key 'jetstream' = true needs nats-server -js)");
    }
    if (s == NATS_OK) {
        std::vector<const char*> subjects;
        const jsStreamConfig* cfg = info->Config;
        for (int i = 0; i < cfg->SubjectsLen; ++i) {
            if (wanted == cfg->Subjects[i] || std::string_view(cfg->Subjects[i]) == ">") return;
            subjects.push_back(cfg->Subjects[i]);
        }
        // The stream exists for other subjects: let it cover ours too.
        subjects.push_back(wanted.c_str());
        jsStreamConfig update = *cfg;
        update.Subjects = subjects.data();
        update.SubjectsLen = static_cast<int>(subjects.size());
        jsStreamInfo* updated = nullptr;
        s = js_UpdateStream(&updated, js_, &update, nullptr, &jerr);
        jsStreamInfo_Destroy(updated);
        if (s != NATS_OK) {
            throw Error(Code::kFailedPrecondition,
                        "nats: stream '" + settings_.stream + "' (key 'stream') exists without '" +
                            wanted + "' and cannot cover it: " + text(s));
        }
        log(MICRO_LOG_INFO, "nats: stream '" + settings_.stream + "' now also covers " + wanted);
        return;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        throw Error(Code::kUnavailable, "nats: cannot read stream '" + settings_.stream +
                                            "' (key 'stream') on " + settings_.redactedUrl + ": " +
                                            text(s));
    }
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = settings_.stream.c_str();
    const char* subjects[] = {wanted.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo* created = nullptr;
    s = js_AddStream(&created, js_, &cfg, nullptr, &jerr);
    jsStreamInfo_Destroy(created);
    if (s != NATS_OK && jerr != JSStreamNameExistErr) {
        throw Error(Code::kFailedPrecondition, "nats: cannot create stream '" + settings_.stream +
                                                   "' (key 'stream') for '" + wanted +
                                                   "': " + text(s));
    }
    log(MICRO_LOG_INFO, "nats: created stream '" + settings_.stream + "' for " + wanted);
}

NatsBroker::Consumer NatsBroker::ensureConsumer(const std::string& subject, std::string_view topic,
                                                std::string_view group) {
    jsConsumerConfig cfg;
    jsConsumerConfig_Init(&cfg);
    cfg.AckPolicy = js_AckExplicit;
    cfg.AckWait = settings_.ackWaitMs * kNanosPerMs;
    cfg.MaxDeliver = settings_.maxDeliver;
    cfg.FilterSubject = subject.c_str();
    cfg.DeliverPolicy = js_DeliverNew;
    Consumer c;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    auto failed = [&](natsStatus s, const std::string& what) {
        const Code code = (s == NATS_TIMEOUT || s == NATS_NO_RESPONDERS ||
                           s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED)
                              ? Code::kUnavailable
                              : Code::kFailedPrecondition;
        return Error(code, "nats: cannot " + what + " on stream '" + settings_.stream +
                               "' for topic '" + std::string(topic) + "': " + text(s));
    };

    if (group.empty()) {
        natsInbox* inbox = nullptr;
        if (natsInbox_Create(&inbox) != NATS_OK) throw Error(Code::kInternal, "nats: no inbox");
        c.deliverSubject = inbox;
        natsInbox_Destroy(inbox);
        cfg.DeliverSubject = c.deliverSubject.c_str();
        jsConsumerInfo* raw = nullptr;
        const natsStatus s =
            js_AddConsumer(&raw, js_, settings_.stream.c_str(), &cfg, nullptr, &jerr);
        std::unique_ptr<jsConsumerInfo, ConsumerInfoFree> info(raw);
        if (s != NATS_OK) throw failed(s, "create an ephemeral consumer");
        c.name = info->Name;
        c.ephemeral = true;
        return c;
    }

    const std::string name = consumerName(topic, group);
    const std::string deliver = "_MICRO.deliver." + settings_.stream + "." + name;
    cfg.Durable = name.c_str();
    cfg.DeliverSubject = deliver.c_str();
    cfg.DeliverGroup = name.c_str();
    for (int attempt = 0; attempt < 2; ++attempt) {
        jsConsumerInfo* raw = nullptr;
        natsStatus s =
            js_GetConsumerInfo(&raw, js_, settings_.stream.c_str(), name.c_str(), nullptr, &jerr);
        std::unique_ptr<jsConsumerInfo, ConsumerInfoFree> info(raw);
        if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) {
            raw = nullptr;
            s = js_AddConsumer(&raw, js_, settings_.stream.c_str(), &cfg, nullptr, &jerr);
            info.reset(raw);
            if (s != NATS_OK) {
                if (attempt == 0) continue;  // another member created it meanwhile
                throw failed(s, "create the durable consumer '" + name + "'");
            }
        } else if (s != NATS_OK) {
            throw failed(s, "read the durable consumer '" + name + "'");
        }
        const jsConsumerConfig* have = info->Config;
        if (have == nullptr || have->DeliverSubject == nullptr || have->DeliverGroup == nullptr) {
            throw Error(Code::kFailedPrecondition,
                        "nats: consumer '" + name + "' on stream '" + settings_.stream +
                            "' exists but is not a push consumer with a deliver group");
        }
        c.name = name;
        c.deliverSubject = have->DeliverSubject;
        c.deliverGroup = have->DeliverGroup;
        return c;
    }
    throw Error(Code::kInternal, "nats: consumer set-up did not converge");
}

void NatsBroker::publish(const micro_message& message, driver::Done& done) {
    const std::string subject = subjectFor(
        settings_.subjectPrefix, std::string_view(message.topic.data, message.topic.size));
    if (natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED) {
        done.fail(Code::kUnavailable, "nats: not connected to " + settings_.redactedUrl +
                                          " (the client is reconnecting); '" + subject +
                                          "' was not published");
        return;
    }
    natsMsg* raw = nullptr;
    if (natsMsg_Create(&raw, subject.c_str(), nullptr,
                       reinterpret_cast<const char*>(message.body.data),
                       static_cast<int>(message.body.size)) != NATS_OK) {
        throw Error(Code::kResourceExhausted,
                    "nats: cannot allocate a message for '" + subject + "'");
    }
    MsgPtr msg(raw);
    encodeHeaders(msg.get(), std::span<const micro_kv>(message.headers, message.header_count));
    if (publisher_) {
        publisher_->enqueue(std::move(msg), std::move(done));
        return;
    }
    const natsStatus s = natsConnection_PublishMsg(connection_, msg.get());
    if (s == NATS_OK) {
        done.ok();
        return;
    }
    const Code code =
        s == NATS_MAX_PAYLOAD ? Code::kInvalidArgument
        : (s == NATS_CONNECTION_CLOSED || s == NATS_CONNECTION_DISCONNECTED ||
           s == NATS_INSUFFICIENT_BUFFER || s == NATS_IO_ERROR || s == NATS_STALE_CONNECTION)
            ? Code::kUnavailable
            : Code::kUnknown;
    if (s == NATS_MAX_PAYLOAD) {
        done.fail(code, "nats: a body of " + std::to_string(message.body.size) +
                            " bytes with its headers exceeds the max_payload of the server at " +
                            settings_.redactedUrl + " (raise it there, or lower max_body_bytes)");
        return;
    }
    done.fail(code, "nats: publish to '" + subject + "' on " + settings_.redactedUrl +
                        " failed: " + text(s));
}

void* NatsBroker::subscribe(const driver::SubscribeRequest& request,
                            micro_message_handler handler) {
    const std::string subject = subjectFor(settings_.subjectPrefix, request.topic);
    checkGroup(request.group);
    NatsSubscription::Params p;
    p.connection = connection_;
    p.topic = std::string(request.topic);
    p.jetstream = settings_.jetstream;
    p.manualAck = request.ackMode == MICRO_ACK_MANUAL;
    p.nakDelayMs = settings_.nakDelayMs;
    p.maxPendingMsgs = settings_.maxPendingMsgs;
    p.handler = handler;
    p.warn = [this](const std::string& m) { log(MICRO_LOG_WARN, m); };
    if (natsConnection_Status(connection_) != NATS_CONN_STATUS_CONNECTED) {
        throw Error(Code::kUnavailable, "nats: not connected to " + settings_.redactedUrl +
                                            " (the client is reconnecting); cannot subscribe to '" +
                                            subject + "'");
    }
    if (settings_.jetstream) {
        Consumer c;
        {
            std::lock_guard lock(streamMutex_);
            c = ensureConsumer(subject, request.topic, request.group);
        }
        p.subject = c.deliverSubject;
        p.queue = c.deliverGroup;
        if (c.ephemeral) {
            p.onStop = [js = js_, stream = settings_.stream, name = c.name] {
                jsErrCode jerr = static_cast<jsErrCode>(0);
                // The server also drops an idle ephemeral consumer by itself;
                // this only makes it prompt.
                js_DeleteConsumer(js, stream.c_str(), name.c_str(), nullptr, &jerr);
            };
        }
        try {
            auto sub = std::make_shared<NatsSubscription>(std::move(p));
            std::lock_guard lock(subsMutex_);
            subs_.emplace(sub.get(), sub);
            return sub.get();
        } catch (...) {
            if (c.ephemeral) {
                jsErrCode jerr = static_cast<jsErrCode>(0);
                js_DeleteConsumer(js_, settings_.stream.c_str(), c.name.c_str(), nullptr, &jerr);
            }
            throw;
        }
    }
    p.subject = subject;
    p.queue = std::string(request.group);
    auto sub = std::make_shared<NatsSubscription>(std::move(p));
    std::lock_guard lock(subsMutex_);
    subs_.emplace(sub.get(), sub);
    return sub.get();
}

void NatsBroker::unsubscribe(void* subscription) noexcept {
    std::shared_ptr<NatsSubscription> sub;
    {
        std::lock_guard lock(subsMutex_);
        auto it = subs_.find(subscription);
        if (it == subs_.end()) return;
        sub = std::move(it->second);
        subs_.erase(it);
    }
    sub->stop();
}

void NatsBroker::ack(void* subscription, std::uint64_t deliveryId, bool ok) {
    std::shared_ptr<NatsSubscription> sub;
    {
        std::lock_guard lock(subsMutex_);
        auto it = subs_.find(subscription);
        if (it == subs_.end()) {
            throw Error(Code::kNotFound, "nats: ack on a subscription that is gone");
        }
        sub = it->second;
    }
    sub->ack(deliveryId, ok);
}

}  // namespace micro::nats
