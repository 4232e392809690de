#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include "fixtures.hpp"

using micro::Code;
using micro::codec::ContentType;
using micro::codec::contentTypeName;
using micro::codec::parseContentType;

TEST_CASE("content type: the accepted media types") {
    CHECK(parseContentType("application/capnp") == ContentType::kCapnp);
    CHECK(parseContentType("application/x-capnp") == ContentType::kCapnp);
    CHECK(parseContentType("application/json") == ContentType::kJson);
    CHECK(parseContentType("application/json; charset=utf-8") == ContentType::kJson);
    CHECK(parseContentType("application/json;charset=UTF-8") == ContentType::kJson);
    CHECK(parseContentType("Application/JSON; charset=\"utf-8\"") == ContentType::kJson);
    CHECK(parseContentType("  application/octet-stream  ") == ContentType::kRaw);
    CHECK(parseContentType("application/capnp; foo=bar") == ContentType::kCapnp);
}

TEST_CASE("content type: names round trip") {
    for (auto t : {ContentType::kCapnp, ContentType::kJson, ContentType::kRaw})
        CHECK(parseContentType(contentTypeName(t)) == t);
    CHECK(contentTypeName(ContentType::kCapnp) == "application/capnp");
    CHECK(contentTypeName(ContentType::kJson) == "application/json");
    CHECK(contentTypeName(ContentType::kRaw) == "application/octet-stream");
}

TEST_CASE("content type: anything else is INVALID_ARGUMENT naming the value") {
    using codec_fixtures::errorOf;
    CHECK(errorOf([] { parseContentType("text/plain"); }, Code::kInvalidArgument) ==
          "unsupported content type 'text/plain'");
    CHECK(errorOf([] { parseContentType(""); }, Code::kInvalidArgument) ==
          "unsupported content type ''");
    CHECK(errorOf([] { parseContentType("application/jsonx"); }, Code::kInvalidArgument) ==
          "unsupported content type 'application/jsonx'");
    CHECK(errorOf([] { parseContentType("application/json; charset=latin1"); },
                  Code::kInvalidArgument)
              .find("'application/json; charset=latin1'") != std::string::npos);
}
