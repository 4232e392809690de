// `micro services`, `micro describe SERVICE`, `micro call SERVICE ENDPOINT JSON`.
#include <micro/client.hpp>
#include <micro/codec.hpp>
#include <micro/runtime.hpp>

#include <capnp/serialize.h>
#include <fmt/core.h>
#include <kj/exception.h>

#include <charconv>
#include <cstring>
#include <iostream>
#include <thread>

#include "commands.hpp"
#include "service.capnp.h"

namespace micro::cli {

namespace {

// A registry record, decoded; `words` keeps its memory alive.
struct DecodedRecord {
    kj::Array<capnp::word> words;
    std::unique_ptr<capnp::FlatArrayMessageReader> reader;
    schema::ServiceRecord::Reader root() const { return reader->getRoot<schema::ServiceRecord>(); }
};

std::optional<DecodedRecord> decodeRecord(const std::string& bytes) {
    if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) return std::nullopt;
    DecodedRecord r;
    r.words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
    std::memcpy(r.words.begin(), bytes.data(), bytes.size());
    try {
        r.reader = std::make_unique<capnp::FlatArrayMessageReader>(r.words);
        r.root().getName();  // touch it: a malformed record throws here
        return r;
    } catch (const kj::Exception&) {
        return std::nullopt;
    }
}

std::string typeLine(const codec::SchemaSet& schemas, std::uint64_t id) {
    if (id == 0) return "bytes";
    try {
        return schemas.describe(id);
    } catch (const Error&) {
        return fmt::format("<unknown type 0x{:016x}>", id);
    }
}

}  // namespace

int services(const Options& options) {
    Runtime rt = Runtime::load(findManifest(options.manifest));
    for (const auto& name : rt.registry().listServices()) fmt::print("{}\n", name);
    return 0;
}

int describe(const Options& options) {
    if (options.args.size() != 1)
        throw Error(Code::kInvalidArgument, "usage: micro describe SERVICE");
    Runtime rt = Runtime::load(findManifest(options.manifest));
    std::vector<Node> nodes = rt.registry().lookup(options.args[0]);
    fmt::print("service: {}\n", options.args[0]);
    bool endpointsShown = false;
    for (const Node& n : nodes) {
        auto record = decodeRecord(n.record);
        if (!record) {
            fmt::print("node:    {} (unreadable record, {} bytes)\n", n.node, n.record.size());
            continue;
        }
        auto r = record->root();
        fmt::print("node:    {}  {}  version {}  transport {}\n", n.node,
                   r.getNode().getAddress().cStr(), r.getVersion().cStr(),
                   r.getNode().getTransport().cStr());
        codec::SchemaSet schemas = codec::SchemaSet::load(r.getSchemaNodes());
        // Subscriptions differ per node (e.g. one broker node per process).
        for (auto sub : r.getSubscribers()) {
            std::string type;
            for (auto md : sub.getMetadata()) {
                if (md.getKey() != "messageType") continue;
                std::uint64_t id = 0;
                std::string_view text = md.getValue().cStr();
                if (text.starts_with("0x")) text.remove_prefix(2);
                std::from_chars(text.data(), text.data() + text.size(), id, 16);
                type = "  message: " + typeLine(schemas, id);
            }
            fmt::print("  subscribes: {}{}{}\n", sub.getTopic().cStr(),
                       sub.getGroup().size() > 0 ? fmt::format("  group {}", sub.getGroup().cStr())
                                                 : std::string(),
                       type);
        }
        if (endpointsShown || r.getEndpoints().size() == 0) continue;
        endpointsShown = true;
        fmt::print("endpoints:\n");
        for (auto e : r.getEndpoints()) {
            std::string kind = e.getClientStream() || e.getServerStream() ? " (stream)" : "";
            if (e.getIdempotent()) kind += " (idempotent)";
            fmt::print("  {}{}\n    request:  {}\n    response: {}\n", e.getName().cStr(), kind,
                       typeLine(schemas, e.getRequestType()),
                       typeLine(schemas, e.getResponseType()));
        }
    }
    return 0;
}

int call(const Options& options) {
    if (options.args.size() < 2 || (!options.stream && options.args.size() != 3)) {
        throw Error(Code::kInvalidArgument,
                    "usage: micro call SERVICE ENDPOINT JSON | micro call --stream SERVICE "
                    "ENDPOINT [JSON...]");
    }
    Runtime rt = Runtime::load(findManifest(options.manifest));
    Client client(rt);
    CallOptions callOptions;
    callOptions.contentType = kContentJson;
    callOptions.timeout = options.timeout;
    const std::string& service = options.args[0];
    const std::string& endpoint = options.args[1];
    if (!options.stream) {
        Response r = client.call(service, endpoint, options.args[2], callOptions);
        fmt::print("{}\n", r.body);
        return 0;
    }
    // Stream: every JSON argument (or stdin line when there is none) is one
    // message; every reply message is printed as it arrives.
    Stream stream = client.stream(service, endpoint, callOptions);
    std::thread reader;
    std::exception_ptr readError;
    reader = std::thread([&] {
        try {
            std::string message;
            while (stream.recv(message)) {
                fmt::print("{}\n", message);
                std::fflush(stdout);
            }
        } catch (...) {
            readError = std::current_exception();
        }
    });
    try {
        if (options.args.size() > 2) {
            for (std::size_t i = 2; i < options.args.size(); ++i) stream.send(options.args[i]);
        } else {
            std::string line;
            while (std::getline(std::cin, line)) {
                if (!line.empty()) stream.send(line);
            }
        }
        stream.closeSend();
    } catch (...) {
        reader.join();
        throw;
    }
    reader.join();
    if (readError) std::rethrow_exception(readError);
    return 0;
}

}  // namespace micro::cli
