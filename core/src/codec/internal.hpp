// Helpers shared by the codec's translation units (not installed).
#pragma once

#include <micro/codec.hpp>
#include <micro/error.hpp>

#include <capnp/serialize.h>
#include <kj/array.h>
#include <kj/exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace micro::codec::detail {

/// "0x" followed by 16 lower-case hex digits.
std::string hexId(std::uint64_t id);

/// The declared name of a type, nested names dotted ("Outer.Inner"): the
/// node's display name after the file prefix.
std::string schemaName(capnp::Schema schema);

/// "Text", "UInt8", "List(Inner)", "Color", "AnyPointer", ...
std::string typeName(capnp::Type type);

/// A kj::Exception's description for people: without KJ_REQUIRE's
/// "expected <condition> [<values>]; " prefix (which names capnp's internals
/// and may quote raw message bytes), other bytes outside printable ASCII as '?'.
inline std::string kjMessage(const kj::Exception& e) {
    const kj::StringPtr description = e.getDescription();
    std::string_view text(description.begin(), description.size());
    if (text.rfind("expected ", 0) == 0) {
        auto end = text.find("]; ");
        if (end != std::string_view::npos) {
            text.remove_prefix(end + 3);
        } else if ((end = text.find("; ")) != std::string_view::npos) {
            text.remove_prefix(end + 2);
        }
    }
    std::string out(text);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    return out;
}

/// Reads every pointer of `value` that its schema gives a type (Text, Data,
/// lists, structs, groups, the active union member), recursively, so that
/// capnp checks each one is of that type: afterwards nothing a reader of this
/// schema does throws. AnyPointer and capability fields are not read. Throws
/// kj::Exception on a mismatch.
void validate(capnp::DynamicStruct::Reader value);

/// Reads one message in standard framing from `bytes` (copied when not
/// word-aligned), with a traversal limit proportional to its size and a
/// nesting limit of 64, and calls fn(capnp::MessageReader&). Framing errors
/// and kj exceptions raised by fn become Error(INVALID_ARGUMENT,
/// "malformed <what>: ...").
template <typename Fn>
void readMessage(std::string_view bytes, std::string_view what, Fn&& fn) {
    auto malformed = [&](const std::string& detail) {
        return Error(Code::kInvalidArgument, "malformed " + std::string(what) + ": " + detail);
    };
    if (bytes.empty()) throw malformed("empty");
    if (bytes.size() % sizeof(capnp::word) != 0)
        throw malformed(std::to_string(bytes.size()) +
                        " bytes is not a whole number of 8-byte words");
    const std::size_t words = bytes.size() / sizeof(capnp::word);
    kj::Array<capnp::word> copy;
    kj::ArrayPtr<const capnp::word> view;
    if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
        view = kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes.data()), words);
    } else {
        copy = kj::heapArray<capnp::word>(words);
        std::memcpy(copy.begin(), bytes.data(), bytes.size());
        view = copy.asPtr();
    }
    capnp::ReaderOptions options;
    options.traversalLimitInWords = std::max<std::uint64_t>(std::uint64_t{words} * 8, 1024);
    options.nestingLimit = 64;
    try {
        capnp::FlatArrayMessageReader reader(view, options);
        if (reader.getEnd() != view.end()) {
            const auto trailing = static_cast<std::size_t>(view.end() - reader.getEnd());
            throw malformed(std::to_string(trailing * sizeof(capnp::word)) +
                            " trailing bytes after the message");
        }
        fn(static_cast<capnp::MessageReader&>(reader));
    } catch (const kj::Exception& e) {
        throw malformed(kjMessage(e));
    }
}

/// message.initRoot<capnp::DynamicStruct>(schema), the struct's size taken
/// from the JSON codec's field tables rather than from the schema's node.
capnp::DynamicStruct::Builder initRoot(capnp::MessageBuilder& message, capnp::StructSchema schema);

/// Writes one message in standard framing into a string.
std::string writeMessage(capnp::MessageBuilder& message);

}  // namespace micro::codec::detail
