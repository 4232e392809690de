// JSON <-> capnp::DynamicStruct, driven by the struct's schema.
//
// Parsing is our own (strict RFC 8259, byte offsets in errors, number lexemes
// kept as text so 64-bit integers are exact); the walker checks every value
// against its field's type and names the field on error. Writing follows
// capnp::JsonCodec's conventions (64-bit integers as strings, NaN/Infinity as
// strings) except that Data is base64.
#include <micro/codec.hpp>

#include <capnp/any.h>
#include <capnp/schema.h>
#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <forward_list>
#include <limits>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "internal.hpp"

namespace micro::codec {

namespace {

using detail::schemaName;
using detail::typeName;
using W = capnp::schema::Type;

constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxListSize = (std::size_t{1} << 29) - 1;

// ---------------------------------------------------------------- JSON DOM

struct Json {
    enum class Kind : std::uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
    Kind kind = Kind::kNull;
    bool boolean = false;
    std::size_t offset = 0;
    // A string's decoded content, or a number's lexeme: into the input, or,
    // for a string with escapes, into its Parser.
    std::string_view text;
    // An array's items or an object's members: where they start in their
    // Parser's items or members, and how many.
    std::size_t first = 0;
    std::size_t count = 0;
};

struct JsonMember {
    std::string_view key;  // as Json::text
    Json value;
};

// The arrays and objects of one document, each one's elements side by side.
// Kept per thread and reused, so that parsing allocates nothing once the
// thread has parsed a document as large.
struct JsonStore {
    std::vector<Json> items;
    std::vector<JsonMember> members;
    // The elements of the arrays and objects still open, innermost last.
    std::vector<Json> openItems;
    std::vector<JsonMember> openMembers;

    void clear() noexcept {
        items.clear();
        members.clear();
        openItems.clear();
        openMembers.clear();
    }
    // A document this large is rare: its memory (some 50 KiB at most
    // otherwise, per thread) is not kept for the next.
    bool large() const noexcept {
        constexpr std::size_t kKeep = 256;
        return items.capacity() > kKeep || members.capacity() > kKeep ||
               openItems.capacity() > kKeep || openMembers.capacity() > kKeep;
    }
};

const char* kindName(Json::Kind kind) {
    switch (kind) {
        case Json::Kind::kNull:
            return "null";
        case Json::Kind::kBool:
            return "boolean";
        case Json::Kind::kNumber:
            return "number";
        case Json::Kind::kString:
            return "string";
        case Json::Kind::kArray:
            return "array";
        case Json::Kind::kObject:
            return "object";
    }
    return "value";
}

// Length of the valid UTF-8 sequence starting at s[pos] (a byte >= 0x80), or 0
// when it is not one: overlong forms, surrogates and values past U+10FFFF are
// invalid.
std::size_t utf8Length(std::string_view s, std::size_t pos) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[pos + i]); };
    const unsigned char b0 = byte(0);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        len = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        len = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (s.size() - pos < len) return 0;
    if (byte(1) < lo || byte(1) > hi) return 0;
    for (std::size_t i = 2; i < len; ++i)
        if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
    return len;
}

// ---------------------------------------------------------------- parser

// The plain characters of a JSON string: those it holds as they are (no
// quote, backslash, control or non-ASCII byte). Strings are mostly such runs,
// so both directions look for the next byte that is not plain eight at a time
// and copy the run before it in one go.

// The high bit of each byte of the result is set where that byte of `w` is
// not plain. Each byte is worked out on its own: `low` keeps every byte below
// 0x80, so the sums below never carry into the next byte, and so the flags
// are exact and the same in either byte order.
constexpr std::uint64_t notPlainBytes(std::uint64_t w) noexcept {
    constexpr std::uint64_t k01 = 0x0101010101010101;
    constexpr std::uint64_t k7F = k01 * 0x7F;
    constexpr std::uint64_t k80 = k01 * 0x80;
    const std::uint64_t low = w & k7F;
    const std::uint64_t notControl = low + k01 * (0x80 - 0x20);  // high bit: low >= 0x20
    const std::uint64_t notQuote = (low ^ (k01 * '"')) + k7F;    // high bit: low != '"'
    const std::uint64_t notBackslash = (low ^ (k01 * '\\')) + k7F;
    // A byte with its own high bit set (non-ASCII) is not plain either.
    return (w | ~(notControl & notQuote & notBackslash)) & k80;
}

static_assert(std::endian::native == std::endian::little ||
              std::endian::native == std::endian::big);

// Which of the eight bytes loaded into a word comes first in memory: the low
// byte on little-endian machines, the high one on big-endian ones.
constexpr unsigned firstFlagged(std::uint64_t flags) noexcept {
    if constexpr (std::endian::native == std::endian::little)
        return static_cast<unsigned>(std::countr_zero(flags)) / 8;
    else
        return static_cast<unsigned>(std::countl_zero(flags)) / 8;
}

// Keeps the flags of the loaded bytes from the `skip`th (in memory order) on.
constexpr std::uint64_t fromByte(std::uint64_t flags, std::size_t skip) noexcept {
    if constexpr (std::endian::native == std::endian::little)
        return flags & (~std::uint64_t{0} << (8 * skip));
    else
        return flags & (~std::uint64_t{0} >> (8 * skip));
}

std::uint64_t load8(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);  // unaligned; compiles to one load
    return w;
}

// The end of the run of plain characters starting at `from` (<= s.size()).
std::size_t plainRunEnd(std::string_view s, std::size_t from) noexcept {
    const char* const p = s.data();
    const std::size_t n = s.size();
    if (from >= n) return n;
    if (n < 8) {  // too short for a word
        while (from < n) {
            const auto c = static_cast<unsigned char>(p[from]);
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            ++from;
        }
        return from;
    }
    for (; n - from >= 8; from += 8)
        if (const std::uint64_t flags = notPlainBytes(load8(p + from)))
            return from + firstFlagged(flags);
    if (from == n) return n;
    // The last few bytes: the string's last eight, ignoring those before
    // `from` (already looked at, or not part of the run).
    const std::size_t last = n - 8;
    const std::uint64_t flags = fromByte(notPlainBytes(load8(p + last)), from - last);
    return flags != 0 ? last + firstFlagged(flags) : n;
}

