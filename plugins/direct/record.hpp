// plugins/direct/record.hpp — the registry record of one direct-broker
// instance, in the core's own format (micro::schema::ServiceRecord from
// core/schema/service.capnp), so `micro services` and `micro describe` show
// the broker's nodes and their subscriptions like any service's.
//
// Contract: pure functions; safe from any thread. Decoding never throws and
// never trusts its input: a record that is not a well-formed ServiceRecord
// (another program's node under the same service name, garbage) is nullopt.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace micro::direct {

struct NodeRecord {
    std::string id;         // unique per broker instance
    std::string address;    // where its listener is reached
    std::string transport;  // the transport driver's name ("tcp")
    // (topic, group) of every subscription; group empty = plain
    std::vector<std::pair<std::string, std::string>> subscriptions;
};

/// The Cap'n Proto bytes of `record` as a ServiceRecord named `service`.
std::string encodeRecord(std::string_view service, const NodeRecord& record);

std::optional<NodeRecord> decodeRecord(std::string_view bytes) noexcept;

}  // namespace micro::direct
