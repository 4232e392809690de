#include "local_registry.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include "common.hpp"
#include "paths.hpp"

namespace micro::sqlite {

namespace {

constexpr std::int64_t kEventBatch = 512;  // events read per query
constexpr std::chrono::milliseconds kTrimEvery{1000};

std::int64_t boundedInt(const driver::Config& config, std::string_view key, std::int64_t fallback,
                        std::int64_t min, std::int64_t max) {
    std::int64_t v = config.getInt(key, fallback);
    if (v < min || v > max) {
        throw Error(Code::kInvalidArgument, "key '" + std::string(key) + "': must be between " +
                                                std::to_string(min) + " and " +
                                                std::to_string(max) + ", got " + std::to_string(v));
    }
    return v;
}

}  // namespace

LocalRegistry::LocalRegistry(const driver::Context& ctx)
    : sweepLog_(ctx.host, std::string(ctx.instanceName), "sweeping expired nodes"),
      watchLog_(ctx.host, std::string(ctx.instanceName), "reading registry events") {
    ctx.config.allowOnly({"path", "poll_ms", "busy_timeout_ms"});
    std::string path = ctx.config.getString("path", "");
    if (ctx.config.find("path") && path.empty()) {
        throw Error(Code::kInvalidArgument, "key 'path': must not be empty");
    }
    if (path.empty()) path = defaultRegistryPath();
    poll_ = std::chrono::milliseconds(boundedInt(ctx.config, "poll_ms", 100, 1, 60'000));
    std::int64_t busyMs = boundedInt(ctx.config, "busy_timeout_ms", 5000, 0, 3'600'000);

    try {
        ensureParentDirectory(path);
    } catch (const Error& e) {
        throw Error(e.code(), "registry database '" + path + "': " + e.what());
    }
    writer_ = std::make_unique<RegistryTables>(path, busyMs);
    reader_ = std::make_unique<RegistryTables>(path, busyMs);
    ctx.log(MICRO_LOG_DEBUG, "registry database '" + path + "'");

    sweeper_ = std::jthread([this](std::stop_token stop) { sweepLoop(stop); });
    watcher_ = std::jthread([this](std::stop_token stop) { watchLoop(stop); });
}

LocalRegistry::~LocalRegistry() {
    // Both asked before either is joined (by the members' destructors), so
    // they wind down together.
    sweeper_.request_stop();
    watcher_.request_stop();
}

void LocalRegistry::registerNode(const micro_registry_node& in) {
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
    {
        std::lock_guard db(writeMutex_);
        writer_->registerNode(service, name, abi::view(in.record), in.ttl_ms);
    }
    kick();
}

void LocalRegistry::deregisterNode(std::string_view service, std::string_view name) {
    bool found = false;
    {
        std::lock_guard db(writeMutex_);
        found = writer_->deregisterNode(service, name);
    }
    kick();
    if (!found) {
        throw Error(Code::kNotFound,
                    "no node '" + printable(name) + "' of service '" + printable(service) + "'");
    }
}

void LocalRegistry::lookup(std::string_view service, driver::NodeSink& out) {
    std::vector<NodeRow> live;
    {
        std::lock_guard db(readMutex_);
        live = reader_->lookup(service);
    }
    if (live.empty()) {
        throw Error(Code::kNotFound, "no live node of service '" + printable(service) + "'");
    }
    for (const auto& n : live) {
        micro_registry_node node{sizeof(micro_registry_node), abi::str(service), abi::str(n.node),
                                 abi::bytes(n.record), n.ttlMs};
        out.emit(node);
    }
}

void LocalRegistry::listServices(driver::StringSink& out) {
    std::vector<std::string> names;
    {
        std::lock_guard db(readMutex_);
        names = reader_->services();
    }
    for (const auto& name : names) out.emit(name);
}

void* LocalRegistry::watch(std::string_view service, micro_registry_watcher watcher) {
    if (watcher.fn == nullptr) throw Error(Code::kInvalidArgument, "no watcher function");
    auto w = std::make_shared<Watch>();
    w->service = service;
    w->watcher = watcher;
    {
        std::lock_guard db(readMutex_);
        w->lastSeen = reader_->lastSeq();
    }
    {
        std::lock_guard lock(mutex_);
        watches_.emplace(w.get(), w);
        poke_ = true;  // the watcher may be asleep with no watch to poll for
    }
    watchWake_.notify_all();
    return w.get();
}

void LocalRegistry::unwatch(void* handle) noexcept {
    std::unique_lock lock(mutex_);
    auto it = watches_.find(handle);
    if (it == watches_.end()) return;
    std::shared_ptr<Watch> w = std::move(it->second);
    watches_.erase(it);
    w->active = false;
    if (std::this_thread::get_id() == watcher_.get_id()) return;  // from inside a watcher
    delivered_.wait(lock, [&] { return delivering_ != w.get(); });
}

void LocalRegistry::kick() {
    {
        std::lock_guard lock(mutex_);
        if (watches_.empty()) return;
        poke_ = true;
    }
    watchWake_.notify_all();
}

void LocalRegistry::sweepLoop(std::stop_token stop) {
    auto nextTrim = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        // Nothing but a stop ends the wait early.
        sweepWake_.wait_for(lock, stop, poll_, [] { return false; });
        if (stop.stop_requested()) break;
        lock.unlock();
        std::size_t swept = 0;
        std::string failure;
        try {
            std::lock_guard db(writeMutex_);
            swept = writer_->sweep();
            if (std::chrono::steady_clock::now() >= nextTrim) {
                writer_->trimEvents(kEventRetentionMs);
                nextTrim = std::chrono::steady_clock::now() + kTrimEvery;
            }
        } catch (const std::exception& e) {
            failure = e.what();
        }
        sweepLog_.failed(failure);  // logged with no lock held; empty: ok
        if (swept > 0) kick();
        lock.lock();
    }
}

void LocalRegistry::watchLoop(std::stop_token stop) {
    std::unique_lock lock(mutex_);
    while (!stop.stop_requested()) {
        if (watches_.empty()) {
            // Nothing to poll for until watch() pokes.
            watchWake_.wait(lock, stop, [this] { return poke_; });
        } else {
            watchWake_.wait_for(lock, stop, poll_, [this] { return poke_; });
        }
        poke_ = false;
        if (stop.stop_requested()) break;
        if (watches_.empty()) continue;
        try {
            std::vector<std::shared_ptr<Watch>> targets;
            std::int64_t from = std::numeric_limits<std::int64_t>::max();
            for (const auto& [handle, w] : watches_) {
                targets.push_back(w);
                from = std::min(from, w->lastSeen);
            }
            lock.unlock();
            std::vector<EventRow> events;
            std::string failure;
            try {
                std::lock_guard db(readMutex_);
                events = reader_->eventsAfter(from, kEventBatch);
            } catch (const std::exception& e) {
                failure = e.what();
            }
            watchLog_.failed(failure);  // logged with no lock held; empty: ok
            lock.lock();
            for (const auto& e : events) {
                micro_registry_node node{sizeof(micro_registry_node), abi::str(e.service),
                                         abi::str(e.node), abi::bytes(e.record), e.ttlMs};
                for (const auto& w : targets) {
                    if (stop.stop_requested()) break;
                    if (!w->active || e.seq <= w->lastSeen) continue;
                    w->lastSeen = e.seq;
                    if (!w->service.empty() && w->service != e.service) continue;
                    delivering_ = w.get();
                    lock.unlock();
                    w->watcher.fn(w->watcher.ctx, e.type, &node);
                    lock.lock();
                    delivering_ = nullptr;
                    delivered_.notify_all();
                }
            }
            // A full batch: more are waiting, read on without sleeping.
            if (static_cast<std::int64_t>(events.size()) == kEventBatch) poke_ = true;
        } catch (...) {
            // Out of memory copying the watch list: try again next round.
            if (!lock.owns_lock()) lock.lock();
        }
    }
}

}  // namespace micro::sqlite