// The tree it returns points into the input and into the Parser: both must
// outlive it.
class Parser {
 public:
    explicit Parser(std::string_view in)
        : in_(in), store_(spare_ ? std::move(spare_) : std::make_unique<JsonStore>()) {
        store_->clear();
    }
    ~Parser() {
        if (!store_->large()) spare_ = std::move(store_);
    }
    Parser(const Parser&) = delete;
    Parser& operator=(const Parser&) = delete;

    std::span<const Json> items(const Json& array) const noexcept {
        return std::span<const Json>(store_->items).subspan(array.first, array.count);
    }
    std::span<const JsonMember> members(const Json& object) const noexcept {
        return std::span<const JsonMember>(store_->members).subspan(object.first, object.count);
    }

    Json parseDocument() {
        if (in_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // a UTF-8 byte order mark
        skipSpace();
        Json root = parseValue(0);
        skipSpace();
        if (pos_ != in_.size()) fail("unexpected characters after the JSON value");
        return root;
    }

 private:
    [[noreturn]] void fail(const std::string& what) const { failAt(pos_, what); }
    [[noreturn]] static void failAt(std::size_t offset, const std::string& what) {
        throw Error(Code::kInvalidArgument,
                    "malformed JSON at offset " + std::to_string(offset) + ": " + what);
    }

    bool atEnd() const { return pos_ >= in_.size(); }
    char peek() const { return in_[pos_]; }

    void skipSpace() {
        while (!atEnd()) {
            char c = peek();
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            ++pos_;
        }
    }

    void expectLiteral(std::string_view word) {
        if (in_.substr(pos_, word.size()) != word) fail("invalid literal");
        pos_ += word.size();
    }

    Json parseValue(int depth) {
        if (atEnd()) fail("unexpected end of input");
        Json v;
        v.offset = pos_;
        switch (peek()) {
            case '{':
                parseObject(v, depth + 1);
                break;
            case '[':
                parseArray(v, depth + 1);
                break;
            case '"':
                v.kind = Json::Kind::kString;
                v.text = parseString();
                break;
            case 't':
                expectLiteral("true");
                v.kind = Json::Kind::kBool;
                v.boolean = true;
                break;
            case 'f':
                expectLiteral("false");
                v.kind = Json::Kind::kBool;
                break;
            case 'n':
                expectLiteral("null");
                break;
            default:
                if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
                    v.kind = Json::Kind::kNumber;
                    v.text = parseNumber();
                } else {
                    fail(std::string("unexpected character ") + describeChar(peek()));
                }
        }
        return v;
    }

    static std::string describeChar(char c) {
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
        char buf[8];
        std::snprintf(buf, sizeof buf, "0x%02x", u);
        return buf;
    }

    void parseObject(Json& v, int depth) {
        if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
        v.kind = Json::Kind::kObject;
        const std::size_t base = store_->openMembers.size();
        ++pos_;  // '{'
        skipSpace();
        if (!atEnd() && peek() == '}') {
            ++pos_;
            return;
        }
        for (;;) {
            skipSpace();
            if (atEnd()) fail("unexpected end of input in an object");
            if (peek() != '"') fail("expected a string key");
            JsonMember member;
            member.key = parseString();
            skipSpace();
            if (atEnd() || peek() != ':') fail("expected ':' after a key");
            ++pos_;
            skipSpace();
            member.value = parseValue(depth);
            store_->openMembers.push_back(member);
            skipSpace();
            if (atEnd()) fail("unexpected end of input in an object");
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == '}') {
                ++pos_;
                close(store_->openMembers, base, store_->members, v);
                return;
            }
            fail("expected ',' or '}'");
        }
    }

    void parseArray(Json& v, int depth) {
        if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
        v.kind = Json::Kind::kArray;
        const std::size_t base = store_->openItems.size();
        ++pos_;  // '['
        skipSpace();
        if (!atEnd() && peek() == ']') {
            ++pos_;
            return;
        }
        for (;;) {
            skipSpace();
            const Json item = parseValue(depth);
            store_->openItems.push_back(item);
            skipSpace();
            if (atEnd()) fail("unexpected end of input in an array");
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() == ']') {
                ++pos_;
                close(store_->openItems, base, store_->items, v);
                return;
            }
            fail("expected ',' or ']'");
        }
    }

    // Moves the elements of the array or object `v` that just closed, the
    // last of `open` from `base` on, to their place in `done`.
    template <typename T>
    static void close(std::vector<T>& open, std::size_t base, std::vector<T>& done, Json& v) {
        v.first = done.size();
        v.count = open.size() - base;
        done.insert(done.end(), open.begin() + static_cast<std::ptrdiff_t>(base), open.end());
        open.resize(base);
    }

    std::string_view parseNumber() {
        const std::size_t start = pos_;
        auto digits = [&] {
            std::size_t n = 0;
            while (!atEnd() && peek() >= '0' && peek() <= '9') {
                ++pos_;
                ++n;
            }
            return n;
        };
        if (peek() == '-') ++pos_;
        if (atEnd()) fail("expected a digit");
        if (peek() == '0') {
            ++pos_;
        } else if (digits() == 0) {
            fail("expected a digit");
        }
        if (!atEnd() && peek() == '.') {
            ++pos_;
            if (digits() == 0) fail("expected a digit after '.'");
        }
        if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!atEnd() && (peek() == '+' || peek() == '-')) ++pos_;
            if (digits() == 0) fail("expected a digit in the exponent");
        }
        if (!atEnd() && peek() >= '0' && peek() <= '9') fail("leading zeros are not allowed");
        return in_.substr(start, pos_ - start);
    }

    unsigned hex4() {
        if (in_.size() - pos_ < 4) fail("truncated \\u escape");
        unsigned value = 0;
        for (int i = 0; i < 4; ++i) {
            char c = in_[pos_];
            value <<= 4;
            if (c >= '0' && c <= '9')
                value |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                value |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                value |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("invalid hex digit in \\u escape");
            ++pos_;
        }
        return value;
    }

    static void appendUtf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // A string without escapes is a view of the input (no copy); one with
    // escapes is decoded into owned_.
    std::string_view parseString() {
        ++pos_;  // '"'
        const std::size_t start = pos_;
        // Each pass skips a run of plain characters, then deals with the one
        // byte after it that is not plain.
        for (;;) {
            pos_ = plainRunEnd(in_, pos_);
            if (atEnd()) fail("unterminated string");
            const auto c = static_cast<unsigned char>(peek());
            if (c == '"') {
                ++pos_;
                return in_.substr(start, pos_ - 1 - start);
            }
            if (c < 0x20) fail("unescaped control character in a string");
            if (c == '\\') break;
            // plainRunEnd stops at nothing else: a non-ASCII byte.
            const std::size_t len = utf8Length(in_, pos_);
            if (len == 0) fail("invalid UTF-8 in a string");
            pos_ += len;
        }
        std::string& out = owned_.emplace_front(in_.substr(start, pos_ - start));
        for (;;) {
            const std::size_t run = pos_;
            pos_ = plainRunEnd(in_, pos_);
            if (pos_ != run) out.append(in_.data() + run, pos_ - run);  // copied at once
            if (atEnd()) fail("unterminated string");
            const auto c = static_cast<unsigned char>(peek());
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) fail("unescaped control character in a string");
            if (c >= 0x80) {
                const std::size_t len = utf8Length(in_, pos_);
                if (len == 0) fail("invalid UTF-8 in a string");
                out.append(in_.data() + pos_, len);
                pos_ += len;
                continue;
            }
            // A backslash: plainRunEnd stops at nothing else below 0x80.
            const std::size_t escape = pos_;
            ++pos_;
            if (atEnd()) fail("unterminated string");
            const char e = peek();
            ++pos_;
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    out += e;
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (in_.substr(pos_, 2) != "\\u") failAt(escape, "unpaired surrogate");
                        pos_ += 2;
                        const unsigned low = hex4();
                        if (low < 0xDC00 || low > 0xDFFF) failAt(escape, "unpaired surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        failAt(escape, "unpaired surrogate");
                    }
                    appendUtf8(out, cp);
                    break;
                }
                default:
                    failAt(escape, "invalid escape sequence");
            }
        }
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    // Decoded strings that had escapes; a list, so that adding one moves none
    // (the tree holds views of them) and an input without escapes allocates
    // nothing here.
    std::forward_list<std::string> owned_;
    std::unique_ptr<JsonStore> store_;
    // The thread's store while no Parser has it (one nested in another would
    // make its own).
    static thread_local std::unique_ptr<JsonStore> spare_;
};

