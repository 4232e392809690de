#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fixtures.hpp"

using codec_fixtures::errorOf;
using codec_fixtures::fillEverything;
using micro::Code;
using micro::codec::ContentType;
using micro::codec::decode;
using micro::codec::encode;
using micro::codec::toJson;
using micro::codec_test::Everything;
using micro::codec_test::HelloRequest;
using micro::codec_test::Tree;

namespace {

std::string everythingBytes() {
    capnp::MallocMessageBuilder m;
    fillEverything(m.initRoot<Everything>());
    return encode(ContentType::kCapnp, m.getRoot<Everything>().asReader());
}

std::string everythingJson() {
    capnp::MallocMessageBuilder m;
    fillEverything(m.initRoot<Everything>());
    return toJson(m.getRoot<Everything>().asReader());
}

std::string words(std::initializer_list<std::uint64_t> ws) {
    std::string out;
    for (auto w : ws) {
        char b[8];
        for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((w >> (8 * i)) & 0xff);  // LE
        out.append(b, 8);
    }
    return out;
}

// Decoding `bytes` as Everything fails with INVALID_ARGUMENT "malformed capnp
// message: ..." and leaves the root a default Everything.
std::string malformed(const std::string& bytes) {
    capnp::MallocMessageBuilder out;
    auto first = out.initRoot<Everything>();
    first.setText("stale");
    const std::string message =
        errorOf([&] { decode(ContentType::kCapnp, bytes, capnp::Schema::from<Everything>(), out); },
                Code::kInvalidArgument);
    CHECK_MESSAGE(message.rfind("malformed capnp message: ", 0) == 0, message);
    CHECK(!out.getRoot<Everything>().hasText());
    return message;
}

}  // namespace

TEST_CASE("binary: encode and decode round trip") {
    const std::string bytes = everythingBytes();
    CHECK(bytes.size() % 8 == 0);
    capnp::MallocMessageBuilder out;
    auto root = decode(ContentType::kCapnp, bytes, capnp::Schema::from<Everything>(), out);
    CHECK(toJson(root.asReader()) == everythingJson());
    CHECK(out.getRoot<Everything>().getU64() == std::numeric_limits<std::uint64_t>::max());
    // The encoding is the standard framing any Cap'n Proto reader understands.
    kj::ArrayPtr<const capnp::word> view(reinterpret_cast<const capnp::word*>(bytes.data()),
                                         bytes.size() / 8);
    capnp::FlatArrayMessageReader reader(view);
    CHECK(reader.getRoot<Everything>().getInner().getCount() == 7);
}

TEST_CASE("binary: unaligned input is copied and works") {
    const std::string bytes = everythingBytes();
    std::string buffer = "x" + bytes;
    std::string_view unaligned = std::string_view(buffer).substr(1);
    REQUIRE(reinterpret_cast<std::uintptr_t>(unaligned.data()) % 8 != 0);
    capnp::MallocMessageBuilder out;
    auto root = decode(ContentType::kCapnp, unaligned, capnp::Schema::from<Everything>(), out);
    CHECK(toJson(root.asReader()) == everythingJson());
}

TEST_CASE("binary: JSON in, capnp out, JSON back") {
    capnp::MallocMessageBuilder in;
    auto root = decode(ContentType::kJson, everythingJson(), capnp::Schema::from<Everything>(), in);
    const std::string bytes = encode(ContentType::kCapnp, root.asReader());
    capnp::MallocMessageBuilder out;
    decode(ContentType::kCapnp, bytes, capnp::Schema::from<Everything>(), out);
    CHECK(encode(ContentType::kJson, out.getRoot<Everything>().asReader()) == everythingJson());
}

TEST_CASE("binary: malformed messages are INVALID_ARGUMENT, not crashes") {
    const std::string good = everythingBytes();
    CHECK(malformed("") == "malformed capnp message: empty");
    CHECK(malformed(good.substr(0, good.size() - 3)).find("not a whole number of 8-byte words") !=
          std::string::npos);
    malformed(good.substr(0, good.size() - 8));  // truncated
    malformed(good.substr(0, 8));                // only the segment table
    CHECK(malformed(good + std::string(8, '\0')) ==
          "malformed capnp message: 8 trailing bytes after the message");
    malformed(std::string(64, '\xff'));                  // garbage
    malformed(words({0x7fffffff00000000ull, 0}));        // one segment of 2^31 - 1 words
    malformed(words({0x00000000000003e7ull, 0, 0, 0}));  // 1000 segments
    // One segment, one word: a far pointer into segment 5, which does not exist.
    malformed(words({0x0000000100000000ull, 0x0000000500000002ull}));
    // A struct pointer far past the end of the segment.
    malformed(words({0x0000000100000000ull, 0x0001000000fffff0ull}));
}

