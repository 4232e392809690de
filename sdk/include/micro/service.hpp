// micro/service.hpp — a named service: endpoints, registration, lifecycle.
//
//     micro::Runtime rt = micro::Runtime::load(micro::findManifest(std::nullopt));
//     micro::Service svc(rt, {.name = "greeter"});
//     svc.handle<HelloRequest, HelloResponse>("Greeter.Hello",
//         [](micro::ServerCall&, HelloRequest::Reader in, HelloResponse::Builder out) {
//             out.setGreeting(std::string("Hello ") + in.getName().cStr());
//         }, {.idempotent = true});
//     return svc.run();   // until SIGINT/SIGTERM
//
// One typed handler serves every content type: application/capnp (binary),
// application/json (through the endpoint's schema; a wrong field is
// INVALID_ARGUMENT naming it) and application/octet-stream (taken as the
// binary encoding). A raw handler sees the bytes as they came.
//
// Lifecycle: start() listens on the transport, registers the node in the
// registry with a TTL and re-registers on an interval. stop() — and run()
// on SIGINT or SIGTERM — deregisters first (callers stop choosing this
// node), stops accepting, refuses new calls as "not processed" (callers
// retry elsewhere), waits for in-flight calls up to the grace period, then
// closes. Each node's record carries its endpoints with their request and
// response schemas, so tools that never saw this code can call it.
//
// Subscribers: subscribe() adds an event handler on the runtime's broker.
// It is subscribed at start() and unsubscribed first thing at stop() (before
// deregistering, so no new message arrives while calls drain), and listed
// in the record's subscribers, so `micro describe` shows it. A typed
// subscriber decodes the body by its Content-Type (capnp, JSON through the
// message's schema, raw bytes taken as capnp); a body that does not decode
// is INVALID_ARGUMENT, never retried, and dead-lettered when the options
// name a dead-letter topic. Retries and dead-lettering: micro/broker.hpp.
//
// Threads: register endpoints and middleware before start(); handlers run on
// a worker pool (ServiceOptions::handlerThreads; 0 runs them on the
// transport's threads, for handlers that never block).
#pragma once

#include <micro/broker.hpp>
#include <micro/codec.hpp>
#include <micro/rpc/call.hpp>
#include <micro/rpc/stream.hpp>

#include <capnp/message.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace micro {

class Runtime;

struct ServiceOptions {
    std::string name;
    std::string version = "latest";
    Metadata metadata{};
    std::string address = "127.0.0.1:0";  ///< where to listen (":0" picks a port)
    std::chrono::milliseconds registerTtl{10000};
    std::chrono::milliseconds registerInterval{0};  ///< 0: a third of the TTL
    std::chrono::milliseconds gracePeriod{5000};    ///< for in-flight calls on stop
    std::size_t handlerThreads = 8;
    /// HTTP /health and /metrics (micro/admin.hpp): host:port (port 0 picks one)
    /// or "off". $MICRO_ADMIN_ADDRESS, when set, replaces it.
    std::string adminAddress = "127.0.0.1:0";
};

struct EndpointOptions {
    bool idempotent = false;  ///< safe to retry on another node after it was sent
    Metadata metadata{};
    /// The handler never blocks (no I/O, no waiting on locks or other
    /// calls): it runs on the transport thread that read the call, not on
    /// the handler pool, which saves the hand-off between threads. A handler
    /// so marked that does block stalls every connection of that thread.
    bool nonBlocking = false;
};

struct StreamOptions {
    bool clientStream = true;
    bool serverStream = true;
    Metadata metadata{};
};

class Service {
 public:
    Service(Runtime& runtime, ServiceOptions options);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    /// A typed unary endpoint ("Service.Method").
    template <typename Req, typename Res>
    void handle(std::string endpoint,
                std::function<void(ServerCall&, typename Req::Reader, typename Res::Builder)> fn,
                EndpointOptions options = {}) {
        capnp::StructSchema request = capnp::Schema::from<Req>();
        capnp::StructSchema response = capnp::Schema::from<Res>();
        addTyped(std::move(endpoint), request, response, std::move(options),
                 [fn = std::move(fn)](ServerCall& call, capnp::MessageBuilder& in,
                                      capnp::MessageBuilder& out) {
                     fn(call, in.getRoot<Req>().asReader(), out.initRoot<Res>());
                 });
    }

    /// A raw unary endpoint: the handler reads call.body, fills call.response.
    void handleRaw(std::string endpoint, ServerHandler fn, EndpointOptions options = {});

    /// A streaming endpoint (client-, server- or bidi-streaming): messages are
    /// raw bytes; encode them with micro::codec as the endpoint's types say.
    void handleStream(std::string endpoint, std::function<void(ServerCall&, Stream&)> fn,
                      StreamOptions options = {});

    /// The same, publishing Req and Res as the message types in the record
    /// (so `micro describe` and `micro call --stream` know them).
    template <typename Req, typename Res>
    void handleStream(std::string endpoint, std::function<void(ServerCall&, Stream&)> fn,
                      StreamOptions options = {}) {
        addStream(std::move(endpoint), capnp::Schema::from<Req>(), capnp::Schema::from<Res>(),
                  std::move(options), std::move(fn));
    }

    void use(ServerMiddleware middleware);

    /// A subscriber that sees each message of `topic` as it came.
    void subscribe(std::string topic, MessageHandler fn, SubscribeOptions options = {});

    /// A subscriber of Msg messages (the type is published in the record).
    template <typename Msg>
    void subscribe(std::string topic,
                   std::function<void(const MessageView&, typename Msg::Reader)> fn,
                   SubscribeOptions options = {}) {
        addSubscriber(std::move(topic), capnp::Schema::from<Msg>(), std::move(options),
                      [fn = std::move(fn)](const MessageView& m, capnp::MessageBuilder& in) {
                          fn(m, in.getRoot<Msg>().asReader());
                      });
    }

    /// Middleware around this service's subscribers, outermost first.
    void useSubscriber(SubscriberMiddleware middleware);

    void start();
    void stop();
    /// Install SIGINT/SIGTERM handlers, start(), call `onStarted` (e.g. to
    /// print the address), wait for a signal, stop(); returns 0.
    int run(const std::function<void()>& onStarted = {});

    const std::string& name() const noexcept;
    const std::string& nodeId() const noexcept;
    /// The bound address, once started.
    const std::string& address() const noexcept;
    /// The encoded registry record (micro.schema.ServiceRecord), once started.
    const std::string& record() const noexcept;
    /// The admin endpoint's bound address, once started ("" when off).
    const std::string& adminAddress() const noexcept;

    struct Impl;

 private:
    using TypedHandler =
        std::function<void(ServerCall&, capnp::MessageBuilder&, capnp::MessageBuilder&)>;
    void addTyped(std::string endpoint, capnp::StructSchema request, capnp::StructSchema response,
                  EndpointOptions options, TypedHandler fn);
    using TypedSubscriber = std::function<void(const MessageView&, capnp::MessageBuilder&)>;
    void addSubscriber(std::string topic, capnp::StructSchema type, SubscribeOptions options,
                       TypedSubscriber fn);
    void addStream(std::string endpoint, capnp::StructSchema request, capnp::StructSchema response,
                   StreamOptions options, std::function<void(ServerCall&, Stream&)> fn);

    std::unique_ptr<Impl> impl_;
};

}  // namespace micro
