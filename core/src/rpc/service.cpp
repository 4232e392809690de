#include <micro/runtime.hpp>
#include <micro/service.hpp>

#include <capnp/serialize.h>
#include <fmt/core.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>

#include "../admin/service_admin.hpp"
#include "server.hpp"
#include "service.capnp.h"

namespace micro {

namespace {

// Words of stack space a typed handler's request and response messages start
// in (512 bytes each); larger messages grow onto the heap.
constexpr std::size_t kScratchWords = 64;

struct EndpointInfo {
    std::string name;
    std::uint64_t requestType = 0;
    std::uint64_t responseType = 0;
    bool clientStream = false;
    bool serverStream = false;
    bool idempotent = false;
    Metadata metadata;
};

struct SubscriberInfo {
    std::string topic;
    SubscribeOptions options;
    MessageHandler handler;
    std::uint64_t messageType = 0;  // a schema node id; 0 = raw bytes
};

std::string randomSuffix() {
    std::random_device rd;
    return fmt::format("{:08x}{:08x}", rd(), rd());
}

void fillEntries(capnp::List<schema::ServiceRecord::Entry>::Builder out, const Metadata& md) {
    for (unsigned i = 0; i < md.size(); ++i) {
        out[i].setKey(md[i].first);
        out[i].setValue(md[i].second);
    }
}

// SIGINT/SIGTERM → one byte on a pipe that run() waits on. Only
// async-signal-safe calls in the handler.
int gSignalPipe[2] = {-1, -1};
void onSignal(int) {
    char byte = 1;
    ssize_t n = ::write(gSignalPipe[1], &byte, 1);
    (void)n;
}

}  // namespace

struct Service::Impl {
    Runtime& runtime;
    ServiceOptions options;
    std::string nodeId;
    admin::ServiceAdmin admin;  // call metrics and /health; outlives the server
    std::string adminAddress;
    rpc::Server server;
    codec::SchemaSet schemas;
    std::vector<EndpointInfo> endpoints;
    std::vector<SubscriberInfo> subscribers;
    std::vector<SubscriberMiddleware> subscriberMiddleware;
    std::vector<Subscription> subscriptions;
    std::string address;
    std::string record;
    bool started = false;
    bool stopped = false;

    std::mutex mutex;
    std::condition_variable wake;
    bool stopRegistering = false;
    std::thread registrar;

    Impl(Runtime& rt, ServiceOptions o)
        : runtime(rt),
          options(std::move(o)),
          nodeId(options.name + "-" + randomSuffix()),
          admin(rt, options.name),
          server(rt.transport(), options.name, rpc::ServerOptions{options.handlerThreads}) {
        if (options.name.empty()) throw Error(Code::kInvalidArgument, "a service needs a name");
        server.usePerEndpoint(admin.middleware());  // first, so it counts every call
        if (options.registerInterval.count() <= 0) {
            options.registerInterval =
                std::max(options.registerTtl / 3, std::chrono::milliseconds(1));
        }
    }

    std::string buildRecord() const {
        capnp::MallocMessageBuilder message;
        auto r = message.initRoot<schema::ServiceRecord>();
        r.setName(options.name);
        r.setVersion(options.version);
        fillEntries(r.initMetadata(static_cast<unsigned>(options.metadata.size())),
                    options.metadata);
        auto node = r.initNode();
        node.setId(nodeId);
        node.setAddress(address);
        node.setTransport(runtime.transport().handle().descriptor().name);
        if (!adminAddress.empty()) {  // where tools find /health and /metrics
            fillEntries(node.initMetadata(1), Metadata{{"admin", adminAddress}});
        }
        auto eps = r.initEndpoints(static_cast<unsigned>(endpoints.size()));
        for (unsigned i = 0; i < endpoints.size(); ++i) {
            const EndpointInfo& e = endpoints[i];
            eps[i].setName(e.name);
            eps[i].setRequestType(e.requestType);
            eps[i].setResponseType(e.responseType);
            eps[i].setClientStream(e.clientStream);
            eps[i].setServerStream(e.serverStream);
            eps[i].setIdempotent(e.idempotent);
            fillEntries(eps[i].initMetadata(static_cast<unsigned>(e.metadata.size())), e.metadata);
        }
        auto subs = r.initSubscribers(static_cast<unsigned>(subscribers.size()));
        for (unsigned i = 0; i < subscribers.size(); ++i) {
            subs[i].setTopic(subscribers[i].topic);
            subs[i].setGroup(subscribers[i].options.group);
            Metadata md;
            if (subscribers[i].messageType != 0) {
                md.emplace_back("messageType", fmt::format("{:#x}", subscribers[i].messageType));
            }
            if (!subscribers[i].options.deadLetterTopic.empty()) {
                md.emplace_back("deadLetterTopic", subscribers[i].options.deadLetterTopic);
            }
            fillEntries(subs[i].initMetadata(static_cast<unsigned>(md.size())), md);
        }
        schemas.writeNodes(r.initSchemaNodes(static_cast<unsigned>(schemas.size())));
        auto words = capnp::messageToFlatArray(message);
        auto bytes = words.asBytes();
        return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
    }