TEST_CASE("binary: a cyclic message stops at the traversal/nesting limits") {
    // Root Tree whose `children` list's elements each point back at that list.
    const auto list = [](std::int64_t offset) {
        return 1ull | ((static_cast<std::uint64_t>(offset) & 0x3fffffffull) << 2) | (7ull << 32) |
               (4ull << 35);
    };
    const std::string bytes = words({
        0x0000000800000000ull,       // segment table: 1 segment of 8 words
        2ull << 48,                  // w0 root: struct at w1, 0 data words, 2 pointers
        0,                           // w1 label
        list(0),                     // w2 children -> tag at w3
        (2ull << 2) | (2ull << 48),  // w3 tag: 2 elements of 0 data + 2 pointers
        0,                           // w4 [0].label
        list(-3),                    // w5 [0].children -> w3
        0,                           // w6 [1].label
        list(-5),                    // w7 [1].children -> w3
    });
    capnp::MallocMessageBuilder out;
    errorOf([&] { decode(ContentType::kCapnp, bytes, capnp::Schema::from<Tree>(), out); },
            Code::kInvalidArgument);
}

TEST_CASE("binary: nesting deeper than 64 is rejected") {
    capnp::MallocMessageBuilder m;
    auto node = m.initRoot<Tree>();
    for (int i = 0; i < 100; ++i) node = node.initChildren(1)[0];
    const std::string bytes = encode(ContentType::kCapnp, m.getRoot<Tree>().asReader());
    capnp::MallocMessageBuilder out;
    const std::string message =
        errorOf([&] { decode(ContentType::kCapnp, bytes, capnp::Schema::from<Tree>(), out); },
                Code::kInvalidArgument);
    CHECK(message.rfind("malformed capnp message: ", 0) == 0);
}

TEST_CASE("binary: raw bytes are not a struct") {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<HelloRequest>();
    CHECK(errorOf([&] { encode(ContentType::kRaw, h.asReader()); }, Code::kInvalidArgument) ==
          "cannot encode HelloRequest as application/octet-stream: raw bytes are not a struct");
    CHECK(errorOf([&] { decode(ContentType::kRaw, "abc", capnp::Schema::from<HelloRequest>(), m); },
                  Code::kInvalidArgument) ==
          "a application/octet-stream body is raw bytes and cannot be decoded as HelloRequest");
}

TEST_CASE("binary: a failed JSON decode leaves a default root") {
    capnp::MallocMessageBuilder m;
    errorOf(
        [&] {
            decode(ContentType::kJson, R"({"text":"half","u8":300})",
                   capnp::Schema::from<Everything>(), m);
        },
        Code::kInvalidArgument);
    CHECK(!m.getRoot<Everything>().hasText());
}

TEST_CASE("binary: typed helpers") {
    capnp::MallocMessageBuilder m;
    auto h = micro::codec::decode<HelloRequest>(ContentType::kJson, R"({"name":"Bob"})", m);
    CHECK(std::string(h.getName().cStr()) == "Bob");
    const std::string bytes = micro::codec::encode<HelloRequest>(ContentType::kCapnp, h.asReader());
    capnp::MallocMessageBuilder again;
    auto back = micro::codec::decode<HelloRequest>(ContentType::kCapnp, bytes, again);
    CHECK(std::string(back.getName().cStr()) == "Bob");
    CHECK(micro::codec::encode<HelloRequest>(ContentType::kJson, back.asReader()) ==
          R"({"name":"Bob"})");
}

TEST_CASE("binary: every single-byte corruption decodes or fails cleanly") {
    const std::string good = everythingBytes();
    int failures = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (unsigned char value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
            std::string bad = good;
            bad[i] = static_cast<char>(value);
            capnp::MallocMessageBuilder out;
            capnp::DynamicStruct::Builder root;
            try {
                root = decode(ContentType::kCapnp, bad, capnp::Schema::from<Everything>(), out);
            } catch (const micro::Error& e) {
                CHECK(e.code() == Code::kInvalidArgument);
                ++failures;
                continue;
            }
            try {
                toJson(root.asReader());  // what decodes also encodes, or names the field
            } catch (const micro::Error& e) {
                // A corrupted pointer can make the AnyPointer field non-null.
                CHECK_MESSAGE(e.code() == Code::kUnimplemented, e.describe());
            }
        }
    }
    CHECK(failures > 0);
}

TEST_CASE("json: every truncation of a document fails cleanly") {
    const std::string json = everythingJson();
    for (std::size_t n = 0; n < json.size(); ++n) {
        capnp::MallocMessageBuilder out;
        const std::string message = errorOf(
            [&] {
                decode(ContentType::kJson, std::string_view(json).substr(0, n),
                       capnp::Schema::from<Everything>(), out);
            },
            Code::kInvalidArgument);
        CHECK(message.rfind("malformed JSON at offset ", 0) == 0);
    }
}
