#include <doctest/doctest.h>
#include <micro/codec.hpp>

#include <capnp/message.h>

#include <cmath>
#include <string>

#include "fixtures.hpp"

using codec_fixtures::errorOf;
using codec_fixtures::fillEverything;
using micro::Code;
using micro::codec::fromJson;
using micro::codec::JsonOptions;
using micro::codec::toJson;
using micro::codec_test::Color;
using micro::codec_test::Everything;
using micro::codec_test::HelloRequest;

namespace {

const char* const kEverythingJson =
    R"({"text":"héllo \"world\"\n\u0001","data":"AAEC//4=","flag":true,"i8":-128,)"
    R"("i16":-32768,"i32":-2147483648,"i64":"-9007199254740993","u8":255,"u16":65535,)"
    R"("u32":4294967295,"u64":"18446744073709551615","f32":0.1,"f64":-1e+300,)"
    R"("color":"blue","inner":{"label":"in","count":7},)"
    R"("inners":[{"label":"a","count":1},{"label":"b","count":2}],"tags":["x","","z"],)"
    R"("numbers":["-9223372036854775808","42"],"matrix":[[1,2],[]],)"
    R"("colors":["red","green"],"blobs":["AAEC"],"name":"union-name",)"
    R"("grp":{"a":-5,"b":"grp-b"},"choice":{"y":"why"},"withDefault":7,"nothing":null})";

// Decodes JSON into a fresh Everything and returns the error message.
std::string everythingError(const std::string& json) {
    return errorOf(
        [&] {
            capnp::MallocMessageBuilder m;
            fromJson(json, m.initRoot<Everything>());
        },
        Code::kInvalidArgument);
}

std::string helloError(const std::string& json) {
    return errorOf(
        [&] {
            capnp::MallocMessageBuilder m;
            fromJson(json, m.initRoot<HelloRequest>());
        },
        Code::kInvalidArgument);
}

}  // namespace

TEST_CASE("json: every field kind encodes as documented") {
    capnp::MallocMessageBuilder m;
    fillEverything(m.initRoot<Everything>());
    CHECK(toJson(m.getRoot<Everything>().asReader()) == kEverythingJson);
}

TEST_CASE("json: round trip through fromJson") {
    capnp::MallocMessageBuilder in;
    fillEverything(in.initRoot<Everything>());
    const std::string json = toJson(in.getRoot<Everything>().asReader());

    capnp::MallocMessageBuilder out;
    auto e = out.initRoot<Everything>();
    fromJson(json, e);
    CHECK(toJson(e.asReader()) == json);
    CHECK(e.getI64() == -9007199254740993LL);
    CHECK(e.getU64() == std::numeric_limits<std::uint64_t>::max());
    CHECK(e.getF32() == 0.1f);
    CHECK(e.getColor() == Color::BLUE);
    CHECK(e.getInners()[1].getCount() == 2);
    CHECK(e.which() == Everything::NAME);
    CHECK(e.getChoice().which() == Everything::Choice::Y);
    CHECK(e.getData().size() == 5);
    CHECK(e.getData()[3] == 0xff);

    SUBCASE("pretty output parses back to the same") {
        const std::string pretty = toJson(e.asReader(), JsonOptions{true});
        CHECK(pretty.find("\n  \"text\": ") != std::string::npos);
        capnp::MallocMessageBuilder again;
        fromJson(pretty, again.initRoot<Everything>());
        CHECK(toJson(again.getRoot<Everything>().asReader()) == json);
    }
}

