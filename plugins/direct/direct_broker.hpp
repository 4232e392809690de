// plugins/direct/direct_broker.hpp — broker driver "direct": publish/subscribe
// with no broker server. Subscribers announce themselves in the runtime's
// registry; a publisher sends each message straight to the nodes that
// subscribe, over the runtime's transport. See README.md for the design.
//
// Contract
//   Needs: the host extensions micro.registry/1 and micro.transport/1 (a
//     [registry] and a [transport] slot in the manifest); create fails with
//     FAILED_PRECONDITION without them.
//   Threads: every method may be called concurrently from any thread.
//     publish may block up to `timeout_ms` on a registry lookup or a dial the
//     first time it meets a node; afterwards it only queues on an open
//     connection and completes from the transport's thread when the nodes
//     answered. The instance owns: the workers that run handlers
//     (`delivery_threads`), one maintenance thread (registry refresh every
//     TTL/3, publish timeouts). destroy joins them all and waits for every
//     connection it opened or accepted to report on_close.
//   Routing: exact topic match. Every node with a plain subscription on the
//     topic gets the message; for each group, one node among the group's
//     members (round-robin per topic and group), which hands it to one local
//     member. A node that cannot be reached is skipped; for a group another
//     member is tried.
//   Completion: OK when at least one subscription got the message; NOT_FOUND
//     "no subscriber for topic 'x'" when nobody subscribes; UNAVAILABLE when
//     subscribers exist but none could be reached within `timeout_ms`;
//     RESOURCE_EXHAUSTED when every reached subscription's queue was full.
//   Delivery: at-most-once. A node answers once the message is queued for
//     its subscriptions, before the handlers run. A nack, a handler that
//     throws, a manual-mode message never acked, a crash: the message is
//     gone. `ack` is accepted and ignored.
//   Ownership: published messages are copied where they must wait.
#pragma once

#include <micro/driver/broker.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "local_subscriptions.hpp"
#include "record.hpp"

namespace micro::direct {

class DirectBroker {
 public:
    explicit DirectBroker(const driver::Context& ctx);
    ~DirectBroker();
    DirectBroker(const DirectBroker&) = delete;
    DirectBroker& operator=(const DirectBroker&) = delete;

    void publish(const micro_message& message, driver::Done& done);
    void* subscribe(const driver::SubscribeRequest& request, micro_message_handler handler);
    void unsubscribe(void* subscription) noexcept;
    void ack(void* subscription, std::uint64_t deliveryId, bool ok);

 private:
    struct Publish;
    struct Link;
    struct Peer;
    struct Inbound;
    /// The registry's view of the other broker nodes, indexed by topic.
    struct Index {
        struct Entry {
            std::string node;
            std::string address;
            bool plain = false;
            std::vector<std::string> groups;
        };
        std::map<std::string, NodeRecord, std::less<>> nodes;
        std::unordered_map<std::string, std::vector<Entry>> byTopic;
    };
    /// Where one publish goes on one node.
    struct Want {
        std::string address;
        bool plain = false;
        std::vector<std::string> groups;
    };

    // publish
    std::shared_ptr<const Index> index();
    void refreshIndex();  // a registry lookup replaces the index
    void applyEvent(std::int32_t event, const micro_registry_node& node);
    void rebuildIndexLocked(std::map<std::string, NodeRecord, std::less<>> nodes);
    bool sendTo(const std::string& node, const Want& want, const micro_message& message,
                const std::shared_ptr<Publish>& publish);
    std::shared_ptr<Link> link(const std::string& node, const std::string& address);
    std::uint64_t nextCursor(std::string_view topic, std::string_view group);

    // subscribe side
    void ensureListening();
    void syncRegistration();  // register, refresh or deregister this node
    void onAccept(void* connection, micro_connection_events* events);
    void onRequest(Inbound& inbound, const micro_transport_message& message);

    // threads and connections
    void maintain(std::stop_token stop);
    void connectionClosed() noexcept;

    const micro_host* host_;
    std::string instance_;
    const micro_registry_driver* registry_ = nullptr;
    void* registrySelf_ = nullptr;
    const micro_transport_driver* transport_ = nullptr;
    void* transportSelf_ = nullptr;
    std::string transportName_;

    std::string address_;  // config: where to listen
    std::string service_;  // config: registry service name
    std::chrono::milliseconds ttl_{30000};
    std::chrono::milliseconds timeout_{5000};
    std::string nodeId_;

    std::unique_ptr<LocalSubscriptions> subs_;  // reset last in the destructor

    std::mutex listenMutex_;  // guards listener_, bound_ (listening happens once)
    void* listener_ = nullptr;
    std::string bound_;

    std::mutex registerMutex_;  // serialises register/deregister of this node
    bool registered_ = false;

    std::mutex indexMutex_;  // guards index_, watch_, cursors_
    std::shared_ptr<const Index> index_;
    void* watch_ = nullptr;
    bool watching_ = false;
    std::unordered_map<std::string, std::uint64_t> cursors_;

    std::mutex peersMutex_;
    std::unordered_map<std::string, std::shared_ptr<Peer>> peers_;

    std::mutex connMutex_;  // guards inbound_, liveConnections_, stopping_
    std::condition_variable connCv_;
    std::unordered_map<Inbound*, std::unique_ptr<Inbound>> inbound_;
    std::size_t liveConnections_ = 0;
    bool stopping_ = false;

    std::atomic<std::uint64_t> nextRequestId_{1};

    std::mutex timerMutex_;  // guards pending_, timerWakeAt_
    std::condition_variable_any timerCv_;
    std::vector<std::shared_ptr<Publish>> pending_;
    std::chrono::steady_clock::time_point
        timerWakeAt_{};  // when the maintenance thread means to wake
    // Last: started after everything it uses exists. The destructor stops
    // and joins it first, before tearing down what it touches.
    std::jthread maintenance_;
};

}  // namespace micro::direct
