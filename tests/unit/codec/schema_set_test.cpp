#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <string>

#include "fixtures.hpp"
#include "service.capnp.h"

using codec_fixtures::errorOf;
using codec_fixtures::fillEverything;
using micro::Code;
using micro::codec::ContentType;
using micro::codec::decode;
using micro::codec::encode;
using micro::codec::SchemaSet;
using micro::codec::toJson;
using micro::codec_test::Color;
using micro::codec_test::Everything;
using micro::codec_test::HelloRequest;
using micro::codec_test::HelloResponse;
using micro::codec_test::Inner;

namespace {

std::uint64_t idOf(capnp::Schema s) { return s.getProto().getId(); }

std::uint64_t groupId(const char* name) {
    return idOf(capnp::Schema::from<Everything>().getFieldByName(name).getType().asStruct());
}

std::string compiledJson() {
    capnp::MallocMessageBuilder m;
    fillEverything(m.initRoot<Everything>());
    return toJson(m.getRoot<Everything>().asReader());
}

// A set rebuilt from bytes alone: what a tool that never saw test.capnp has.
SchemaSet reloaded() {
    SchemaSet compiled;
    compiled.add<Everything>().add<HelloRequest>();
    return SchemaSet::deserialize(compiled.serialize());
}

}  // namespace

TEST_CASE("schema set: add collects referenced types once") {
    SchemaSet set;
    set.add<Everything>();
    const std::uint64_t everything = idOf(capnp::Schema::from<Everything>());
    CHECK(set.size() == 5);  // Everything, Color, Inner, grp, choice
    CHECK(set.ids().front() == everything);
    CHECK(set.contains(idOf(capnp::Schema::from<Inner>())));
    CHECK(set.contains(idOf(capnp::Schema::from<Color>())));
    CHECK(set.contains(groupId("grp")));
    CHECK(set.contains(groupId("choice")));
    CHECK(!set.contains(idOf(capnp::Schema::from<HelloRequest>())));
    set.add<Everything>().add<Inner>().add<HelloRequest>();
    CHECK(set.size() == 6);
    CHECK(set.find(everything) == capnp::Schema::from<Everything>());
}

TEST_CASE("schema set: find and get errors") {
    SchemaSet set;
    set.add<Everything>();
    CHECK(errorOf([&] { set.find(0x3039); }, Code::kNotFound) ==
          "no schema 0x0000000000003039 in the set");
    CHECK(errorOf([&] { set.describe(0x3039); }, Code::kNotFound) ==
          "no schema 0x0000000000003039 in the set");
    const std::string message =
        errorOf([&] { set.find(idOf(capnp::Schema::from<Color>())); }, Code::kInvalidArgument);
    CHECK(message.find("(Color) is not a struct") != std::string::npos);
}

TEST_CASE("schema set: names and descriptions") {
    for (const SchemaSet& set : {SchemaSet().add<Everything>().add<HelloRequest>(), reloaded()}) {
        CHECK(set.describe(idOf(capnp::Schema::from<HelloRequest>())) ==
              "HelloRequest { name: Text }");
        CHECK(set.describe(idOf(capnp::Schema::from<Color>())) ==
              "enum Color { red, green, blue }");
        CHECK(set.name(idOf(capnp::Schema::from<Inner>())) == "Inner");
        CHECK(set.name(groupId("grp")) == "Everything.grp");
        CHECK(set.describe(idOf(capnp::Schema::from<Everything>())) ==
              "Everything { text: Text, data: Data, flag: Bool, i8: Int8, i16: Int16, i32: Int32, "
              "i64: Int64, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64, f32: Float32, "
              "f64: Float64, color: Color, inner: Inner, inners: List(Inner), tags: List(Text), "
              "numbers: List(Int64), matrix: List(List(Int32)), colors: List(Color), "
              "blobs: List(Data), union { none: Void, name: Text, point: Inner }, "
              "grp: group { a: Int32, b: Text }, choice: union { x: Int32, y: Text }, "
              "withDefault: Int32, nothing: Void, anything: AnyPointer }");
    }
}

TEST_CASE("schema set: a set loaded from serialized nodes round trips capnp <-> JSON") {
    const SchemaSet loaded = reloaded();
    const auto schema = loaded.find(idOf(capnp::Schema::from<Everything>()));
    CHECK(schema != capnp::Schema::from<Everything>());  // not the compiled-in one

    // JSON -> capnp through the loaded schema; read back with the compiled type.
    capnp::MallocMessageBuilder in;
    auto root = decode(ContentType::kJson, compiledJson(), schema, in);
    const std::string bytes = encode(ContentType::kCapnp, root.asReader());
    capnp::MallocMessageBuilder typed;
    auto e = micro::codec::decode<Everything>(ContentType::kCapnp, bytes, typed);
    CHECK(e.getI64() == -9007199254740993LL);
    CHECK(e.getColor() == Color::BLUE);
    CHECK(e.getInners()[1].getCount() == 2);
    CHECK(e.getChoice().which() == Everything::Choice::Y);
    CHECK(toJson(e.asReader()) == compiledJson());

    // capnp written by compiled code -> JSON through the loaded schema.
    capnp::MallocMessageBuilder m;
    fillEverything(m.initRoot<Everything>());
    const std::string compiledBytes =
        encode(ContentType::kCapnp, m.getRoot<Everything>().asReader());
    capnp::MallocMessageBuilder out;
    auto dynamic = decode(ContentType::kCapnp, compiledBytes, schema, out);
    CHECK(encode(ContentType::kJson, dynamic.asReader()) == compiledJson());

    // Field errors through a loaded schema name the field too.
    capnp::MallocMessageBuilder bad;
    CHECK(errorOf([&] { decode(ContentType::kJson, R"({"inner":{"count":300}})", schema, bad); },
                  Code::kInvalidArgument) == "field 'inner.count': 300 out of range for UInt8");
}

