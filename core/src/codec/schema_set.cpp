// SchemaSet: struct/enum schemas by node id, compiled in or loaded from nodes.
#include <micro/codec.hpp>

#include <capnp/schema-loader.h>

#include <cstdio>
#include <unordered_set>

#include "internal.hpp"
#include "service.capnp.h"

namespace micro::codec {

namespace detail {

std::string hexId(std::uint64_t id) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(id));
    return buf;
}

std::string schemaName(capnp::Schema schema) {
    std::string_view display = schema.getProto().getDisplayName().cStr();
    const auto colon = display.rfind(':');
    if (colon != std::string_view::npos) display.remove_prefix(colon + 1);
    if (display.empty()) return hexId(schema.getProto().getId());
    return std::string(display);
}

std::string typeName(capnp::Type type) {
    using W = capnp::schema::Type;
    switch (type.which()) {
        case W::VOID:
            return "Void";
        case W::BOOL:
            return "Bool";
        case W::INT8:
            return "Int8";
        case W::INT16:
            return "Int16";
        case W::INT32:
            return "Int32";
        case W::INT64:
            return "Int64";
        case W::UINT8:
            return "UInt8";
        case W::UINT16:
            return "UInt16";
        case W::UINT32:
            return "UInt32";
        case W::UINT64:
            return "UInt64";
        case W::FLOAT32:
            return "Float32";
        case W::FLOAT64:
            return "Float64";
        case W::TEXT:
            return "Text";
        case W::DATA:
            return "Data";
        case W::LIST:
            return "List(" + typeName(type.asList().getElementType()) + ")";
        case W::ENUM:
            return schemaName(type.asEnum());
        case W::STRUCT:
            return schemaName(type.asStruct());
        case W::INTERFACE:
            return schemaName(type.asInterface());
        case W::ANY_POINTER:
            return "AnyPointer";
    }
    return "unknown type";
}

namespace {
class StringOutput final : public kj::OutputStream {
 public:
    explicit StringOutput(std::string& out) : out_(out) {}
    void write(const void* buffer, size_t size) override {
        out_.append(static_cast<const char*>(buffer), size);
    }

 private:
    std::string& out_;
};
}  // namespace

std::string writeMessage(capnp::MessageBuilder& message) {
    std::string out;
    out.reserve(capnp::computeSerializedSizeInWords(message) * sizeof(capnp::word));
    StringOutput stream(out);
    capnp::writeMessage(stream, message);
    return out;
}

}  // namespace detail

using detail::hexId;
using detail::schemaName;

SchemaSet::SchemaSet() = default;
SchemaSet::~SchemaSet() = default;
SchemaSet::SchemaSet(const SchemaSet&) = default;
SchemaSet::SchemaSet(SchemaSet&&) noexcept = default;
SchemaSet& SchemaSet::operator=(const SchemaSet&) = default;
SchemaSet& SchemaSet::operator=(SchemaSet&&) noexcept = default;

void SchemaSet::insert(capnp::Schema schema) {
    const auto id = schema.getProto().getId();
    if (index_.count(id) != 0) return;
    index_.emplace(id, schemas_.size());
    schemas_.push_back(schema);
}

void SchemaSet::collectType(capnp::Type type) {
    using W = capnp::schema::Type;
    switch (type.which()) {
        case W::STRUCT:
            collect(type.asStruct());
            break;
        case W::ENUM:
            insert(type.asEnum());
            break;
        case W::INTERFACE:
            // The interface node names the type; its methods' parameter structs
            // are not data a message carries, so they are not collected.
            insert(type.asInterface());
            break;
        case W::LIST:
            collectType(type.asList().getElementType());
            break;
        default:
            break;
    }
}

void SchemaSet::collect(capnp::Schema schema) {
    const auto id = schema.getProto().getId();
    if (index_.count(id) != 0) return;
    insert(schema);
    if (!schema.getProto().isStruct()) return;
    for (auto field : schema.asStruct().getFields()) collectType(field.getType());
}

SchemaSet& SchemaSet::add(capnp::StructSchema schema) {
    try {
        collect(schema);
    } catch (const kj::Exception& e) {
        throw Error(Code::kInvalidArgument,
                    std::string("cannot collect schema: ") + detail::kjMessage(e));
    }
    return *this;
}

namespace {

// The struct/enum/interface ids a slot type needs; false names the first
// missing one in `missing`.
bool typeResolves(capnp::schema::Type::Reader type, const std::unordered_set<std::uint64_t>& ids,
                  std::uint64_t& missing) {
    using W = capnp::schema::Type;
    switch (type.which()) {
        case W::STRUCT:
            missing = type.getStruct().getTypeId();
            return ids.count(missing) != 0;
        case W::ENUM:
            missing = type.getEnum().getTypeId();
            return ids.count(missing) != 0;
        case W::INTERFACE:
            missing = type.getInterface().getTypeId();
            return ids.count(missing) != 0;
        case W::LIST:
            return typeResolves(type.getList().getElementType(), ids, missing);
        default:
            return true;
    }
}

std::string nodeLabel(capnp::schema::Node::Reader node) {
    std::string label = "schema node " + hexId(node.getId());
    std::string_view display = node.getDisplayName().cStr();
    const auto colon = display.rfind(':');
    if (colon != std::string_view::npos) display.remove_prefix(colon + 1);
    if (!display.empty()) label += " (" + std::string(display) + ")";
    return label;
}

}  // namespace

