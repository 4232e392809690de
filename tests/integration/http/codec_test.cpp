// The http transport's pure codecs, compiled from the plugin's own sources:
// the message envelope, WebSocket frame headers and masking, the
// Sec-WebSocket-Accept key, the HTTP status mapping and response text, and
// the address syntax.
#include <doctest/doctest.h>
#include <micro/error.hpp>

#include <string>
#include <vector>

#include "address.hpp"
#include "envelope.hpp"
#include "http_mapping.hpp"
#include "ws_frame.hpp"

using namespace micro::http;

namespace {
micro_str s(std::string_view v) { return micro_str{v.data(), v.size()}; }
std::string_view v(micro_str x) { return {x.data, x.size}; }
}  // namespace

TEST_CASE("envelope: headers and a binary body round trip") {
    const std::string body("\0\xff body", 7);
    micro_kv kv[2] = {{s(":k"), s("q")}, {s("content-type"), s("application/json")}};
    micro_transport_message m{
        sizeof(m), kv, 2,
        micro_bytes{reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}};
    std::vector<std::uint8_t> out(envelope::encodedSize(m));
    envelope::encode(m, out.data());
    std::vector<micro_kv> headers;
    micro_bytes parsed{};
    std::string error;
    REQUIRE(envelope::parse(out.data(), out.size(), headers, parsed, error));
    REQUIRE(headers.size() == 2);
    CHECK(v(headers[1].key) == "content-type");
    CHECK(v(headers[1].value) == "application/json");
    CHECK(std::string(reinterpret_cast<const char*>(parsed.data), parsed.size) == body);
}

TEST_CASE("envelope: truncated or lying payloads are refused with a reason") {
    std::vector<micro_kv> headers;
    micro_bytes body{};
    std::string error;
    const std::uint8_t one[1] = {0};
    CHECK_FALSE(envelope::parse(one, 1, headers, body, error));
    CHECK(error.find("header count") != std::string::npos);
    const std::uint8_t lying[] = {1, 0, 5, 0, 0, 0, 0, 0, 'a', 'b'};  // key of 5, 2 bytes left
    CHECK_FALSE(envelope::parse(lying, sizeof lying, headers, body, error));
    CHECK(error.find("runs past the end") != std::string::npos);
    const std::uint8_t empty[] = {0, 0};
    CHECK(envelope::parse(empty, 2, headers, body, error));
    CHECK(headers.empty());
    CHECK(body.size == 0);
}

TEST_CASE("envelope: a key over 65535 bytes cannot be encoded") {
    const std::string key(70000, 'k');
    micro_kv kv{s(key), s("v")};
    micro_transport_message m{sizeof(m), &kv, 1, micro_bytes{nullptr, 0}};
    CHECK_THROWS_AS(envelope::encodedSize(m), micro::Error);
}

TEST_CASE("ws: frame headers of every length form round trip, masked and not") {
    for (std::uint64_t length : {0ull, 125ull, 126ull, 65535ull, 65536ull, 5000000ull}) {
        for (bool masked : {false, true}) {
            std::uint8_t buf[ws::kMaxHeaderBytes];
            const std::uint8_t mask[4] = {1, 2, 3, 4};
            const std::size_t n = ws::writeHead(buf, ws::kBinary, length, masked ? mask : nullptr);
            CHECK(n == ws::headSize(length, masked));
            ws::Head h;
            CHECK_FALSE(ws::readHead(buf, n - 1, h));  // one byte short: need more
            REQUIRE(ws::readHead(buf, n, h));
            CHECK(h.fin);
            CHECK(h.opcode == ws::kBinary);
            CHECK(h.length == length);
            CHECK(h.masked == masked);
            CHECK(h.headerBytes == n);
        }
    }
}

TEST_CASE("ws: masking is its own inverse, from any offset") {
    std::string text = "hello, websocket";
    const std::uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    auto* p = reinterpret_cast<std::uint8_t*>(text.data());
    ws::applyMask(p, 5, mask);
    ws::applyMask(p + 5, text.size() - 5, mask, 5);
    CHECK(text != "hello, websocket");
    ws::applyMask(p, text.size(), mask);
    CHECK(text == "hello, websocket");
}

TEST_CASE("ws: the accept key of RFC 6455's example, and close payloads") {
    CHECK(ws::acceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(ws::newKey().size() == 24);
    const std::string p = ws::closePayload(1009, std::string(200, 'r'));
    CHECK(p.size() == 125);  // a control frame's payload limit
    CHECK(static_cast<unsigned char>(p[0]) == 0x03);
    CHECK(static_cast<unsigned char>(p[1]) == 0xF1);
}

TEST_CASE("mapping: status per code, and the response text") {
    CHECK(mapping::statusFor(MICRO_OK) == 200);
    CHECK(mapping::statusFor(MICRO_INVALID_ARGUMENT) == 400);
    CHECK(mapping::statusFor(MICRO_UNAUTHENTICATED) == 401);
    CHECK(mapping::statusFor(MICRO_PERMISSION_DENIED) == 403);
    CHECK(mapping::statusFor(MICRO_NOT_FOUND) == 404);
    CHECK(mapping::statusFor(MICRO_DEADLINE_EXCEEDED) == 504);
    CHECK(mapping::statusFor(MICRO_UNAVAILABLE) == 503);
    CHECK(mapping::statusFor(MICRO_INTERNAL) == 500);
    CHECK(mapping::statusFor(MICRO_ABORTED) == 500);
    micro_kv extra[3] = {{s("greeter-node"), s("n1")},
                         {s("bad name"), s("x")},                 // not a token: dropped
                         {s("x-split"), s("a\r\nInjected: 1")}};  // CR/LF: dropped
    mapping::Response r;
    r.status = 404;
    r.code = MICRO_NOT_FOUND;
    r.contentType = "application/json";
    r.id = "7";
    r.extra = extra;
    r.body = "{}";
    r.close = true;
    std::string out;
    mapping::appendResponse(out, r);
    CHECK(out ==
          "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
          "Micro-Id: 7\r\nMicro-Code: 5\r\ngreeter-node: n1\r\nConnection: close\r\n\r\n{}");
    CHECK(mapping::errorBody("svc", MICRO_NOT_FOUND, "no \"x\"") ==
          R"({"id":"svc","code":5,"detail":"no \"x\"","status":"NOT_FOUND"})");
}

TEST_CASE("address: URLs and bad syntax") {
    CHECK(parseAddress("http://127.0.0.1:8080/").port == 8080);
    CHECK(parseAddress("[::1]:0").host == "::1");
    CHECK_THROWS_AS(parseAddress("ftp://x:1"), micro::Error);
    CHECK_THROWS_AS(parseAddress("127.0.0.1"), micro::Error);
    CHECK_THROWS_AS(parseAddress("h:99999"), micro::Error);
}