TEST_CASE("schema set: through a ServiceRecord, as the registry carries it") {
    SchemaSet schemas;
    schemas.add<HelloRequest>().add<HelloResponse>();

    capnp::MallocMessageBuilder message;
    auto record = message.initRoot<micro::schema::ServiceRecord>();
    record.setName("greeter");
    auto endpoints = record.initEndpoints(1);
    endpoints[0].setName("Greeter.Hello");
    endpoints[0].setRequestType(idOf(capnp::Schema::from<HelloRequest>()));
    endpoints[0].setResponseType(idOf(capnp::Schema::from<HelloResponse>()));
    schemas.writeNodes(record.initSchemaNodes(static_cast<unsigned>(schemas.size())));
    auto flat = capnp::messageToFlatArray(message);

    // The CLI side: only the bytes.
    capnp::FlatArrayMessageReader reader(flat);
    auto published = reader.getRoot<micro::schema::ServiceRecord>();
    const SchemaSet set = SchemaSet::load(published.getSchemaNodes());
    const auto endpoint = published.getEndpoints()[0];
    capnp::MallocMessageBuilder request;
    auto req = decode(ContentType::kJson, R"({"name":"Ann"})", set.find(endpoint.getRequestType()),
                      request);
    const std::string body = encode(ContentType::kCapnp, req.asReader());
    capnp::MallocMessageBuilder server;
    auto typed = micro::codec::decode<HelloRequest>(ContentType::kCapnp, body, server);
    CHECK(std::string(typed.getName().cStr()) == "Ann");
    CHECK(set.describe(endpoint.getResponseType()) == "HelloResponse { greeting: Text }");

    CHECK(errorOf([&] { schemas.writeNodes(record.initSchemaNodes(1)); }, Code::kInvalidArgument)
              .find("writeNodes") != std::string::npos);
}

TEST_CASE("schema set: incomplete or malformed nodes are INVALID_ARGUMENT") {
    SchemaSet compiled;
    compiled.add<Everything>();
    const std::uint64_t inner = idOf(capnp::Schema::from<Inner>());

    SUBCASE("a referenced type is missing") {
        capnp::MallocMessageBuilder m;
        auto bundle = m.initRoot<micro::schema::SchemaBundle>();
        auto ids = compiled.ids();
        ids.erase(std::remove(ids.begin(), ids.end(), inner), ids.end());
        auto nodes = bundle.initNodes(static_cast<unsigned>(ids.size()));
        for (unsigned i = 0; i < ids.size(); ++i)
            nodes.setWithCaveats(i, compiled.get(ids[i]).getProto());
        const std::string message =
            errorOf([&] { SchemaSet::load(nodes.asReader()); }, Code::kInvalidArgument);
        CHECK(message.find("(Everything): field 'inner' references type") != std::string::npos);
        CHECK(message.find("which is not among the nodes") != std::string::npos);
    }
    SUBCASE("a struct whose fields do not fit its sections") {
        capnp::MallocMessageBuilder m;
        auto nodes = m.initRoot<micro::schema::SchemaBundle>().initNodes(1);
        nodes.setWithCaveats(0, capnp::Schema::from<Inner>().getProto());
        nodes[0].getStruct().setDataWordCount(0);
        const std::string message =
            errorOf([&] { SchemaSet::load(nodes.asReader()); }, Code::kInvalidArgument);
        CHECK(message.rfind("malformed schema node ", 0) == 0);
        CHECK(message.find("(Inner)") != std::string::npos);
    }
    SUBCASE("a node with id 0") {
        capnp::MallocMessageBuilder m;
        auto nodes = m.initRoot<micro::schema::SchemaBundle>().initNodes(1);
        nodes.setWithCaveats(0, capnp::Schema::from<Inner>().getProto());
        nodes[0].setId(0);
        CHECK(errorOf([&] { SchemaSet::load(nodes.asReader()); }, Code::kInvalidArgument)
                  .find("a node id may not be 0") != std::string::npos);
    }
    SUBCASE("garbage bytes") {
        CHECK(
            errorOf([] { SchemaSet::deserialize(std::string(40, '\x7f')); }, Code::kInvalidArgument)
                .rfind("malformed schema bundle: ", 0) == 0);
        CHECK(errorOf([] { SchemaSet::deserialize("abc"); }, Code::kInvalidArgument)
                  .rfind("malformed schema bundle: ", 0) == 0);
    }
}