TEST_CASE("json: accepted input forms") {
    capnp::MallocMessageBuilder m;
    auto e = m.initRoot<Everything>();

    SUBCASE("missing fields keep defaults; whitespace and a BOM are fine") {
        fromJson("\xEF\xBB\xBF \n{ }\t", e);
        CHECK(e.getWithDefault() == 42);
        CHECK(!e.hasText());
    }
    SUBCASE("64-bit integers exactly, as numbers or strings") {
        fromJson(R"({"u64":18446744073709551615,"i64":-9223372036854775808})", e);
        CHECK(e.getU64() == std::numeric_limits<std::uint64_t>::max());
        CHECK(e.getI64() == std::numeric_limits<std::int64_t>::min());
        fromJson(R"({"u8":"200","i32":"-7","u16":1e3,"i16":-2.0,"u32":-0})", e);
        CHECK(e.getU8() == 200);
        CHECK(e.getI32() == -7);
        CHECK(e.getU16() == 1000);
        CHECK(e.getI16() == -2);
        CHECK(e.getU32() == 0);
    }
    SUBCASE("NaN and the infinities as strings") {
        fromJson(R"({"f64":"NaN","f32":"-Infinity"})", e);
        CHECK(std::isnan(e.getF64()));
        CHECK(std::isinf(e.getF32()));
        CHECK(e.getF32() < 0);
        const std::string json = toJson(e.asReader());
        CHECK(json.find(R"("f32":"-Infinity")") != std::string::npos);
        CHECK(json.find(R"("f64":"NaN")") != std::string::npos);
        fromJson(R"({"f64":"Infinity","f32":1e-50})", e);
        CHECK(std::isinf(e.getF64()));
        CHECK(e.getF32() == 0.0f);
    }
    SUBCASE("Data as an array of bytes or URL-safe base64 without padding") {
        fromJson(R"({"data":[0,1,255]})", e);
        REQUIRE(e.getData().size() == 3);
        CHECK(e.getData()[2] == 255);
        fromJson(R"({"data":"__8"})", e);
        REQUIRE(e.getData().size() == 2);
        CHECK(e.getData()[0] == 0xff);
        CHECK(e.getData()[1] == 0xff);
        fromJson(R"({"data":""})", e);
        CHECK(e.getData().size() == 0);
    }
    SUBCASE("escapes and surrogate pairs") {
        fromJson(R"({"text":"a\u00e9\ud83d\ude00\/\t"})", e);
        CHECK(std::string(e.getText().cStr()) == "a\xC3\xA9\xF0\x9F\x98\x80/\t");
    }
    SUBCASE("enums by name or number; unknown numbers survive") {
        fromJson(R"({"color":1,"colors":["blue",0]})", e);
        CHECK(e.getColor() == Color::GREEN);
        CHECK(e.getColors()[0] == Color::BLUE);
        CHECK(e.getColors()[1] == Color::RED);
        fromJson(R"({"color":7})", e);
        CHECK(toJson(e.asReader()).find(R"("color":7,)") != std::string::npos);
    }
    SUBCASE("null: the default; for a union member it selects the member") {
        fromJson(R"({"text":null,"inner":null,"point":null,"choice":{"y":null}})", e);
        CHECK(!e.hasText());
        CHECK(!e.hasInner());
        CHECK(e.which() == Everything::POINT);
        CHECK(e.getChoice().which() == Everything::Choice::Y);
        const std::string json = toJson(e.asReader());
        CHECK(json.find(R"("point":null)") != std::string::npos);
        CHECK(json.find(R"("choice":{"y":null})") != std::string::npos);
        capnp::MallocMessageBuilder again;
        fromJson(json, again.initRoot<Everything>());
        CHECK(again.getRoot<Everything>().which() == Everything::POINT);
    }
    SUBCASE("a Void union member") {
        fromJson(R"({"name":"x"})", e);
        CHECK(e.which() == Everything::NAME);
        fromJson(R"({"none":null})", e);
        CHECK(e.which() == Everything::NONE);
    }
}

TEST_CASE("json: AnyPointer has no JSON form") {
    capnp::MallocMessageBuilder m;
    auto e = m.initRoot<Everything>();
    e.getAnything().setAs<capnp::Text>("opaque");
    CHECK(errorOf([&] { toJson(e.asReader()); }, Code::kUnimplemented) ==
          "field 'anything': AnyPointer has no JSON form");
    CHECK(everythingError(R"({"anything":{}})") == "field 'anything': AnyPointer has no JSON form");
}

