// micro/codec.hpp — bytes <-> Cap'n Proto messages, chosen by Content-Type.
//
// Service endpoints take and return Cap'n Proto structs. On the wire a body is
// one of:
//   application/capnp         Cap'n Proto binary, standard (unpacked) framing:
//                             the segment table then the segments, one message.
//   application/json          JSON, mapped through the endpoint's schema.
//   application/octet-stream  raw bytes, passed through untouched (not a struct).
//
// JSON mapping (both directions; decode accepts everything encode emits):
//   struct, group   object keyed by the Cap'n Proto field names (camelCase).
//                   Primitive fields are always emitted; null pointer fields
//                   are omitted. Of a union only the active member is emitted
//                   (a null pointer member as `null`, a Void member as `null`).
//   Void            null
//   Bool            true / false
//   Int8..Int32,
//   UInt8..UInt32   number
//   Int64, UInt64   string of decimal digits, e.g. "-9007199254740993", as
//                   Cap'n Proto's own JsonCodec does: a JSON number is a double
//                   and cannot hold every 64-bit value. Decode accepts either a
//                   number or a decimal string for every integer width.
//   Float32/64      number (shortest round-trip form); NaN and the infinities as
//                   the strings "NaN", "Infinity", "-Infinity" (as JsonCodec).
//   Text            string. Invalid UTF-8 in a Text is emitted as U+FFFD.
//   Data            base64 string (RFC 4648, padded). Decode also accepts the
//                   URL-safe alphabet, missing padding, and JsonCodec's default
//                   form, an array of numbers 0..255.
//   enum            the enumerant's name; a value the schema does not know as a
//                   number. Decode accepts a name or a number.
//   List(T)         array.
//   AnyPointer, capabilities: no JSON form (encode of a non-null one fails with
//                   UNIMPLEMENTED; decode rejects them). So are the parameters
//                   of a generic struct loaded from nodes (they read as
//                   AnyPointer: a node does not carry its brand).
// Decode is strict: an unknown field, a duplicate key, two members of one
// union, a value of the wrong JSON type or out of range for the field's width
// is an INVALID_ARGUMENT error naming the field by its path from the root,
// e.g. "field 'items[2].count': 300 out of range for UInt8". Missing fields
// keep their defaults; `null` for a non-union field leaves it at its default.
// Malformed JSON is "malformed JSON at offset N: ..." (N counts bytes). JSON
// nesting is limited to 64 levels. $Json annotations are not interpreted.
//
// Errors: every failure is a micro::Error (see error.hpp); no kj::Exception
// escapes this API. Thread safety: a SchemaSet may be read from many threads
// at once; the free functions are reentrant.
#pragma once

#include <micro/error.hpp>

#include <capnp/dynamic.h>
#include <capnp/message.h>
#include <capnp/schema.capnp.h>
#include <capnp/schema.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace capnp {
class SchemaLoader;
}

namespace micro::codec {

/// The three body encodings an endpoint understands.
enum class ContentType { kCapnp, kJson, kRaw };

/// Parses a Content-Type header value. Accepts (case-insensitively, with
/// optional parameters such as "; charset=utf-8" after the media type)
/// "application/capnp", "application/x-capnp", "application/json",
/// "application/octet-stream". Anything else throws
/// Error(INVALID_ARGUMENT, "unsupported content type 'x'"); so does a
/// charset other than utf-8 for JSON.
ContentType parseContentType(std::string_view value);

/// The canonical media type: "application/capnp", "application/json",
/// "application/octet-stream".
std::string_view contentTypeName(ContentType type);

/// A set of Cap'n Proto struct and enum schemas addressable by their 64-bit
/// node ids: either compiled into this program (add) or loaded from serialized
/// schema nodes that some other program published (load), e.g. the
/// `schemaNodes` of a micro.schema.ServiceRecord. Copies share the loaded
/// schemas; a SchemaSet is cheap to copy.
class SchemaSet {
 public:
    SchemaSet();
    ~SchemaSet();
    SchemaSet(const SchemaSet&);
    SchemaSet(SchemaSet&&) noexcept;
    SchemaSet& operator=(const SchemaSet&);
    SchemaSet& operator=(SchemaSet&&) noexcept;

    /// Adds a struct and, recursively, every struct, group, enum and interface
    /// its fields reference (through lists too). An id already present is
    /// kept as it is. Returns *this.
    SchemaSet& add(capnp::StructSchema schema);

    /// add(capnp::Schema::from<T>()) for a generated struct type T.
    template <typename T>
    SchemaSet& add() {
        return add(capnp::Schema::from<T>());
    }

    /// Loads serialized schema nodes (e.g. ServiceRecord.schemaNodes) with
    /// capnp::SchemaLoader. Throws Error(INVALID_ARGUMENT) naming the node
    /// when a node is malformed, conflicts with another node of the same id,
    /// or references a struct/enum/interface that is not among the nodes.
    static SchemaSet load(capnp::List<capnp::schema::Node>::Reader nodes);

