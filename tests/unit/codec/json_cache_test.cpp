// The JSON codec reads each struct's fields from a table it builds once per
// schema: the same results from many threads at once, and for schemas a
// SchemaLoader makes and frees, whose addresses come back for other schemas.
// Its parser reads strings in place and reuses its storage per thread; Text
// is read and written through its pointer: the same results as before.
#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include <capnp/message.h>

#include <atomic>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "fixtures.hpp"

using codec_fixtures::errorOf;
using micro::Code;
using micro::codec::fromJson;
using micro::codec::SchemaSet;
using micro::codec::toJson;
using micro::codec_test::FirstSeen;
using micro::codec_test::HelloRequest;
using micro::codec_test::HelloResponse;

TEST_CASE("json cache: a schema first seen by many threads at once") {
    constexpr int kThreads = 8;
    constexpr int kRounds = 200;
    const std::string json =
        R"({"label":"l","count":-3,"inner":{"label":"in","count":9},"word":"w"})";
    std::latch start(kThreads);
    std::atomic<int> wrong{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            start.arrive_and_wait();  // all decode their first FirstSeen together
            for (int i = 0; i < kRounds; ++i) {
                capnp::MallocMessageBuilder m;
                fromJson(json, m.initRoot<FirstSeen>());
                const auto v = m.getRoot<FirstSeen>().asReader();
                if (v.getLabel() != "l" || v.getCount() != -3 || v.getInner().getCount() != 9 ||
                    v.getWord() != "w" || toJson(v) != json)
                    ++wrong;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(wrong.load() == 0);
}

namespace {

// A set holding one struct node under `id`: the node of T, renumbered.
template <typename T>
SchemaSet renumbered(std::uint64_t id, bool firstFieldInt32 = false) {
    SchemaSet compiled;
    compiled.add<T>();
    capnp::MallocMessageBuilder message;
    auto nodes = message.getOrphanage().newOrphan<capnp::List<capnp::schema::Node>>(1);
    compiled.writeNodes(nodes.get());
    auto node = nodes.get()[0];
    node.setId(id);
    if (firstFieldInt32) {  // the same size of node: likely the same allocations
        node.getStruct().setDataWordCount(1);
        auto slot = node.getStruct().getFields()[0].getSlot();
        slot.getType().setInt32();
        slot.getDefaultValue().setInt32(0);
    }
    return SchemaSet::load(nodes.getReader());
}

// Decodes `json` into a fresh message of `schema` and writes it back; or
// returns the error.
std::string roundTrip(capnp::StructSchema schema, const std::string& json) {
    try {
        capnp::MallocMessageBuilder m;
        auto root = m.initRoot<capnp::DynamicStruct>(schema);
        fromJson(json, root);
        return toJson(root.asReader());
    } catch (const micro::Error& e) {
        return e.what();
    }
}

}  // namespace

TEST_CASE("json cache: loaded schemas, freed and loaded again with other fields") {
    // Two versions of one node, alike but for the type of their field.
    // Loaded and freed in turn, the second's schema tends to sit where the
    // first's did; each must be read as itself.
    const std::uint64_t id = 0xe1a7'0000'0000'0001ULL;
    for (int round = 0; round < 50; ++round) {
        const bool text = round % 2 == 0;
        const SchemaSet set = renumbered<HelloRequest>(id, !text);
        const auto schema = set.find(id);
        if (text) {
            CHECK(roundTrip(schema, R"({"name":"a"})") == R"({"name":"a"})");
            CHECK(roundTrip(schema, R"({"name":5})") == "field 'name': expected Text, got number");
        } else {
            CHECK(roundTrip(schema, R"({"name":5})") == R"({"name":5})");
            CHECK(roundTrip(schema, R"({"name":"a"})") == "field 'name': 'a' is not a valid Int32");
        }
    }
}

TEST_CASE("json cache: a loaded and a compiled-in schema of one node stay apart") {
    // Same node id as the compiled-in HelloRequest, another field.
    const std::uint64_t id = capnp::Schema::from<HelloRequest>().getProto().getId();
    const SchemaSet set = renumbered<HelloResponse>(id);
    const auto compiled = capnp::Schema::from<HelloRequest>();
    CHECK(roundTrip(compiled, R"({"name":"x"})") == R"({"name":"x"})");
    CHECK(roundTrip(set.find(id), R"({"greeting":"y"})") == R"({"greeting":"y"})");
    CHECK(roundTrip(set.find(id), R"({"name":"y"})") == "unknown field 'name' in HelloResponse");
    CHECK(roundTrip(compiled, R"({"name":"z"})") == R"({"name":"z"})");
    CHECK(roundTrip(compiled, R"({"greeting":"z"})") == "unknown field 'greeting' in HelloRequest");
}

TEST_CASE("json: keys and strings with and without escapes, one after another") {
    // Strings without escapes are read in place, those with escapes decoded
    // apart: both kinds, as keys and as values, in one document.
    capnp::MallocMessageBuilder m;
    auto e = m.initRoot<micro::codec_test::Everything>();
    fromJson(R"({"t\u0065xt":"a\"b","tags":["plain","\u00e9",""],"inner":{"label":"x\ny"},)"
             R"("grp":{"b":"grp"}})",
             e);
    CHECK(e.getText() == "a\"b");
    CHECK(e.getTags()[0] == "plain");
    CHECK(e.getTags()[1] == "\xc3\xa9");
    CHECK(e.getTags()[2] == "");
    CHECK(e.getInner().getLabel() == "x\ny");
    CHECK(e.getGrp().getB() == "grp");
    // An empty string is set, not left null.
    capnp::MallocMessageBuilder empty;
    fromJson(R"({"text":""})", empty.initRoot<micro::codec_test::Everything>());
    CHECK(empty.getRoot<micro::codec_test::Everything>().hasText());
}

TEST_CASE("json: a document that failed half-way leaves nothing for the next") {
    // The parser's storage is reused by the thread's next document.
    capnp::MallocMessageBuilder bad;
    CHECK(errorOf(
              [&] {
                  fromJson(R"({"inners":[{"label":"a"},{"label":[1,{"x":)",
                           bad.initRoot<micro::codec_test::Everything>());
              },
              Code::kInvalidArgument) == "malformed JSON at offset 42: unexpected end of input");
    capnp::MallocMessageBuilder m;
    fromJson(R"({"inners":[{"label":"b","count":2}],"matrix":[[1],[2,3]]})",
             m.initRoot<micro::codec_test::Everything>());
    const auto e = m.getRoot<micro::codec_test::Everything>().asReader();
    REQUIRE(e.getInners().size() == 1);
    CHECK(e.getInners()[0].getLabel() == "b");
    CHECK(e.getInners()[0].getCount() == 2);
    REQUIRE(e.getMatrix().size() == 2);
    CHECK(e.getMatrix()[1].size() == 2);
    CHECK(e.getMatrix()[1][1] == 3);
}

TEST_CASE("json: a large document, then a small one") {
    std::string json = R"({"tags":[)";
    for (int i = 0; i < 5000; ++i) json += (i == 0 ? "\"" : ",\"") + std::to_string(i) + "\"";
    json += "]}";
    capnp::MallocMessageBuilder big;
    fromJson(json, big.initRoot<micro::codec_test::Everything>());
    const auto tags = big.getRoot<micro::codec_test::Everything>().asReader().getTags();
    REQUIRE(tags.size() == 5000);
    CHECK(tags[4999] == "4999");
    capnp::MallocMessageBuilder small;
    fromJson(R"({"name":"n"})", small.initRoot<HelloRequest>());
    CHECK(small.getRoot<HelloRequest>().getName() == "n");
}

TEST_CASE("json: Text written by a struct with fewer pointers, or not Text at all") {
    // A struct from an older schema: no pointer for the field, so it is unset.
    capnp::MallocMessageBuilder older;
    older.getRoot<capnp::AnyPointer>().initAsAnyStruct(1, 0);
    CHECK(toJson(older.getRoot<HelloResponse>().asReader()) == "{}");
    // A struct where Text belongs.
    capnp::MallocMessageBuilder wrong;
    auto s = wrong.getRoot<capnp::AnyPointer>().initAsAnyStruct(0, 1);
    s.getPointerSection()[0].initAsAnyStruct(1, 0);
    CHECK(errorOf([&] { toJson(wrong.getRoot<HelloResponse>().asReader()); },
                  Code::kInvalidArgument) ==
          "malformed capnp message: Message contains non-list pointer where text was expected.");
}

TEST_CASE("json: a key with an escaped NUL names the field before it") {
    // As capnp's findFieldByName, which takes a C string, always read it.
    capnp::MallocMessageBuilder m;
    fromJson(R"({"name\u0000x":"v"})", m.initRoot<HelloRequest>());
    CHECK(m.getRoot<HelloRequest>().getName() == "v");
    // Given twice, then.
    capnp::MallocMessageBuilder twice;
    CHECK(errorOf(
              [&] { fromJson(R"({"name":"a","name\u0000":"b"})", twice.initRoot<HelloRequest>()); },
              Code::kInvalidArgument) == "field 'name");  // what() ends at the NUL
}