TEST_CASE("json: errors name the field") {
    CHECK(helloError(R"({"name":5})") == "field 'name': expected Text, got number");
    CHECK(helloError(R"({"foo":1})") == "unknown field 'foo' in HelloRequest");
    CHECK(helloError(R"([1])") == "expected a JSON object for HelloRequest, got array");
    CHECK(everythingError(R"({"u8":300})") == "field 'u8': 300 out of range for UInt8");
    CHECK(everythingError(R"({"i8":-129})") == "field 'i8': -129 out of range for Int8");
    CHECK(everythingError(R"({"u64":-1})") == "field 'u64': -1 out of range for UInt64");
    CHECK(everythingError(R"({"u64":18446744073709551616})") ==
          "field 'u64': 18446744073709551616 out of range for UInt64");
    CHECK(everythingError(R"({"i64":"9223372036854775808"})") ==
          "field 'i64': '9223372036854775808' out of range for Int64");
    CHECK(everythingError(R"({"i64":"12abc"})") == "field 'i64': '12abc' is not a valid Int64");
    CHECK(everythingError(R"({"i32":1.5})") == "field 'i32': 1.5 is not an integer");
    CHECK(everythingError(R"({"i32":true})") == "field 'i32': expected Int32, got boolean");
    CHECK(everythingError(R"({"f32":1e39})") == "field 'f32': 1e39 out of range for Float32");
    CHECK(everythingError(R"({"f64":1e400})") == "field 'f64': 1e400 out of range for Float64");
    CHECK(everythingError(R"({"f64":"fast"})") == "field 'f64': 'fast' is not a valid Float64");
    CHECK(everythingError(R"({"flag":"yes"})") == "field 'flag': expected Bool, got string");
    CHECK(everythingError(R"({"nothing":1})") ==
          "field 'nothing': expected Void (null), got number");
    CHECK(everythingError(R"({"color":"purple"})") ==
          "field 'color': unknown enumerant 'purple' of Color (expected one of: red, green, "
          "blue)");
    CHECK(everythingError(R"({"color":70000})") == "field 'color': 70000 out of range for UInt16");
    CHECK(everythingError(R"({"data":"!!!"})") == "field 'data': invalid base64");
    CHECK(everythingError(R"({"data":[1,256]})") == "field 'data[1]': 256 out of range for UInt8");
    CHECK(everythingError(R"({"data":7})") ==
          "field 'data': expected Data (a base64 string), got number");
    CHECK(everythingError(R"({"tags":"x"})") ==
          "field 'tags': expected List(Text) (an array), got string");
    CHECK(everythingError(R"({"tags":["a",1]})") == "field 'tags[1]': expected Text, got number");
    CHECK(everythingError(R"({"matrix":[[1],[2,"x"]]})") ==
          "field 'matrix[1][1]': 'x' is not a valid Int32");
    CHECK(everythingError(R"({"inner":5})") ==
          "field 'inner': expected Inner (an object), got number");
    CHECK(everythingError(R"({"inner":{"count":300}})") ==
          "field 'inner.count': 300 out of range for UInt8");
    CHECK(everythingError(R"({"inner":{"bogus":1}})") == "unknown field 'inner.bogus' in Inner");
    CHECK(everythingError(R"({"inners":[{},{"count":-1}]})") ==
          "field 'inners[1].count': -1 out of range for UInt8");
    CHECK(everythingError(R"({"grp":{"zz":1}})") == "unknown field 'grp.zz' in Everything.grp");
    CHECK(everythingError(R"({"name":"a","point":{}})") ==
          "fields 'name' and 'point' are members of the same union: give only one");
    CHECK(everythingError(R"({"choice":{"x":1,"y":"b"}})") ==
          "fields 'choice.x' and 'choice.y' are members of the same union: give only one");
    CHECK(everythingError(R"({"text":"a","text":"b"})") == "field 'text': given more than once");
}

TEST_CASE("json: malformed JSON names the offset") {
    CHECK(helloError(R"({"name":"x")") ==
          "malformed JSON at offset 11: unexpected end of input in an object");
    CHECK(helloError(R"({"name":tru})") == "malformed JSON at offset 8: invalid literal");
    CHECK(helloError(R"({"name" 1})") == "malformed JSON at offset 8: expected ':' after a key");
    CHECK(helloError(R"({"name":"x",})") == "malformed JSON at offset 12: expected a string key");
    CHECK(helloError(R"({"name":"x"} x)") ==
          "malformed JSON at offset 13: unexpected characters after the JSON value");
    CHECK(helloError("") == "malformed JSON at offset 0: unexpected end of input");
    CHECK(helloError(R"({"name":01})") ==
          "malformed JSON at offset 9: leading zeros are not allowed");
    CHECK(helloError("{\"name\":\"\xff\"}") ==
          "malformed JSON at offset 9: invalid UTF-8 in a string");
    CHECK(helloError("{\"name\":\"a\nb\"}") ==
          "malformed JSON at offset 10: unescaped control character in a string");
    CHECK(helloError(R"({"name":"\ud800"})") == "malformed JSON at offset 9: unpaired surrogate");
    CHECK(helloError(R"({"name":"\q"})") == "malformed JSON at offset 9: invalid escape sequence");
    CHECK(helloError(std::string(100, '[')) ==
          "malformed JSON at offset 64: nesting deeper than 64");
}

TEST_CASE("json: invalid UTF-8 in Text is written as U+FFFD") {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<HelloRequest>();
    h.setName(
        "a\xff"
        "b");
    CHECK(toJson(h.asReader()) == R"({"name":"a\ufffdb"})");
}

TEST_CASE("json: typed helpers") {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<HelloRequest>();
    micro::codec::fromJson<HelloRequest>(R"({"name":"Ann"})", h);
    CHECK(micro::codec::toJson<HelloRequest>(h.asReader()) == R"({"name":"Ann"})");
}

namespace {

std::string helloJson(const std::string& name) {
    capnp::MallocMessageBuilder m;
    m.initRoot<HelloRequest>().setName(capnp::Text::Reader(name.data(), name.size()));
    return toJson(m.getRoot<HelloRequest>().asReader());
}

std::string helloName(const std::string& json) {
    capnp::MallocMessageBuilder m;
    auto h = m.initRoot<HelloRequest>();
    fromJson(json, h);
    const auto name = h.asReader().getName();
    return std::string(name.begin(), name.size());
}

}  // namespace