    /// Loads a message (standard framing) whose root is a
    /// micro.schema.SchemaBundle, as serialize() writes it. Garbage or
    /// truncated bytes throw Error(INVALID_ARGUMENT, "malformed ...").
    static SchemaSet deserialize(std::string_view bytes);

    /// A SchemaBundle message holding nodes() in standard framing.
    std::string serialize() const;

    /// Number of nodes in the set.
    std::size_t size() const noexcept { return schemas_.size(); }
    bool contains(std::uint64_t id) const noexcept;
    /// Node ids in insertion order (for add: the struct first, then what it
    /// references, depth first).
    std::vector<std::uint64_t> ids() const;

    /// The struct with this id. Throws Error(NOT_FOUND, "no schema 0x... in
    /// the set") when absent, Error(INVALID_ARGUMENT) when the id names an
    /// enum or interface.
    capnp::StructSchema find(std::uint64_t id) const;

    /// The node with this id, of any kind (struct, enum, interface).
    /// NOT_FOUND when absent.
    capnp::Schema get(std::uint64_t id) const;

    /// Writes every node into `out`, which must have exactly size() elements:
    ///   set.writeNodes(record.initSchemaNodes(set.size()));
    /// Throws Error(INVALID_ARGUMENT) on a size mismatch.
    void writeNodes(capnp::List<capnp::schema::Node>::Builder out) const;

    /// The type's name as declared, nested names dotted: "Outer.Inner".
    /// NOT_FOUND when absent.
    std::string name(std::uint64_t id) const;

    /// One line for people: "HelloRequest { name: Text, tags: List(Text) }",
    /// union members as "union { a: Int32, b: Void }", groups as
    /// "g: group { ... }", enums as "enum Color { red, green }".
    /// NOT_FOUND when absent.
    std::string describe(std::uint64_t id) const;

 private:
    void insert(capnp::Schema schema);
    void collect(capnp::Schema schema);
    void collectType(capnp::Type type);

    std::vector<capnp::Schema> schemas_;
    std::unordered_map<std::uint64_t, std::size_t> index_;
    std::vector<std::shared_ptr<capnp::SchemaLoader>> owners_;
};

/// Formatting of toJson / encode(kJson).
struct JsonOptions {
    bool pretty = false;  ///< newlines and two-space indentation
};

/// A struct as JSON text (see the mapping above). Throws
/// Error(UNIMPLEMENTED) naming the field for a non-null AnyPointer or
/// capability, Error(INVALID_ARGUMENT, "malformed capnp message: ...") when
/// the reader's message is malformed.
std::string toJson(const capnp::DynamicStruct::Reader& value, JsonOptions options = {});

/// Parses JSON text into `out` (whose schema drives the mapping). Throws
/// Error(INVALID_ARGUMENT) naming the field or the offset. On error `out` may
/// be partly written; decode() resets it instead.
void fromJson(std::string_view json, capnp::DynamicStruct::Builder out);

/// Checks that `json` is one well-formed JSON value (RFC 8259, UTF-8), with
/// no schema. Throws Error(INVALID_ARGUMENT, "malformed JSON at offset N:
/// ...") otherwise.
void checkJson(std::string_view json);

/// Decodes a body into out's root, initialised as `schema`:
///   kCapnp  one message in standard framing (any alignment; it is copied).
///           Read with a traversal limit proportional to its size and a
///           nesting limit of 64, and checked against `schema`: every Text,
///           Data, list and struct pointer must be of its field's type, so
///           reading the result never throws. Empty, truncated or garbage
///           bytes, trailing bytes, a segment table claiming more than the
///           body holds, a pointer of the wrong kind:
///           Error(INVALID_ARGUMENT, "malformed capnp message: ...").
///   kJson   fromJson.
///   kRaw    Error(INVALID_ARGUMENT): raw bytes are not a struct.
/// On error out's root is left as a default `schema` struct.
capnp::DynamicStruct::Builder decode(ContentType type, std::string_view body,
                                     capnp::StructSchema schema, capnp::MessageBuilder& out);

/// Encodes a struct: kCapnp as one message in standard framing, kJson as
/// toJson(value, options). kRaw: Error(INVALID_ARGUMENT).
std::string encode(ContentType type, const capnp::DynamicStruct::Reader& value,
                   JsonOptions options = {});

/// Typed forms for generated struct types T.
template <typename T>
typename T::Builder decode(ContentType type, std::string_view body, capnp::MessageBuilder& out) {
    decode(type, body, capnp::Schema::from<T>(), out);
    return out.getRoot<T>();
}

template <typename T>
std::string encode(ContentType type, typename T::Reader value, JsonOptions options = {}) {
    return encode(type, capnp::DynamicStruct::Reader(value), options);
}

template <typename T>
std::string toJson(typename T::Reader value, JsonOptions options = {}) {
    return toJson(capnp::DynamicStruct::Reader(value), options);
}

template <typename T>
void fromJson(std::string_view json, typename T::Builder out) {
    fromJson(json, capnp::DynamicStruct::Builder(out));
}

}  // namespace micro::codec