thread_local std::unique_ptr<JsonStore> Parser::spare_;

// ---------------------------------------------------------------- base64

std::string base64Encode(const capnp::byte* data, std::size_t size) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const unsigned n = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8) | data[i + 2];
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (size - i == 1) {
        const unsigned n = unsigned{data[i]} << 16;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += "==";
    } else if (size - i == 2) {
        const unsigned n = (unsigned{data[i]} << 16) | (unsigned{data[i + 1]} << 8);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

// Standard or URL-safe alphabet, padding optional. nullopt on invalid input.
std::optional<std::string> base64Decode(std::string_view in) {
    while (!in.empty() && in.back() == '=') in.remove_suffix(1);
    if (in.size() % 4 == 1) return std::nullopt;
    std::string out;
    out.reserve(in.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (char c : in) {
        unsigned v;
        if (c >= 'A' && c <= 'Z')
            v = static_cast<unsigned>(c - 'A');
        else if (c >= 'a' && c <= 'z')
            v = static_cast<unsigned>(c - 'a' + 26);
        else if (c >= '0' && c <= '9')
            v = static_cast<unsigned>(c - '0' + 52);
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else
            return std::nullopt;
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

// ---------------------------------------------------------------- field tables

// Reading a field's name, type and union membership from the schema means
// decoding its node each time (getProto, getType, findFieldByName); the walkers
// below read them from a table built once per struct schema instead.

bool isPointer(capnp::Type type) {
    switch (type.which()) {
        case W::TEXT:
        case W::DATA:
        case W::LIST:
        case W::STRUCT:
        case W::INTERFACE:
        case W::ANY_POINTER:
            return true;
        default:
            return false;
    }
}

struct FieldInfo {
    capnp::StructSchema::Field field;
    capnp::Type type;       // a group's is the group's struct
    std::string_view name;  // in the schema's node
    bool group = false;
    bool inUnion = false;
    bool pointer = false;  // a slot (not a group) of a pointer type
    // A Text slot outside any union: read and written through its pointer
    // directly, as DynamicStruct would after looking the field up again.
    bool plainText = false;
    std::uint32_t offset = 0;  // the slot's offset (in pointers, for Text)
};

struct StructInfo {
    std::vector<FieldInfo> fields;      // in the schema's order: fields[i].field.getIndex() == i
    std::vector<std::uint16_t> byName;  // indices into fields, sorted by name
    bool hasUnion = false;
    std::uint16_t dataWords = 0;  // the sizes of a new struct of this type
    std::uint16_t pointers = 0;

    explicit StructInfo(capnp::StructSchema schema) {
        const auto list = schema.getFields();
        fields.reserve(list.size());
        for (auto field : list) {
            const auto proto = field.getProto();
            const auto name = proto.getName();
            FieldInfo& info = fields.emplace_back();
            info.field = field;
            info.type = field.getType();
            info.name = std::string_view(name.begin(), name.size());
            info.group = proto.isGroup();
            info.inUnion = proto.getDiscriminantValue() != capnp::schema::Field::NO_DISCRIMINANT;
            info.pointer = !info.group && isPointer(info.type);
            if (!info.group) info.offset = proto.getSlot().getOffset();
            info.plainText = !info.group && !info.inUnion && info.type.which() == W::TEXT;
        }
        byName.resize(fields.size());
        std::iota(byName.begin(), byName.end(), std::uint16_t{0});
        std::sort(byName.begin(), byName.end(), [&](std::uint16_t a, std::uint16_t b) {
            return fields[a].name < fields[b].name;
        });
        const auto node = schema.getProto().getStruct();
        hasUnion = node.getDiscriminantCount() != 0;
        dataWords = node.getDataWordCount();
        pointers = node.getPointerCount();
    }

    /// The field called `name` (names are unique within a struct), or nullptr.
    /// A key with an escaped NUL is read up to it, as capnp's findFieldByName,
    /// which takes a C string, read it.
    const FieldInfo* find(std::string_view name) const noexcept {
        name = name.substr(0, name.find('\0'));
        const auto it = std::lower_bound(
            byName.begin(), byName.end(), name,
            [&](std::uint16_t index, std::string_view key) { return fields[index].name < key; });
        if (it == byName.end() || fields[*it].name != name) return nullptr;
        return &fields[*it];
    }
};

// A schema's identity: capnp compares schemas by the address of their
// branded raw schema, which is all a Schema holds.
const void* identity(capnp::Schema schema) noexcept {
    static_assert(sizeof(capnp::Schema) == sizeof(const void*) &&
                  std::is_trivially_copyable_v<capnp::Schema>);
    const void* raw = nullptr;
    std::memcpy(&raw, &schema, sizeof raw);
    return raw;
}

// Whether `schema` is compiled into a module that stays loaded for the rest of
// the process, so that its address names it for good. A schema a
// capnp::SchemaLoader made lives on the heap and dies with its loader, after
// which another schema (a different version of the same node, say) may get
// the same address: such schemas are not cached.
bool lastsForever(capnp::Schema schema) {
    const void* raw = identity(schema);
    const void* node = capnp::AnyStruct::Reader(schema.getProto()).getDataSection().begin();
    Dl_info info{};
    void* rawModule = nullptr;
    void* nodeModule = nullptr;
    if (dladdr1(raw, &info, &rawModule, RTLD_DL_LINKMAP) == 0 || rawModule == nullptr) return false;
    if (dladdr1(node, &info, &nodeModule, RTLD_DL_LINKMAP) == 0 || nodeModule != rawModule)
        return false;
    void* program = dlopen(nullptr, RTLD_NOW);
    void* programModule = nullptr;
    if (program != nullptr && dlinfo(program, RTLD_DI_LINKMAP, &programModule) == 0 &&
        programModule == rawModule)
        return true;  // the executable is never unloaded
    // A shared object could be unloaded and another mapped at its address:
    // pin it. The handle is never closed, on purpose.
    const char* path = static_cast<const link_map*>(rawModule)->l_name;
    return path != nullptr && *path != '\0' &&
           dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

// Tables of long-lived schemas, built once and never freed, so a pointer to
// one stays valid; each thread keeps its last few in a small direct-mapped
// cache it reads without a lock.
class SharedInfos {
 public:
    static const StructInfo* find(capnp::StructSchema schema) {
        const void* key = identity(schema);
        Recent& slot = recent_[(reinterpret_cast<std::uintptr_t>(key) >> 3) % recent_.size()];
        if (slot.key == key) return slot.info;
        const StructInfo* info = lookup(key);
        if (info == nullptr) {
            if (!lastsForever(schema)) {
                // Remembered as not cached, which is safe however the address
                // is reused: it only means building the table per call.
                slot = Recent{key, nullptr};
                return nullptr;
            }
            auto built = std::make_unique<const StructInfo>(schema);  // outside the lock
            Store& store = instance();
            const std::unique_lock lock(store.mutex);
            // A thread that saw the schema at the same time may have won.
            info = store.map.try_emplace(key, std::move(built)).first->second.get();
        }
        slot = Recent{key, info};
        return info;
    }

 private:
    struct Store {
        std::shared_mutex mutex;
        std::unordered_map<const void*, std::unique_ptr<const StructInfo>> map;
    };
    struct Recent {
        const void* key = nullptr;
        const StructInfo* info = nullptr;  // nullptr: not to be cached
    };

    // Never destroyed: a thread may still encode while the process exits, and
    // the per-thread caches point into it.
    static Store& instance() {
        static Store* const store = std::make_unique<Store>().release();
        return *store;
    }

    static const StructInfo* lookup(const void* key) {
        Store& store = instance();
        const std::shared_lock lock(store.mutex);
        const auto it = store.map.find(key);
        return it == store.map.end() ? nullptr : it->second.get();
    }

    static thread_local std::array<Recent, 16> recent_;
};

thread_local std::array<SharedInfos::Recent, 16> SharedInfos::recent_{};

// The tables one call uses: shared ones, or, for a schema that is not cached,
// one built for this call (once, however many of its structs the value has).
class Infos {
 public:
    const StructInfo& of(capnp::StructSchema schema) {
        // Local ones first: asking whether a schema lasts is the slow part.
        const void* key = identity(schema);
        for (const auto& [k, info] : local_)
            if (k == key) return *info;
        if (const StructInfo* shared = SharedInfos::find(schema)) return *shared;
        return *local_.emplace_back(key, std::make_unique<const StructInfo>(schema)).second;
    }

 private:
    std::vector<std::pair<const void*, std::unique_ptr<const StructInfo>>> local_;
};

}  // namespace

namespace detail {

capnp::DynamicStruct::Builder initRoot(capnp::MessageBuilder& message, capnp::StructSchema schema) {
    const StructInfo* info = nullptr;
    try {
        info = SharedInfos::find(schema);
    } catch (const kj::Exception&) {
        // A schema capnp cannot read: decoding into it reports that, in context.
    }
    if (info != nullptr)
        return message.getRoot<capnp::AnyPointer>()
            .initAsAnyStruct(info->dataWords, info->pointers)
            .as<capnp::DynamicStruct>(schema);
    return message.initRoot<capnp::DynamicStruct>(schema);
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------- JSON -> capnp

// Where a decoded value goes: a struct field or a list element.
// Where a value sits in the document ("a.b[2].c"), for error messages. It
// lives on the stack and is rendered only when an error names it, so a value
// that converts cleanly costs no string.
class Path {
 public:
    Path() = default;  // the document's root
    Path(const Path* parent, std::string_view field) noexcept : parent_(parent), field_(field) {}
    Path(const Path* parent, std::size_t index) noexcept
        : parent_(parent), index_(index), isIndex_(true) {}

    bool isRoot() const noexcept { return parent_ == nullptr; }

    std::string str() const {
        if (parent_ == nullptr) return {};
        std::string out = parent_->str();
        if (isIndex_) {
            out += '[';
            out += std::to_string(index_);
            out += ']';
        } else {
            if (!out.empty()) out += '.';
            out += field_;
        }
        return out;
    }

 private:
    const Path* parent_ = nullptr;
    std::string_view field_;
    std::size_t index_ = 0;
    bool isIndex_ = false;
};

// The fields of one struct an object has given so far, by field index; no
// allocation for structs of up to 64 fields.
class FieldSet {
 public:
    explicit FieldSet(unsigned count) {
        if (count > 64) more_.resize(count);
    }
    /// False if `index` was given already.
    bool insert(unsigned index) {
        if (index < 64 && more_.empty()) {
            const std::uint64_t bit = std::uint64_t{1} << index;
            if ((small_ & bit) != 0) return false;
            small_ |= bit;
            return true;
        }
        if (more_[index]) return false;
        more_[index] = true;
        return true;
    }

 private:
    std::uint64_t small_ = 0;
    std::vector<bool> more_;
};

struct Slot {
    capnp::DynamicStruct::Builder* parent = nullptr;
    const FieldInfo* field = nullptr;
    capnp::DynamicList::Builder* list = nullptr;
    unsigned index = 0;

    void set(const capnp::DynamicValue::Reader& value) const {
        if (parent)
            parent->set(field->field, value);
        else
            list->set(index, value);
    }
    // Copied in place: a Text::Reader would need a NUL after the bytes, so
    // a view into the JSON input could not be set directly.
    void setText(std::string_view text) const {
        const auto size = static_cast<unsigned>(text.size());
        capnp::Text::Builder out;
        if (parent != nullptr && field->plainText) {
            auto pointers = parent->as<capnp::AnyStruct>().getPointerSection();
            out = field->offset < pointers.size()
                      ? pointers[field->offset].initAs<capnp::Text>(size)
                      : init(size).as<capnp::Text>();
        } else {
            out = init(size).as<capnp::Text>();
        }
        if (!text.empty()) std::memcpy(out.begin(), text.data(), text.size());
    }
    capnp::DynamicValue::Builder init(unsigned size) const {
        return parent ? parent->init(field->field, size) : list->init(index, size);
    }
    capnp::DynamicStruct::Builder structure() const {
        return parent ? parent->init(field->field).as<capnp::DynamicStruct>()
                      : (*list)[index].as<capnp::DynamicStruct>();
    }
};

// A parsed integer: either negative (as int64) or not (as uint64).
struct Integer {
    bool negative = false;
    std::int64_t signedValue = 0;
    std::uint64_t unsignedValue = 0;
};

class Decoder {
 public:
    explicit Decoder(const Parser& parser) : parser_(parser) {}

    void decodeStruct(const Json& v, capnp::DynamicStruct::Builder out, const Path& path) {
        const auto schema = out.getSchema();
        if (v.kind != Json::Kind::kObject) {
            if (path.isRoot())
                throw Error(Code::kInvalidArgument, "expected a JSON object for " +
                                                        schemaName(schema) + ", got " +
                                                        kindName(v.kind));
            fail(path, "expected " + schemaName(schema) + " (an object), got " + kindName(v.kind));
        }
        const StructInfo& info = infos_.of(schema);
        // Duplicates are found by field index: every accepted key names a field.
        FieldSet seen(static_cast<unsigned>(info.fields.size()));
        const FieldInfo* unionMember = nullptr;
        for (const auto& member : parser_.members(v)) {
            const Path childPath{&path, member.key};
            const FieldInfo* field = info.find(member.key);
            if (field == nullptr)
                throw Error(Code::kInvalidArgument,
                            "unknown field '" + childPath.str() + "' in " + schemaName(schema));
            if (!seen.insert(field->field.getIndex())) fail(childPath, "given more than once");
            if (field->inUnion) {
                if (unionMember != nullptr) {
                    const Path unionPath{&path, unionMember->name};
                    throw Error(Code::kInvalidArgument,
                                "fields '" + unionPath.str() + "' and '" + childPath.str() +
                                    "' are members of the same union: give only one");
                }
                unionMember = field;
            }
            decodeField(member.value, out, *field, childPath);
        }
    }

 private:
    [[noreturn]] static void fail(const Path& path, const std::string& what) {
        throw Error(Code::kInvalidArgument, "field '" + path.str() + "': " + what);
    }

    void decodeField(const Json& v, capnp::DynamicStruct::Builder& out, const FieldInfo& field,
                     const Path& path) {
        if (v.kind == Json::Kind::kNull && field.type.which() != W::VOID) {
            // null: the default; for a union member, the member with its default.
            if (field.inUnion) {
                if (field.group)
                    out.init(field.field);
                else
                    out.clear(field.field);
            }
            return;
        }
        if (field.group) {
            decodeStruct(v, out.init(field.field).as<capnp::DynamicStruct>(), path);
            return;
        }
        Slot slot;
        slot.parent = &out;
        slot.field = &field;
        decodeValue(v, field.type, slot, path);
    }

    void decodeValue(const Json& v, capnp::Type type, const Slot& slot, const Path& path) {
        switch (type.which()) {
            case W::VOID:
                if (v.kind != Json::Kind::kNull) expected(v, type, path, "null");
                slot.set(capnp::VOID);
                return;
            case W::BOOL:
                if (v.kind != Json::Kind::kBool) expected(v, type, path);
                slot.set(v.boolean);
                return;
            case W::INT8:
                slot.set(static_cast<std::int8_t>(signedIn(v, type, path, INT8_MIN, INT8_MAX)));
                return;
            case W::INT16:
                slot.set(static_cast<std::int16_t>(signedIn(v, type, path, INT16_MIN, INT16_MAX)));
                return;
            case W::INT32:
                slot.set(static_cast<std::int32_t>(signedIn(v, type, path, INT32_MIN, INT32_MAX)));
                return;
            case W::INT64:
                slot.set(signedIn(v, type, path, INT64_MIN, INT64_MAX));
                return;
            case W::UINT8:
                slot.set(static_cast<std::uint8_t>(unsignedIn(v, type, path, UINT8_MAX)));
                return;
            case W::UINT16:
                slot.set(static_cast<std::uint16_t>(unsignedIn(v, type, path, UINT16_MAX)));
                return;
            case W::UINT32:
                slot.set(static_cast<std::uint32_t>(unsignedIn(v, type, path, UINT32_MAX)));
                return;
            case W::UINT64:
                slot.set(unsignedIn(v, type, path, UINT64_MAX));
                return;
            case W::FLOAT32: {
                const double d = floatIn(v, type, path);
                if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max())
                    fail(path, display(v) + " out of range for Float32");
                slot.set(static_cast<float>(d));
                return;
            }
            case W::FLOAT64:
                slot.set(floatIn(v, type, path));
                return;
            case W::TEXT:
                if (v.kind != Json::Kind::kString) expected(v, type, path);
                if (v.text.size() > kMaxListSize - 1) fail(path, "text too long");
                slot.setText(v.text);
                return;
            case W::DATA:
                decodeData(v, type, slot, path);
                return;
            case W::LIST:
                decodeList(v, type.asList(), slot, path);
                return;
            case W::ENUM:
                decodeEnum(v, type.asEnum(), slot, path);
                return;
            case W::STRUCT:
                if (v.kind != Json::Kind::kObject) expected(v, type, path, "an object");
                decodeStruct(v, slot.structure(), path);
                return;
            case W::INTERFACE:
            case W::ANY_POINTER:
                fail(path, typeName(type) + " has no JSON form");
        }
        fail(path, "unsupported type");
    }

    [[noreturn]] static void expected(const Json& v, capnp::Type type, const Path& path,
                                      const std::string& form = {}) {
        std::string what = "expected " + typeName(type);
        if (!form.empty()) what += " (" + form + ")";
        fail(path, what + ", got " + kindName(v.kind));
    }

    // The value as the user wrote it, for messages.
    static std::string display(const Json& v) {
        if (v.kind == Json::Kind::kString) return "'" + std::string(v.text) + "'";
        return std::string(v.text);
    }

    static bool isNumberLexeme(std::string_view s) {
        std::size_t i = 0;
        auto digits = [&] {
            std::size_t n = 0;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++n;
            return n;
        };
        if (i < s.size() && s[i] == '-') ++i;
        if (i < s.size() && s[i] == '0')
            ++i;
        else if (digits() == 0)
            return false;
        if (i < s.size() && s[i] == '.') {
            ++i;
            if (digits() == 0) return false;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
            ++i;
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
            if (digits() == 0) return false;
        }
        return i == s.size();
    }

    // The numeric text of a number, or of a string holding a number.
    static std::string_view numericText(const Json& v, capnp::Type type, const Path& path) {
        if (v.kind == Json::Kind::kNumber) return v.text;
        if (v.kind == Json::Kind::kString) {
            if (!isNumberLexeme(v.text))
                fail(path, display(v) + " is not a valid " + typeName(type));
            return v.text;
        }
        expected(v, type, path);
    }

    static Integer integerIn(const Json& v, capnp::Type type, const Path& path) {
        const std::string_view text = numericText(v, type, path);
        auto outOfRange = [&]() -> Integer {
            fail(path, display(v) + " out of range for " + typeName(type));
        };
        Integer out;
        out.negative = !text.empty() && text[0] == '-';
        if (text.find_first_of(".eE") == std::string_view::npos) {
            const char* first = text.data();
            const char* last = text.data() + text.size();
            std::from_chars_result r{};
            if (out.negative) {
                r = std::from_chars(first, last, out.signedValue);
                if (out.signedValue == 0) out.negative = false;  // "-0"
            } else {
                r = std::from_chars(first, last, out.unsignedValue);
            }
            if (r.ec == std::errc::result_out_of_range) return outOfRange();
            if (r.ec != std::errc() || r.ptr != last)
                fail(path, display(v) + " is not a valid " + typeName(type));
            return out;
        }
        double d = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), d);
        if (r.ec == std::errc::result_out_of_range) {
            // Overflow is out of range; underflow is a fraction, not an integer.
            if (text.find("e-") == std::string_view::npos &&
                text.find("E-") == std::string_view::npos)
                return outOfRange();
            fail(path, display(v) + " is not an integer");
        }
        if (r.ec != std::errc()) fail(path, display(v) + " is not a valid " + typeName(type));
        if (d != std::trunc(d)) fail(path, display(v) + " is not an integer");
        if (d < 0) {
            if (d < -9223372036854775808.0) return outOfRange();
            out.signedValue = static_cast<std::int64_t>(d);
            out.negative = out.signedValue != 0;
        } else {
            if (d >= 18446744073709551616.0) return outOfRange();
            out.negative = false;
            out.unsignedValue = static_cast<std::uint64_t>(d);
        }
        return out;
    }

    static std::int64_t signedIn(const Json& v, capnp::Type type, const Path& path,
                                 std::int64_t min, std::int64_t max) {
        const Integer n = integerIn(v, type, path);
        if (n.negative ? n.signedValue < min : n.unsignedValue > static_cast<std::uint64_t>(max))
            fail(path, display(v) + " out of range for " + typeName(type));
        return n.negative ? n.signedValue : static_cast<std::int64_t>(n.unsignedValue);
    }

    static std::uint64_t unsignedIn(const Json& v, capnp::Type type, const Path& path,
                                    std::uint64_t max) {
        const Integer n = integerIn(v, type, path);
        if (n.negative || n.unsignedValue > max)
            fail(path, display(v) + " out of range for " + typeName(type));
        return n.unsignedValue;
    }

    static double floatIn(const Json& v, capnp::Type type, const Path& path) {
        if (v.kind == Json::Kind::kString) {
            if (v.text == "NaN") return std::numeric_limits<double>::quiet_NaN();
            if (v.text == "Infinity") return std::numeric_limits<double>::infinity();
            if (v.text == "-Infinity") return -std::numeric_limits<double>::infinity();
        }
        const std::string_view text = numericText(v, type, path);
        double d = 0;
        const auto r = std::from_chars(text.data(), text.data() + text.size(), d);
        if (r.ec == std::errc::result_out_of_range) {
            const bool tiny = text.find("e-") != std::string_view::npos ||
                              text.find("E-") != std::string_view::npos ||
                              text.substr(text[0] == '-' ? 1 : 0, 2) == "0.";
            if (!tiny) fail(path, display(v) + " out of range for " + typeName(type));
            return text[0] == '-' ? -0.0 : 0.0;
        }
        if (r.ec != std::errc() || r.ptr != text.data() + text.size())
            fail(path, display(v) + " is not a valid " + typeName(type));
        return d;
    }

    void decodeData(const Json& v, capnp::Type type, const Slot& slot, const Path& path) {
        if (v.kind == Json::Kind::kString) {
            auto bytes = base64Decode(v.text);
            if (!bytes) fail(path, "invalid base64");
            if (bytes->size() > kMaxListSize) fail(path, "data too long");
            slot.set(capnp::Data::Reader(reinterpret_cast<const capnp::byte*>(bytes->data()),
                                         bytes->size()));
            return;
        }
        if (v.kind == Json::Kind::kArray) {  // capnp::JsonCodec's default form
            const auto items = parser_.items(v);
            if (items.size() > kMaxListSize) fail(path, "data too long");
            auto data = slot.init(static_cast<unsigned>(items.size())).as<capnp::Data>();
            for (std::size_t i = 0; i < items.size(); ++i) {
                const auto& item = items[i];
                const Path itemPath{&path, i};
                if (item.kind != Json::Kind::kNumber)
                    fail(itemPath,
                         std::string("expected a byte (0..255), got ") + kindName(item.kind));
                data[i] = static_cast<capnp::byte>(
                    unsignedIn(item, capnp::Type(W::UINT8), itemPath, UINT8_MAX));
            }
            return;
        }
        expected(v, type, path, "a base64 string");
    }

    void decodeList(const Json& v, capnp::ListSchema schema, const Slot& slot, const Path& path) {
        if (v.kind != Json::Kind::kArray) expected(v, schema, path, "an array");
        const auto items = parser_.items(v);
        if (items.size() > kMaxListSize) fail(path, "list too long");
        const auto elementType = schema.getElementType();
        if (elementType.which() == W::INTERFACE || elementType.which() == W::ANY_POINTER)
            fail(path, typeName(schema) + " has no JSON form");
        auto list = slot.init(static_cast<unsigned>(items.size())).as<capnp::DynamicList>();
        for (std::size_t i = 0; i < items.size(); ++i) {
            const auto& item = items[i];
            if (item.kind == Json::Kind::kNull && elementType.which() != W::VOID)
                continue;  // the element's default
            Slot element;
            element.list = &list;
            element.index = static_cast<unsigned>(i);
            decodeValue(item, elementType, element, Path{&path, i});
        }
    }

    void decodeEnum(const Json& v, capnp::EnumSchema schema, const Slot& slot, const Path& path) {
        if (v.kind == Json::Kind::kString) {
            const std::string name(v.text);  // capnp wants it NUL-terminated
            KJ_IF_MAYBE (e, schema.findEnumerantByName(name)) {
                slot.set(capnp::DynamicEnum(*e));
                return;
            }
            std::string names;
            for (auto e : schema.getEnumerants()) {
                if (!names.empty()) names += ", ";
                names += e.getProto().getName().cStr();
            }
            fail(path, "unknown enumerant '" + name + "' of " + schemaName(schema) +
                           " (expected one of: " + names + ")");
        }
        if (v.kind == Json::Kind::kNumber) {
            const auto raw = unsignedIn(v, capnp::Type(W::UINT16), path, UINT16_MAX);
            slot.set(capnp::DynamicEnum(schema, static_cast<std::uint16_t>(raw)));
            return;
        }
        expected(v, schema, path, "an enumerant name");
    }

    const Parser& parser_;
    Infos infos_;
};

// ---------------------------------------------------------------- capnp -> JSON

class Writer {
 public:
    explicit Writer(bool pretty) : pretty_(pretty) {
        out_.reserve(128);  // most replies fit: one allocation, not one per doubling
    }

    std::string take() { return std::move(out_); }

    void writeStruct(capnp::DynamicStruct::Reader s, const Path& path) {
        const StructInfo& info = infos_.of(s.getSchema());
        std::optional<unsigned> active;
        if (info.hasUnion) {
            KJ_IF_MAYBE (f, s.which()) {
                active = f->getIndex();
            }
        }
        const auto pointers = s.as<capnp::AnyStruct>().getPointerSection();
        bool any = false;
        out_ += '{';
        ++depth_;
        for (const FieldInfo& field : info.fields) {
            if (field.inUnion && active != field.field.getIndex()) continue;
            const Path childPath{&path, field.name};
            if (field.plainText) {
                // A struct written by an older schema may have fewer pointers:
                // the field is then unset, as capnp reads it.
                if (field.offset >= pointers.size() || pointers[field.offset].isNull()) continue;
                separator(any);
                key(field.name);
                const auto text = pointers[field.offset].getAs<capnp::Text>();
                writeString(std::string_view(text.begin(), text.size()));
                continue;
            }
            if (field.pointer && !s.has(field.field)) {
                if (!field.inUnion) continue;
                separator(any);
                key(field.name);
                out_ += "null";
                continue;
            }
            separator(any);
            key(field.name);
            writeValue(s.get(field.field), field.type, childPath);
        }
        --depth_;
        if (any) newline();
        out_ += '}';
    }

 private:
    void newline() {
        if (!pretty_) return;
        out_ += '\n';
        out_.append(static_cast<std::size_t>(depth_) * 2, ' ');
    }

    void separator(bool& any) {
        if (any) out_ += ',';
        any = true;
        newline();
    }

    void key(std::string_view name) {
        writeString(name);
        out_ += pretty_ ? ": " : ":";
    }

    template <typename T>
    void number(T value) {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, value);
        out_.append(buf, r.ptr);
    }

    template <typename T>
    void floating(T value) {
        if (std::isnan(value)) {
            out_ += "\"NaN\"";
        } else if (std::isinf(value)) {
            out_ += value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
        } else {
            number(value);
        }
    }

    void writeValue(const capnp::DynamicValue::Reader& value, capnp::Type type, const Path& path) {
        switch (type.which()) {
            case W::VOID:
                out_ += "null";
                return;
            case W::BOOL:
                out_ += value.as<bool>() ? "true" : "false";
                return;
            case W::INT8:
            case W::INT16:
            case W::INT32:
                number(value.as<std::int64_t>());
                return;
            case W::UINT8:
            case W::UINT16:
            case W::UINT32:
                number(value.as<std::uint64_t>());
                return;
            case W::INT64:
                out_ += '"';
                number(value.as<std::int64_t>());
                out_ += '"';
                return;
            case W::UINT64:
                out_ += '"';
                number(value.as<std::uint64_t>());
                out_ += '"';
                return;
            case W::FLOAT32:
                floating(value.as<float>());
                return;
            case W::FLOAT64:
                floating(value.as<double>());
                return;
            case W::TEXT: {
                auto text = value.as<capnp::Text>();
                writeString(std::string_view(text.begin(), text.size()));
                return;
            }
            case W::DATA: {
                auto data = value.as<capnp::Data>();
                out_ += '"';
                out_ += base64Encode(data.begin(), data.size());
                out_ += '"';
                return;
            }
            case W::LIST: {
                auto list = value.as<capnp::DynamicList>();
                const auto elementType = type.asList().getElementType();
                out_ += '[';
                ++depth_;
                bool any = false;
                for (unsigned i = 0; i < list.size(); ++i) {
                    separator(any);
                    writeValue(list[i], elementType, Path{&path, i});
                }
                --depth_;
                if (any) newline();
                out_ += ']';
                return;
            }
            case W::ENUM: {
                auto e = value.as<capnp::DynamicEnum>();
                KJ_IF_MAYBE (enumerant, e.getEnumerant()) {
                    writeString(enumerant->getProto().getName().cStr());
                } else {
                    number(e.getRaw());
                }
                return;
            }
            case W::STRUCT:
                writeStruct(value.as<capnp::DynamicStruct>(), path);
                return;
            case W::INTERFACE:
            case W::ANY_POINTER:
                throw Error(Code::kUnimplemented,
                            "field '" + path.str() + "': " + typeName(type) + " has no JSON form");
        }
        throw Error(Code::kUnimplemented, "field '" + path.str() + "': unsupported type");
    }

    void writeString(std::string_view s) {
        // Room for the string as it is and its quotes: one allocation at
        // most, unless it has escapes to expand.
        out_.reserve(out_.size() + s.size() + 2);
        out_ += '"';
        std::size_t i = 0;
        for (;;) {
            // A run of plain characters, copied at once, then the one byte
            // after it that needs care.
            const std::size_t run = i;
            i = plainRunEnd(s, i);
            if (i != run) out_.append(s.data() + run, i - run);
            if (i == s.size()) break;
            const auto c = static_cast<unsigned char>(s[i]);
            if (c >= 0x80) {
                const std::size_t len = utf8Length(s, i);
                if (len == 0) {
                    out_ += "\\ufffd";
                    ++i;
                } else {
                    out_.append(s.data() + i, len);
                    i += len;
                }
                continue;
            }
            ++i;
            switch (c) {
                case '"':
                    out_ += "\\\"";
                    break;
                case '\\':
                    out_ += "\\\\";
                    break;
                case '\b':
                    out_ += "\\b";
                    break;
                case '\f':
                    out_ += "\\f";
                    break;
                case '\n':
                    out_ += "\\n";
                    break;
                case '\r':
                    out_ += "\\r";
                    break;
                case '\t':
                    out_ += "\\t";
                    break;
                default: {  // another control character: \u00XX, in lower case
                    static constexpr char kHex[] = "0123456789abcdef";
                    const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
                    out_.append(escaped, sizeof escaped);
                }
            }
        }
        out_ += '"';
    }

    std::string out_;
    bool pretty_;
    int depth_ = 0;
    Infos infos_;
};

}  // namespace

std::string toJson(const capnp::DynamicStruct::Reader& value, JsonOptions options) {
    try {
        Writer writer(options.pretty);
        writer.writeStruct(value, Path{});
        return writer.take();
    } catch (const kj::Exception& e) {
        throw Error(Code::kInvalidArgument,
                    std::string("malformed capnp message: ") + detail::kjMessage(e));
    }
}

void fromJson(std::string_view json, capnp::DynamicStruct::Builder out) {
    Parser parser(json);  // outlives root, which points into it
    const Json root = parser.parseDocument();
    try {
        Decoder(parser).decodeStruct(root, out, Path{});
    } catch (const kj::Exception& e) {
        throw Error(Code::kInvalidArgument, std::string("cannot decode JSON into ") +
                                                schemaName(out.getSchema()) + ": " +
                                                detail::kjMessage(e));
    }
}

}  // namespace micro::codec

namespace micro::codec {

void checkJson(std::string_view json) { Parser(json).parseDocument(); }

}  // namespace micro::codec
