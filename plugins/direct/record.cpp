#include "record.hpp"

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <cstring>

#include "service.capnp.h"

namespace micro::direct {

std::string encodeRecord(std::string_view service, const NodeRecord& record) {
    capnp::MallocMessageBuilder message;
    auto root = message.initRoot<schema::ServiceRecord>();
    auto text = [](std::string_view s) { return capnp::Text::Reader(s.data(), s.size()); };
    root.setName(text(service));
    auto node = root.initNode();
    node.setId(text(record.id));
    node.setAddress(text(record.address));
    node.setTransport(text(record.transport));
    auto subs = root.initSubscribers(static_cast<unsigned>(record.subscriptions.size()));
    for (unsigned i = 0; i < subs.size(); ++i) {
        subs[i].setTopic(text(record.subscriptions[i].first));
        subs[i].setGroup(text(record.subscriptions[i].second));
    }
    auto words = capnp::messageToFlatArray(message);
    auto bytes = words.asBytes();
    return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

std::optional<NodeRecord> decodeRecord(std::string_view bytes) noexcept {
    if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) return std::nullopt;
    try {
        // Copied into words: the registry's bytes carry no alignment promise.
        auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
        std::memcpy(words.begin(), bytes.data(), bytes.size());
        capnp::ReaderOptions options;
        options.traversalLimitInWords = 1u << 20;
        capnp::FlatArrayMessageReader reader(words, options);
        auto root = reader.getRoot<schema::ServiceRecord>();
        NodeRecord out;
        auto node = root.getNode();
        auto str = [](capnp::Text::Reader t) { return std::string(t.begin(), t.size()); };
        out.id = str(node.getId());
        out.address = str(node.getAddress());
        out.transport = str(node.getTransport());
        for (auto sub : root.getSubscribers()) {
            out.subscriptions.emplace_back(str(sub.getTopic()), str(sub.getGroup()));
        }
        if (out.id.empty() || out.address.empty()) return std::nullopt;
        return out;
    } catch (...) {
        // kj::Exception for a malformed message, bad_alloc: not a record we can use.
        return std::nullopt;
    }
}

}  // namespace micro::direct
