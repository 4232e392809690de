#include "routes.hpp"

#include <micro/codec.hpp>

#include <capnp/serialize.h>
#include <fmt/core.h>
#include <kj/exception.h>

#include <cstring>
#include <mutex>
#include <optional>

#include "service.capnp.h"

namespace micro::gateway {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

std::string describe(const codec::SchemaSet& schemas, std::uint64_t id) {
    if (id == 0) return "bytes";
    try {
        return schemas.describe(id);
    } catch (const Error&) {
        return fmt::format("<unknown type 0x{:016x}>", id);
    }
}

// Adds the endpoints of one encoded record that `routes` does not have yet.
// A malformed record is skipped, as the client skips its node.
void addRecord(ServiceRoutes& routes, std::string_view bytes) {
    if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) return;
    // Registry bytes carry no alignment promise: copy into words.
    kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(words.begin(), bytes.data(), bytes.size());
    try {
        capnp::FlatArrayMessageReader reader(words);
        auto record = reader.getRoot<schema::ServiceRecord>();
        std::optional<codec::SchemaSet> schemas;
        for (auto e : record.getEndpoints()) {
            std::string name = e.getName();
            bool known = false;
            for (const auto& have : routes.endpoints) known = known || have.name == name;
            if (known) continue;
            if (!schemas) {
                try {
                    schemas = codec::SchemaSet::load(record.getSchemaNodes());
                } catch (const Error&) {
                    schemas.emplace();  // types then read as unknown
                }
            }
            routes.endpoints.push_back({std::move(name), e.getClientStream() || e.getServerStream(),
                                        describe(*schemas, e.getRequestType()),
                                        describe(*schemas, e.getResponseType())});
        }
    } catch (const kj::Exception&) {
    }
}

}  // namespace

Resolution resolve(const ServiceRoutes& routes, std::string_view method) {
    Resolution r;
    for (const auto& e : routes.endpoints) {
        if (e.name == method) {
            r.endpoint = &e;
            return r;
        }
    }
    const EndpointRoute* found = nullptr;
    for (const auto& e : routes.endpoints) {
        std::string_view name = e.name;
        auto dot = name.rfind('.');
        std::string_view shortName = dot == std::string_view::npos ? name : name.substr(dot + 1);
        if (!iequals(name, method) && !iequals(shortName, method)) continue;
        if (found != nullptr) {
            if (r.ambiguous.empty()) r.ambiguous = found->name;
            r.ambiguous += ", " + e.name;
        }
        found = &e;
    }
    if (r.ambiguous.empty()) r.endpoint = found;
    return r;
}

RouteTable::RouteTable(Registry& registry, std::chrono::milliseconds ttl)
    : registry_(registry), ttl_(ttl) {
    try {
        // A node coming or going may change the endpoints; a re-registration
        // (kUpdated, every few seconds per node) does not, and the TTL covers
        // a node restarted in place.
        watch_ = registry_.watch({}, [this](RegistryEvent event, const Node& node) {
            if (event != RegistryEvent::kUpdated) invalidate(node.service);
        });
    } catch (const Error&) {
        // A registry that cannot watch: the TTL alone keeps entries fresh.
    }
}

RouteTable::~RouteTable() { watch_.stop(); }

void RouteTable::invalidate(std::string_view service) {
    std::unique_lock lock(mutex_);
    auto it = cache_.find(service);
    if (it != cache_.end()) cache_.erase(it);
}

std::shared_ptr<const ServiceRoutes> RouteTable::cached(std::string_view service) const {
    std::shared_lock lock(mutex_);
    auto it = cache_.find(service);
    if (it == cache_.end() || Clock::now() - it->second.fetched >= ttl_) return nullptr;
    return it->second.routes;
}

std::shared_ptr<const ServiceRoutes> RouteTable::fetch(std::string_view service) {
    Clock::time_point now = Clock::now();
    auto routes = std::make_shared<ServiceRoutes>();
    routes->service.assign(service);
    std::vector<Node> nodes;
    try {
        nodes = registry_.lookup(service);
    } catch (const Error& e) {
        if (e.code() == Code::kNotFound) {
            throw Error(Code::kNotFound, fmt::format("service '{}' not found", service));
        }
        throw;
    }
    if (nodes.empty()) throw Error(Code::kNotFound, fmt::format("service '{}' not found", service));
    routes->nodes = nodes.size();
    for (const Node& n : nodes) addRecord(*routes, n.record);
    std::unique_lock lock(mutex_);
    cache_.insert_or_assign(std::string(service), Entry{routes, now});
    return routes;
}

std::vector<std::shared_ptr<const ServiceRoutes>> RouteTable::all() {
    std::vector<std::shared_ptr<const ServiceRoutes>> out;
    for (const std::string& name : registry_.listServices()) {
        try {
            out.push_back(fetch(name));
        } catch (const Error& e) {
            // Gone between the listing and the lookup.
            if (e.code() != Code::kNotFound) throw;
        }
    }
    return out;
}

}  // namespace micro::gateway
