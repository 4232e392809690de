// Content types and the body <-> message entry points.
#include <micro/codec.hpp>

#include "internal.hpp"

namespace micro::codec {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Whether `s` equals `lowercase` ignoring ASCII case; no copy, as this runs
// on every call.
bool equalsLower(std::string_view s, std::string_view lowercase) {
    if (s.size() != lowercase.size()) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
        if (c != lowercase[i]) return false;
    }
    return true;
}

[[noreturn]] void unsupported(std::string_view value, const std::string& why = {}) {
    throw Error(Code::kInvalidArgument,
                "unsupported content type '" + std::string(value) + "'" + why);
}

}  // namespace

namespace detail {

namespace {

bool isPointer(capnp::Type type) {
    switch (type.which()) {
        case capnp::schema::Type::TEXT:
        case capnp::schema::Type::DATA:
        case capnp::schema::Type::LIST:
        case capnp::schema::Type::STRUCT:
            return true;
        default:  // primitives; AnyPointer and capabilities are not checked
            return false;
    }
}

void validateValue(const capnp::DynamicValue::Reader& value, capnp::Type type) {
    switch (type.which()) {
        case capnp::schema::Type::TEXT:
            value.as<capnp::Text>();
            return;
        case capnp::schema::Type::DATA:
            value.as<capnp::Data>();
            return;
        case capnp::schema::Type::STRUCT:
            validate(value.as<capnp::DynamicStruct>());
            return;
        case capnp::schema::Type::LIST: {
            auto list = value.as<capnp::DynamicList>();  // checks the element size
            const auto element = type.asList().getElementType();
            if (!isPointer(element)) return;
            for (auto item : list) validateValue(item, element);
            return;
        }
        default:
            return;
    }
}

void validateField(capnp::DynamicStruct::Reader value, capnp::StructSchema::Field field) {
    if (field.getProto().isGroup()) {
        validate(value.get(field).as<capnp::DynamicStruct>());
        return;
    }
    const auto type = field.getType();
    if (isPointer(type) && value.has(field)) validateValue(value.get(field), type);
}

}  // namespace

void validate(capnp::DynamicStruct::Reader value) {
    for (auto field : value.getSchema().getNonUnionFields()) validateField(value, field);
    KJ_IF_MAYBE (active, value.which()) {
        validateField(value, *active);
    }
}

}  // namespace detail

ContentType parseContentType(std::string_view value) {
    // The exact names micro's clients send, before the general parse (case,
    // whitespace, parameters), which costs more than the compare; it runs on
    // every typed call.
    if (value == "application/json") return ContentType::kJson;
    if (value == "application/capnp") return ContentType::kCapnp;
    const auto semicolon = value.find(';');
    const std::string_view media = trim(value.substr(0, semicolon));
    ContentType type;
    if (equalsLower(media, "application/capnp") || equalsLower(media, "application/x-capnp"))
        type = ContentType::kCapnp;
    else if (equalsLower(media, "application/json"))
        type = ContentType::kJson;
    else if (equalsLower(media, "application/octet-stream"))
        type = ContentType::kRaw;
    else
        unsupported(value);
    // Parameters: only a JSON charset is checked (JSON is UTF-8, RFC 8259).
    std::string_view rest =
        semicolon == std::string_view::npos ? std::string_view{} : value.substr(semicolon + 1);
    while (!rest.empty()) {
        const auto next = rest.find(';');
        const std::string_view param = trim(rest.substr(0, next));
        rest = next == std::string_view::npos ? std::string_view{} : rest.substr(next + 1);
        if (param.empty()) continue;
        const auto eq = param.find('=');
        if (eq == std::string_view::npos) unsupported(value, ": malformed parameter");
        if (!equalsLower(trim(param.substr(0, eq)), "charset")) continue;
        std::string_view charset = trim(param.substr(eq + 1));
        if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"')
            charset = charset.substr(1, charset.size() - 2);
        if (type == ContentType::kJson && !equalsLower(charset, "utf-8") &&
            !equalsLower(charset, "utf8"))
            unsupported(value, ": JSON must be UTF-8");
    }
    return type;
}

std::string_view contentTypeName(ContentType type) {
    switch (type) {
        case ContentType::kCapnp:
            return "application/capnp";
        case ContentType::kJson:
            return "application/json";
        case ContentType::kRaw:
            return "application/octet-stream";
    }
    return "application/octet-stream";
}

capnp::DynamicStruct::Builder decode(ContentType type, std::string_view body,
                                     capnp::StructSchema schema, capnp::MessageBuilder& out) {
    auto root = detail::initRoot(out, schema);
    try {
        switch (type) {
            case ContentType::kCapnp:
                detail::readMessage(body, "capnp message", [&](capnp::MessageReader& reader) {
                    auto in = reader.getRoot<capnp::DynamicStruct>(schema);
                    detail::validate(in);  // type errors now, not in the handler
                    out.setRoot(in);
                });
                return out.getRoot<capnp::DynamicStruct>(schema);
            case ContentType::kJson:
                fromJson(body, root);
                return root;
            case ContentType::kRaw:
                break;
        }
    } catch (...) {
        out.initRoot<capnp::DynamicStruct>(schema);  // nothing half-written stays
        throw;
    }
    throw Error(Code::kInvalidArgument, "a " + std::string(contentTypeName(type)) +
                                            " body is raw bytes and cannot be decoded as " +
                                            detail::schemaName(schema));
}

std::string encode(ContentType type, const capnp::DynamicStruct::Reader& value,
                   JsonOptions options) {
    switch (type) {
        case ContentType::kCapnp:
            try {
                capnp::MallocMessageBuilder message(
                    static_cast<capnp::uint>(
                        std::min<std::uint64_t>(value.totalSize().wordCount + 1, 1u << 28)),
                    capnp::AllocationStrategy::GROW_HEURISTICALLY);
                message.setRoot(value);
                return detail::writeMessage(message);
            } catch (const kj::Exception& e) {
                throw Error(Code::kInvalidArgument,
                            std::string("malformed capnp message: ") + detail::kjMessage(e));
            }
        case ContentType::kJson:
            return toJson(value, options);
        case ContentType::kRaw:
            break;
    }
    throw Error(Code::kInvalidArgument, "cannot encode " + detail::schemaName(value.getSchema()) +
                                            " as " + std::string(contentTypeName(type)) +
                                            ": raw bytes are not a struct");
}

}  // namespace micro::codec