TEST_CASE("json: escapes at either end of a string and after long plain runs") {
    CHECK(helloJson("") == R"({"name":""})");
    CHECK(helloJson("\"") == R"({"name":"\""})");
    CHECK(helloJson("\"ab\\") == R"({"name":"\"ab\\"})");
    CHECK(helloJson("\nabcdefghijklmnopq\t") == R"({"name":"\nabcdefghijklmnopq\t"})");
    CHECK(helloName(R"({"name":"\"ab\\"})") == "\"ab\\");
    CHECK(helloName(R"({"name":"\nabcdefghijklmnopq\t"})") == "\nabcdefghijklmnopq\t");
    // Every length of plain run before (and after) the escape, so that it
    // falls at each place in a word and in the string's last few bytes.
    for (std::size_t n = 0; n <= 40; ++n) {
        CAPTURE(n);
        const std::string run(n, 'x');
        const std::string tail(n % 11, 'y');
        CHECK(helloJson(run + "\"" + tail) == "{\"name\":\"" + run + "\\\"" + tail + "\"}");
        CHECK(helloJson(run + "\x1f" + tail) == "{\"name\":\"" + run + "\\u001f" + tail + "\"}");
        CHECK(helloJson(run + "\xC3\xA9" + tail) ==
              "{\"name\":\"" + run + "\xC3\xA9" + tail + "\"}");
        CHECK(helloJson(run + "\xC3" + tail) == "{\"name\":\"" + run + "\\ufffd" + tail + "\"}");
        CHECK(helloJson(run + "\x7f" + tail) == "{\"name\":\"" + run + "\x7f" + tail + "\"}");
        CHECK(helloName("{\"name\":\"" + run + "\\\\" + tail + "\"}") == run + "\\" + tail);
        CHECK(helloName("{\"name\":\"" + run + "\\n" + run + "\\u00e9\"}") ==
              run + "\n" + run + "\xC3\xA9");
        CHECK(helloName("{\"name\":\"" + run + "\xE2\x82\xAC" + tail + "\"}") ==
              run + "\xE2\x82\xAC" + tail);
        CHECK(helloName("{\"name\":\"" + run + "\"}") == run);
    }
}

TEST_CASE("json: every control character round-trips") {
    std::string all;
    for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
    all += "end";
    const std::string json = helloJson(all);
    CHECK(json ==
          "{\"name\":\""
          R"(\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f)"
          R"(\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b)"
          R"(\u001c\u001d\u001e\u001fend"})");
    CHECK(helloName(json) == all);
    for (int c = 0; c < 0x20; ++c) {
        CAPTURE(c);
        const std::string one(1, static_cast<char>(c));
        CHECK(helloName(helloJson("abcdefghij" + one)) == "abcdefghij" + one);
    }
}

TEST_CASE("json: raw control characters and invalid UTF-8 in a string are rejected") {
    for (std::size_t n = 0; n <= 40; ++n) {
        CAPTURE(n);
        const std::string run(n, 'x');
        const std::string at = "malformed JSON at offset " + std::to_string(9 + n) + ": ";
        CHECK(helloError("{\"name\":\"" + run + "\x01\"}") ==
              at + "unescaped control character in a string");
        CHECK(helloError("{\"name\":\"" + run + "\x1f" + run + "\"}") ==
              at + "unescaped control character in a string");
        CHECK(helloError(std::string("{\"name\":\"") + run + '\0' + "\"}") ==
              at + "unescaped control character in a string");
        CHECK(helloError("{\"name\":\"" + run + "\xff\"}") == at + "invalid UTF-8 in a string");
        CHECK(helloError("{\"name\":\"" + run + "\xC0\xAF\"}") == at + "invalid UTF-8 in a string");
        CHECK(helloError("{\"name\":\"" + run + "\xED\xA0\x80\"}") ==
              at + "invalid UTF-8 in a string");
        CHECK(helloError("{\"name\":\"" + run + "\xE2\x82") == at + "invalid UTF-8 in a string");
        CHECK(helloError("{\"name\":\"" + run) == at + "unterminated string");
        // The same after an escape, when the string is being decoded.
        const std::string after = "malformed JSON at offset " + std::to_string(11 + n) + ": ";
        CHECK(helloError("{\"name\":\"\\t" + run + "\x01\"}") ==
              after + "unescaped control character in a string");
        CHECK(helloError("{\"name\":\"\\t" + run + "\xff\"}") ==
              after + "invalid UTF-8 in a string");
        CHECK(helloError("{\"name\":\"\\t" + run) == after + "unterminated string");
    }
    CHECK(helloError("{\"name\":\"\\") == "malformed JSON at offset 10: unterminated string");
    CHECK(helloError("{\"name\":\"") == "malformed JSON at offset 9: unterminated string");
    CHECK(helloError("{\"") == "malformed JSON at offset 2: unterminated string");
}