    void subscribeAll() {
        for (const SubscriberInfo& info : subscribers) {
            MessageHandler handler = info.handler;
            for (auto it = subscriberMiddleware.rbegin(); it != subscriberMiddleware.rend(); ++it) {
                handler = [middleware = *it, next = std::move(handler)](const MessageView& m) {
                    middleware(m, next);
                };
            }
            subscriptions.push_back(
                runtime.broker().subscribe(info.topic, std::move(handler), info.options));
        }
    }

    void registerOnce() {
        runtime.registry().registerNode(Node{options.name, nodeId, record, options.registerTtl});
        admin.setRegistered(true);
    }

    void registrarLoop() {
        std::unique_lock lock(mutex);
        while (!wake.wait_for(lock, options.registerInterval, [&] { return stopRegistering; })) {
            lock.unlock();
            try {
                registerOnce();
            } catch (const Error& e) {
                admin.setRegistered(false);
                // The registry may be back by the next interval; the node
                // keeps serving callers that already know it.
                std::fprintf(stderr, "micro: %s: re-register failed: %s\n", options.name.c_str(),
                             e.describe().c_str());
            }
            lock.lock();
        }
    }
};

Service::Service(Runtime& runtime, ServiceOptions options)
    : impl_(std::make_unique<Impl>(runtime, std::move(options))) {}

Service::~Service() {
    try {
        stop();
    } catch (...) {
        // A destructor must not throw; stop() already did what it could.
    }
}

void Service::addTyped(std::string endpoint, capnp::StructSchema request,
                       capnp::StructSchema response, EndpointOptions options, TypedHandler fn) {
    impl_->schemas.add(request);
    impl_->schemas.add(response);
    impl_->endpoints.push_back({endpoint, request.getProto().getId(), response.getProto().getId(),
                                false, false, options.idempotent, std::move(options.metadata)});
    impl_->server.add(rpc::Endpoint{
        endpoint,
        [request, response, fn = std::move(fn)](ServerCall& call) {
            codec::ContentType type = codec::parseContentType(call.contentType);
            // Raw bytes for a typed endpoint are its binary encoding.
            if (type == codec::ContentType::kRaw) type = codec::ContentType::kCapnp;
            // Small messages stay on the stack: by default a message builder
            // starts with an 8 KiB zeroed allocation, on every call.
            std::array<capnp::word, kScratchWords> inScratch{};  // zeroed, as capnp requires
            capnp::MallocMessageBuilder in(kj::arrayPtr(inScratch.data(), inScratch.size()));
            codec::decode(type, call.body, request, in);
            std::array<capnp::word, kScratchWords> outScratch{};
            capnp::MallocMessageBuilder out(kj::arrayPtr(outScratch.data(), outScratch.size()));
            fn(call, in, out);
            // fn initialised the root as `response`: read it as that type
            // without getRoot<DynamicStruct>(response)'s schema lookups.
            call.response = codec::encode(type, out.getRoot<capnp::AnyPointer>()
                                                    .asReader()
                                                    .getAs<capnp::AnyStruct>()
                                                    .as<capnp::DynamicStruct>(response));
        },
        nullptr, options.nonBlocking});
}

void Service::handleRaw(std::string endpoint, ServerHandler fn, EndpointOptions options) {
    impl_->endpoints.push_back(
        {endpoint, 0, 0, false, false, options.idempotent, std::move(options.metadata)});
    impl_->server.add(
        rpc::Endpoint{std::move(endpoint), std::move(fn), nullptr, options.nonBlocking});
}

void Service::handleStream(std::string endpoint, std::function<void(ServerCall&, Stream&)> fn,
                           StreamOptions options) {
    impl_->endpoints.push_back({endpoint, 0, 0, options.clientStream, options.serverStream, false,
                                std::move(options.metadata)});
    impl_->server.add(rpc::Endpoint{std::move(endpoint), nullptr, std::move(fn)});
}

void Service::addStream(std::string endpoint, capnp::StructSchema request,
                        capnp::StructSchema response, StreamOptions options,
                        std::function<void(ServerCall&, Stream&)> fn) {
    impl_->schemas.add(request);
    impl_->schemas.add(response);
    impl_->endpoints.push_back({endpoint, request.getProto().getId(), response.getProto().getId(),
                                options.clientStream, options.serverStream, false,
                                std::move(options.metadata)});
    impl_->server.add(rpc::Endpoint{std::move(endpoint), nullptr, std::move(fn)});
}

void Service::use(ServerMiddleware middleware) { impl_->server.use(std::move(middleware)); }

void Service::subscribe(std::string topic, MessageHandler fn, SubscribeOptions options) {
    impl_->subscribers.push_back({std::move(topic), std::move(options), std::move(fn), 0});
}

void Service::addSubscriber(std::string topic, capnp::StructSchema type, SubscribeOptions options,
                            TypedSubscriber fn) {
    impl_->schemas.add(type);
    MessageHandler handler = [type, fn = std::move(fn)](const MessageView& m) {
        const std::string_view header = m.header(headers::kContentType);
        codec::ContentType contentType =
            header.empty() ? codec::ContentType::kCapnp : codec::parseContentType(header);
        // Raw bytes for a typed subscriber are its binary encoding.
        if (contentType == codec::ContentType::kRaw) contentType = codec::ContentType::kCapnp;
        std::array<capnp::word, kScratchWords> scratch{};  // zeroed, as capnp requires
        capnp::MallocMessageBuilder in(kj::arrayPtr(scratch.data(), scratch.size()));
        codec::decode(contentType, m.body, type, in);
        fn(m, in);
    };
    impl_->subscribers.push_back(
        {std::move(topic), std::move(options), std::move(handler), type.getProto().getId()});
}

void Service::useSubscriber(SubscriberMiddleware middleware) {
    impl_->subscriberMiddleware.push_back(std::move(middleware));
}

void Service::start() {
    if (impl_->started) return;
    impl_->address = impl_->server.listen(impl_->options.address);
    try {
        impl_->subscribeAll();
    } catch (...) {
        impl_->subscriptions.clear();
        impl_->server.stopAccepting();
        throw;
    }
    impl_->adminAddress = impl_->admin.start(impl_->options.adminAddress, impl_->nodeId);
    impl_->record = impl_->buildRecord();
    impl_->registerOnce();
    impl_->started = true;
    impl_->registrar = std::thread([this] { impl_->registrarLoop(); });
}

void Service::stop() {
    if (!impl_->started || impl_->stopped) return;
    impl_->stopped = true;
    impl_->admin.setDraining();
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopRegistering = true;
    }
    impl_->wake.notify_all();
    impl_->registrar.join();
    // No new events while calls drain; a running handler finishes first.
    impl_->subscriptions.clear();
    // Deregister first so callers stop choosing this node, then stop taking
    // new connections and let in-flight calls finish.
    try {
        impl_->runtime.registry().deregisterNode(impl_->options.name, impl_->nodeId);
    } catch (const Error& e) {
        if (e.code() != Code::kNotFound) {
            std::fprintf(stderr, "micro: %s: deregister failed: %s\n", impl_->options.name.c_str(),
                         e.describe().c_str());
        }
    }
    impl_->server.stopAccepting();
    if (!impl_->server.drain(impl_->options.gracePeriod)) {
        std::fprintf(stderr, "micro: %s: %llu call(s) still running after the grace period\n",
                     impl_->options.name.c_str(),
                     static_cast<unsigned long long>(impl_->server.inFlight()));
    }
    impl_->admin.stop();
}

int Service::run(const std::function<void()>& onStarted) {
    if (gSignalPipe[0] < 0 && ::pipe(gSignalPipe) != 0) {
        throw Error(Code::kInternal, "cannot create the signal pipe");
    }
    struct sigaction action {};
    action.sa_handler = onSignal;
    sigemptyset(&action.sa_mask);
    struct sigaction oldInt {};
    struct sigaction oldTerm {};
    sigaction(SIGINT, &action, &oldInt);
    sigaction(SIGTERM, &action, &oldTerm);
    start();
    if (onStarted) onStarted();
    char byte = 0;
    while (::read(gSignalPipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    stop();
    sigaction(SIGINT, &oldInt, nullptr);
    sigaction(SIGTERM, &oldTerm, nullptr);
    return 0;
}

const std::string& Service::name() const noexcept { return impl_->options.name; }
const std::string& Service::nodeId() const noexcept { return impl_->nodeId; }
const std::string& Service::address() const noexcept { return impl_->address; }
const std::string& Service::record() const noexcept { return impl_->record; }
const std::string& Service::adminAddress() const noexcept { return impl_->adminAddress; }

}  // namespace micro
