#include "discovery.hpp"

#include <capnp/serialize.h>
#include <fmt/core.h>
#include <kj/exception.h>

#include <cstring>
#include <mutex>

#include "service.capnp.h"

namespace micro::rpc {

std::optional<NodeInfo> decodeNodeInfo(std::string_view record) {
    if (record.empty() || record.size() % sizeof(capnp::word) != 0) return std::nullopt;
    // Copy into word-aligned memory: registry bytes carry no alignment promise.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(record.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), record.data(), record.size());
    try {
        capnp::FlatArrayMessageReader reader(words);
        auto record = reader.getRoot<schema::ServiceRecord>();
        auto node = record.getNode();
        NodeInfo info{node.getId(), node.getAddress(), {}};
        for (auto e : record.getEndpoints()) {
            if (e.getIdempotent()) info.idempotentEndpoints.emplace_back(e.getName());
        }
        if (info.address.empty()) return std::nullopt;
        return info;
    } catch (const kj::Exception&) {
        return std::nullopt;
    }
}

Discovery::Discovery(Registry& registry, std::chrono::milliseconds ttl)
    : registry_(registry), ttl_(ttl) {
    try {
        watch_ = registry_.watch({}, [this](RegistryEvent, const Node& node) {
            invalidate(node.service);
        });
    } catch (const Error&) {
        // A registry that cannot watch: the cache TTL alone keeps entries fresh.
    }
}

Discovery::~Discovery() { watch_.stop(); }

void Discovery::invalidate(std::string_view service) {
    std::unique_lock lock(mutex_);
    auto it = cache_.find(service);
    if (it != cache_.end()) cache_.erase(it);
}

bool Discovery::idempotent(std::string_view service, std::string_view endpoint) {
    std::shared_lock lock(mutex_);
    auto it = cache_.find(service);
    if (it == cache_.end()) return false;
    for (const auto& n : *it->second.nodes) {
        for (const auto& e : n.idempotentEndpoints) {
            if (e == endpoint) return true;
        }
    }
    return false;
}

std::shared_ptr<const std::vector<NodeInfo>> Discovery::nodes(std::string_view service) {
    Clock::time_point now = Clock::now();
    std::shared_ptr<const std::vector<NodeInfo>> stale;
    {
        std::shared_lock lock(mutex_);
        auto it = cache_.find(service);
        if (it != cache_.end()) {
            if (now - it->second.fetched < ttl_) return it->second.nodes;
            stale = it->second.nodes;
        }
    }
    auto fresh = std::make_shared<std::vector<NodeInfo>>();
    try {
        for (const Node& n : registry_.lookup(service)) {
            if (auto info = decodeNodeInfo(n.record)) fresh->push_back(std::move(*info));
        }
    } catch (const Error& e) {
        if (e.code() == Code::kNotFound) {
            invalidate(service);
            throw Error(Code::kNotFound, fmt::format("service '{}' not found", service));
        }
        if (stale) return stale;  // registry unreachable: keep calling what we knew
        throw;
    }
    if (fresh->empty()) {
        throw Error(Code::kNotFound, fmt::format("service '{}' has no usable node", service));
    }
    std::unique_lock lock(mutex_);
    cache_.insert_or_assign(std::string(service), Entry{fresh, now});
    return fresh;
}

}  // namespace micro::rpc