SchemaSet SchemaSet::load(capnp::List<capnp::schema::Node>::Reader nodes) {
    SchemaSet set;
    auto loader = std::make_shared<capnp::SchemaLoader>();
    std::string current = "schema nodes";
    try {
        std::unordered_set<std::uint64_t> ids;
        for (auto node : nodes) {
            current = nodeLabel(node);
            if (node.getId() == 0)
                throw Error(Code::kInvalidArgument, current + ": a node id may not be 0");
            ids.insert(node.getId());
        }
        // Every type a struct references must be here: the SchemaLoader would
        // otherwise stand in an empty placeholder and silently drop data.
        for (auto node : nodes) {
            current = nodeLabel(node);
            if (!node.isStruct()) continue;
            for (auto field : node.getStruct().getFields()) {
                std::uint64_t missing = 0;
                bool ok = true;
                if (field.isGroup()) {
                    missing = field.getGroup().getTypeId();
                    ok = ids.count(missing) != 0;
                } else {
                    ok = typeResolves(field.getSlot().getType(), ids, missing);
                }
                if (!ok)
                    throw Error(Code::kInvalidArgument, current + ": field '" +
                                                            field.getName().cStr() +
                                                            "' references type " + hexId(missing) +
                                                            ", which is not among the nodes");
            }
        }
        for (auto node : nodes) {
            current = nodeLabel(node);
            loader->load(node);
        }
        for (auto node : nodes) {
            current = nodeLabel(node);
            if (node.isStruct() || node.isEnum() || node.isInterface())
                set.insert(loader->get(node.getId()));
        }
    } catch (const kj::Exception& e) {
        throw Error(Code::kInvalidArgument, "malformed " + current + ": " + detail::kjMessage(e));
    }
    set.owners_.push_back(std::move(loader));
    return set;
}

SchemaSet SchemaSet::deserialize(std::string_view bytes) {
    SchemaSet set;
    detail::readMessage(bytes, "schema bundle", [&](capnp::MessageReader& reader) {
        set = load(reader.getRoot<micro::schema::SchemaBundle>().getNodes());
    });
    return set;
}

std::string SchemaSet::serialize() const {
    capnp::MallocMessageBuilder message;
    auto bundle = message.initRoot<micro::schema::SchemaBundle>();
    writeNodes(bundle.initNodes(static_cast<unsigned>(schemas_.size())));
    return detail::writeMessage(message);
}

bool SchemaSet::contains(std::uint64_t id) const noexcept { return index_.count(id) != 0; }

std::vector<std::uint64_t> SchemaSet::ids() const {
    std::vector<std::uint64_t> out;
    out.reserve(schemas_.size());
    for (auto schema : schemas_) out.push_back(schema.getProto().getId());
    return out;
}

capnp::Schema SchemaSet::get(std::uint64_t id) const {
    auto it = index_.find(id);
    if (it == index_.end()) throw Error(Code::kNotFound, "no schema " + hexId(id) + " in the set");
    return schemas_[it->second];
}

capnp::StructSchema SchemaSet::find(std::uint64_t id) const {
    auto schema = get(id);
    if (!schema.getProto().isStruct())
        throw Error(Code::kInvalidArgument,
                    "schema " + hexId(id) + " (" + schemaName(schema) + ") is not a struct");
    return schema.asStruct();
}

void SchemaSet::writeNodes(capnp::List<capnp::schema::Node>::Builder out) const {
    if (out.size() != schemas_.size())
        throw Error(Code::kInvalidArgument, "writeNodes: the list has " +
                                                std::to_string(out.size()) + " elements, the set " +
                                                std::to_string(schemas_.size()) + " nodes");
    for (unsigned i = 0; i < out.size(); ++i) out.setWithCaveats(i, schemas_[i].getProto());
}

std::string SchemaSet::name(std::uint64_t id) const { return schemaName(get(id)); }

namespace {

bool inUnion(const capnp::StructSchema::Field& field) {
    return field.getProto().getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
}

std::string describeFields(capnp::StructSchema schema);

std::string describeField(const capnp::StructSchema::Field& field) {
    std::string out = field.getProto().getName().cStr();
    if (field.getProto().isGroup()) {
        auto group = field.getType().asStruct();
        // A named union is a group holding nothing but the union.
        if (group.getNonUnionFields().size() == 0 && group.getUnionFields().size() != 0) {
            std::string body = describeFields(group);  // "union { ... }"
            return out + ": " + body;
        }
        return out + ": group { " + describeFields(group) + " }";
    }
    return out + ": " + detail::typeName(field.getType());
}

std::string describeFields(capnp::StructSchema schema) {
    std::string out;
    bool unionDone = false;
    auto append = [&](const std::string& part) {
        if (!out.empty()) out += ", ";
        out += part;
    };
    for (auto field : schema.getFields()) {
        if (!inUnion(field)) {
            append(describeField(field));
            continue;
        }
        if (unionDone) continue;
        unionDone = true;
        std::string members;
        for (auto member : schema.getUnionFields()) {
            if (!members.empty()) members += ", ";
            members += describeField(member);
        }
        append("union { " + members + " }");
    }
    return out;
}

}  // namespace

std::string SchemaSet::describe(std::uint64_t id) const {
    auto schema = get(id);
    auto proto = schema.getProto();
    if (proto.isStruct()) {
        auto fields = describeFields(schema.asStruct());
        return schemaName(schema) + (fields.empty() ? " {}" : " { " + fields + " }");
    }
    if (proto.isEnum()) {
        std::string names;
        for (auto e : schema.asEnum().getEnumerants()) {
            if (!names.empty()) names += ", ";
            names += e.getProto().getName().cStr();
        }
        return "enum " + schemaName(schema) + " { " + names + " }";
    }
    if (proto.isInterface()) return "interface " + schemaName(schema);
    return schemaName(schema);
}

}  // namespace micro::codec
