#include "memory_registry.hpp"

#include <iterator>

#include "common.hpp"

namespace micro::memory {

MemoryRegistry::MemoryRegistry(const driver::Context& ctx) {
    ctx.config.allowOnly({});
    dispatcher_ = std::jthread([this](std::stop_token stop) { dispatch(stop); });
}

// dispatcher_, the last member, is stopped and joined first.
MemoryRegistry::~MemoryRegistry() = default;

void MemoryRegistry::enqueue(std::int32_t type, const std::string& service, const std::string& node,
                             const Node& value) {
    Event event;
    for (const auto& [handle, watch] : watches_) {
        if (watch->service.empty() || watch->service == service) event.targets.push_back(watch);
    }
    if (event.targets.empty()) return;  // nobody listens: nothing to keep
    event.type = type;
    event.service = service;
    event.node = node;
    event.record = value.record;
    event.ttlMs = value.ttlMs;
    events_.push_back(std::move(event));
    wake_.notify_one();
}

void MemoryRegistry::registerNode(const micro_registry_node& in) {
    std::string_view service = abi::view(in.service);
    std::string_view name = abi::view(in.node);
    if (service.empty()) throw Error(Code::kInvalidArgument, "empty service name");
    if (name.empty()) {
        throw Error(Code::kInvalidArgument,
                    "empty node name for service '" + printable(service) + "'");
    }
    if (in.ttl_ms < 0) {
        throw Error(Code::kInvalidArgument, "negative ttl_ms " + std::to_string(in.ttl_ms) +
                                                " for node '" + printable(name) + "' of service '" +
                                                printable(service) + "'");
    }
    Node value;
    value.record = abi::view(in.record);
    value.ttlMs = in.ttl_ms;
    Clock::time_point now = Clock::now();
    if (in.ttl_ms > 0) value.expires = now + std::chrono::milliseconds(in.ttl_ms);

    std::lock_guard lock(mutex_);
    auto svc = services_.find(service);
    if (svc == services_.end())
        svc = services_.emplace(std::string(service), decltype(svc->second){}).first;
    auto it = svc->second.find(name);
    std::int32_t event = MICRO_REGISTRY_CREATED;
    if (it == svc->second.end()) {
        it = svc->second.emplace(std::string(name), Node{}).first;
    } else if (it->second.liveAt(now)) {
        event = MICRO_REGISTRY_UPDATED;
    } else {
        // Expired but not yet swept: watchers saw it created, so they get
        // its deletion before it is created again.
        enqueue(MICRO_REGISTRY_DELETED, svc->first, it->first, it->second);
    }
    it->second = std::move(value);
    enqueue(event, svc->first, it->first, it->second);
    if (it->second.expires < nextExpiry_) {
        nextExpiry_ = it->second.expires;
        wake_.notify_one();
    }
}

void MemoryRegistry::deregisterNode(std::string_view service, std::string_view name) {
    bool found = false;
    {
        std::lock_guard lock(mutex_);
        auto svc = services_.find(service);
        if (svc != services_.end()) {
            auto it = svc->second.find(name);
            if (it != svc->second.end()) {
                found = it->second.liveAt(Clock::now());
                enqueue(MICRO_REGISTRY_DELETED, svc->first, it->first, it->second);
                svc->second.erase(it);
                if (svc->second.empty()) services_.erase(svc);
            }
        }
    }
    if (!found) {
        throw Error(Code::kNotFound,
                    "no node '" + printable(name) + "' of service '" + printable(service) + "'");
    }
}

void MemoryRegistry::lookup(std::string_view service, driver::NodeSink& out) {
    // Copied out so the sink runs with no lock held (it may call back in).
    std::vector<std::pair<std::string, Node>> live;
    {
        std::lock_guard lock(mutex_);
        auto svc = services_.find(service);
        if (svc != services_.end()) {
            Clock::time_point now = Clock::now();
            for (const auto& [name, node] : svc->second) {
                if (node.liveAt(now)) live.emplace_back(name, node);
            }
        }
    }
    if (live.empty()) {
        throw Error(Code::kNotFound, "no live node of service '" + printable(service) + "'");
    }
    for (const auto& [name, node] : live) {
        micro_registry_node n{sizeof(micro_registry_node), abi::str(service), abi::str(name),
                              abi::bytes(node.record), node.ttlMs};
        out.emit(n);
    }
}

void MemoryRegistry::listServices(driver::StringSink& out) {
    std::vector<std::string> names;
    {
        std::lock_guard lock(mutex_);
        Clock::time_point now = Clock::now();
        for (const auto& [service, nodes] : services_) {
            for (const auto& [name, node] : nodes) {
                if (node.liveAt(now)) {
                    names.push_back(service);  // map order: sorted, each once
                    break;
                }
            }
        }
    }
    for (const auto& name : names) out.emit(name);
}

void* MemoryRegistry::watch(std::string_view service, micro_registry_watcher watcher) {
    if (watcher.fn == nullptr) throw Error(Code::kInvalidArgument, "no watcher function");
    auto w = std::make_shared<Watch>();
    w->service = service;
    w->watcher = watcher;
    std::lock_guard lock(mutex_);
    watches_.emplace(w.get(), w);
    return w.get();
}

void MemoryRegistry::unwatch(void* handle) noexcept {
    std::unique_lock lock(mutex_);
    auto it = watches_.find(handle);
    if (it == watches_.end()) return;
    std::shared_ptr<Watch> w = std::move(it->second);
    watches_.erase(it);
    w->active = false;  // queued events for it are skipped
    if (std::this_thread::get_id() == dispatcher_.get_id()) return;  // from inside a watcher
    delivered_.wait(lock, [&] { return delivering_ != w.get(); });
}

void MemoryRegistry::sweep(Clock::time_point now) {
    if (now < nextExpiry_) return;
    Clock::time_point next = Clock::time_point::max();
    for (auto svc = services_.begin(); svc != services_.end();) {
        auto& nodes = svc->second;
        for (auto it = nodes.begin(); it != nodes.end();) {
            if (!it->second.liveAt(now)) {
                enqueue(MICRO_REGISTRY_DELETED, svc->first, it->first, it->second);
                it = nodes.erase(it);
            } else {
                if (it->second.expires < next) next = it->second.expires;
                ++it;
            }
        }
        svc = nodes.empty() ? services_.erase(svc) : std::next(svc);
    }
    nextExpiry_ = next;
}

void MemoryRegistry::dispatch(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        try {
            sweep(Clock::now());
        } catch (...) {
            // Out of memory queueing an event: the node is still removed;
            // its watchers miss one DELETED. Keep the thread alive.
        }
        if (!events_.empty()) {
            Event event = std::move(events_.front());
            events_.pop_front();
            micro_registry_node node{sizeof(micro_registry_node), abi::str(event.service),
                                     abi::str(event.node), abi::bytes(event.record), event.ttlMs};
            for (const auto& target : event.targets) {
                if (!target->active || stop.stop_requested()) continue;
                delivering_ = target.get();
                lock.unlock();
                target->watcher.fn(target->watcher.ctx, event.type, &node);
                lock.lock();
                delivering_ = nullptr;
                delivered_.notify_all();
            }
            continue;
        }
        // Notified when an event is queued or nextExpiry_ moves earlier.
        Clock::time_point expiry = nextExpiry_;
        auto woken = [&] { return !events_.empty() || nextExpiry_ < expiry; };
        if (expiry == Clock::time_point::max()) {
            wake_.wait(lock, stop, woken);
        } else {
            wake_.wait_until(lock, stop, expiry, woken);
        }
    }
}

}  // namespace micro::memory
