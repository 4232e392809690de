// The http transport's pure codecs, compiled from the plugin's own sources:
// the message envelope, WebSocket frame headers and masking, the
// Sec-WebSocket-Accept key, the HTTP status mapping and response text, the
// request parser and the address syntax.
#include <doctest/doctest.h>
#include <micro/error.hpp>

#include <random>
#include <string>
#include <vector>

#include "address.hpp"
#include "envelope.hpp"
#include "http_mapping.hpp"
#include "request_parser.hpp"
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
        micro_bytes{reinterpret_cast<const std::uint8_t*>(body.data()), body.size()}, 0};
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
    micro_transport_message m{sizeof(m), &kv, 1, micro_bytes{nullptr, 0}, 0};
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

TEST_CASE("mapping: more than 64 extra headers, bad ones dropped on both sides of 64") {
    // The first 64 extras are checked once per response, the rest on each
    // pass: the dropped ones must be the same in the size and in the text.
    std::vector<std::string> names, values;
    for (int i = 0; i < 70; ++i) {
        names.push_back("x-h" + std::to_string(i));
        values.push_back(i == 3 || i == 66 ? "bad\r\nvalue" : "v" + std::to_string(i));
    }
    names[5] = "connection";  // the framing's own: dropped
    std::vector<micro_kv> extra;
    for (int i = 0; i < 70; ++i) extra.push_back({s(names[i]), s(values[i])});
    mapping::Response r;
    r.status = 200;
    r.extra = extra;
    r.body = "ok";
    const mapping::ResponseText text(r);
    std::string out(text.size() + 8, '#');
    text.writeTo(out.data());
    CHECK(out.substr(text.size()) == "########");  // exactly size() bytes written
    out.resize(text.size());
    std::string expected = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
    for (int i = 0; i < 70; ++i) {
        if (i != 3 && i != 5 && i != 66) expected += names[i] + ": " + values[i] + "\r\n";
    }
    expected += "\r\nok";
    CHECK(out == expected);
}

namespace {
namespace bhttp = boost::beast::http;

// Feeds `text` to a new parser in pieces of `piece` bytes, each from a fresh
// buffer that is overwritten once put() returns (as the read buffer may be),
// keeping what put() left unconsumed. Returns the final error (need_more
// when the request is incomplete).
boost::system::error_code feed(ParsedRequest& into, std::string_view text, std::size_t piece,
                               std::size_t bodyLimit = 1 << 20) {
    RequestParser parser(into);
    parser.header_limit(8192);
    parser.body_limit(bodyLimit);
    parser.eager(true);
    std::string held;
    boost::system::error_code ec;
    for (std::size_t at = 0; at < text.size() && !parser.is_done();) {
        const std::size_t n = std::min(piece, text.size() - at);
        held.append(text.substr(at, n));
        at += n;
        std::string buffer = held;
        const std::size_t used = parser.put(boost::asio::buffer(buffer.data(), buffer.size()), ec);
        held.erase(0, used);
        std::fill(buffer.begin(), buffer.end(), '#');
        if (ec && ec != bhttp::error::need_more) return ec;
    }
    return parser.is_done() ? boost::system::error_code()
                            : make_error_code(bhttp::error::need_more);
}
}  // namespace

TEST_CASE("request parser: fields lowercased in order, duplicates kept, body, in any pieces") {
    const std::string text =
        "POST /x?y=1 HTTP/1.1\r\nHost: h\r\nMicro-Endpoint: Greeter.Hello\r\n"
        "X-Trace: a\r\nx-trace: b\r\nContent-Type: application/json\r\n"
        "Content-Length: 14\r\n\r\n{\"name\":\"Pip\"}";
    for (std::size_t piece : {text.size(), std::size_t{1}, std::size_t{7}}) {
        CAPTURE(piece);
        ParsedRequest r;
        REQUIRE(!feed(r, text, piece));
        CHECK(r.method() == bhttp::verb::post);
        CHECK(r.methodText() == "POST");
        CHECK(r.target() == "/x?y=1");
        CHECK(r.version() == 11);
        REQUIRE(r.fields().size() == 6);
        CHECK(r.fields()[1].name == "micro-endpoint");
        CHECK(r.fields()[2].name == "x-trace");
        CHECK(r.fields()[2].value == "a");
        CHECK(r.fields()[3].value == "b");
        CHECK(r.find("x-trace") == "a");
        CHECK(r.find("micro-endpoint") == "Greeter.Hello");
        CHECK(r.find("content-type") == "application/json");
        CHECK(r.find("expect").empty());
        CHECK(r.find("micro-id").empty());
        CHECK(r.body() == "{\"name\":\"Pip\"}");
    }
}

TEST_CASE("request parser: a chunked body is joined, the storage is reused for the next request") {
    ParsedRequest r;
    REQUIRE(!feed(r,
                  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nA: 1\r\n\r\n"
                  "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
                  5));
    CHECK(r.body() == "hello world");
    CHECK(r.find("a") == "1");
    REQUIRE(!feed(r, "GET / HTTP/1.0\r\nB: 2\r\n\r\n", 64));
    CHECK(r.method() == bhttp::verb::get);
    CHECK(r.version() == 10);
    CHECK(r.find("a").empty());  // nothing of the request before
    CHECK(r.find("b") == "2");
    CHECK(r.body().empty());
}

TEST_CASE("request parser: Beast's limits and errors hold") {
    ParsedRequest r;
    CHECK(feed(r, "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 64, 4) ==
          bhttp::error::body_limit);
    CHECK(feed(r,
               "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               "a\r\n0123456789\r\n0\r\n\r\n",
               64, 4) == bhttp::error::body_limit);
    CHECK(feed(r, "POST / HTTP/1.1\r\nBad Name: x\r\n\r\n", 64));
    CHECK(feed(r, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab", 64) == bhttp::error::need_more);
    const std::string big = "POST / HTTP/1.1\r\nX: " + std::string(9000, 'x') + "\r\n\r\n";
    CHECK(feed(r, big, big.size()) == bhttp::error::header_limit);
}

namespace {
// What one parser made of a request, for comparing the two.
struct Outcome {
    std::size_t used = 0;  // 0: not parsed
    bhttp::verb method{};
    std::string methodText, target, body;
    int version = 0;
    bool keepAlive = false;
    std::vector<std::string> fields;  // "name|value"

    bool operator==(const Outcome&) const = default;
};

Outcome outcomeOf(const ParsedRequest& r, std::size_t used, bool keepAlive) {
    Outcome o{used,
              r.method(),
              std::string(r.methodText()),
              std::string(r.target()),
              std::string(r.body()),
              r.version(),
              keepAlive,
              {}};
    for (const auto& f : r.fields()) {
        o.fields.push_back(std::string(f.name) + "|" + std::string(f.value));
    }
    return o;
}

Outcome viaBeast(std::string_view text, std::size_t headerLimit, std::uint64_t bodyLimit) {
    ParsedRequest r;
    RequestParser parser(r);
    parser.header_limit(static_cast<std::uint32_t>(headerLimit));
    parser.body_limit(bodyLimit);
    parser.eager(true);
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(text.data(), text.size()), ec);
    if (ec || !parser.is_done()) return {};
    return outcomeOf(r, used, parser.keep_alive());
}

Outcome viaPlain(std::string_view text, std::size_t headerLimit, std::uint64_t bodyLimit) {
    ParsedRequest r;
    bool keepAlive = false;
    const std::size_t used = parsePlainRequest(text, headerLimit, bodyLimit, r, keepAlive);
    if (used == 0) return {};
    return outcomeOf(r, used, keepAlive);
}

const std::string kWrkRequest =
    "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 64\r\n"
    "Content-Type: application/json\r\nMicro-Service: greeter\r\n"
    "Micro-Endpoint: Greeter.Hello\r\n\r\n{\"name\":\"" +
    std::string(53, 'x') + "\"}";
}  // namespace

TEST_CASE("plain request parser: the common requests, read exactly as Beast reads them") {
    const std::vector<std::string> common = {
        kWrkRequest,
        "POST /?q=1 HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
        "Micro-Endpoint: Greeter.Hello\r\ncontent-type: application/json\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
        "POST / HTTP/1.1\r\nConnection: Keep-Alive\r\nX-Empty:\r\nX-Pad:  a b \t\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        // Pipelined: only the first request is taken.
        "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nxPOST / HTTP/1.1\r\n\r\n",
    };
    for (const auto& text : common) {
        CAPTURE(text);
        const Outcome plain = viaPlain(text, 65536, 1 << 20);
        CHECK(plain.used != 0);
        CHECK(plain == viaBeast(text, 65536, 1 << 20));
    }
    CHECK(viaPlain(common[1], 65536, 1 << 20).keepAlive == false);
    CHECK(viaPlain(common[4], 65536, 1 << 20).used == common[4].find("xPOST") + 1);
}

TEST_CASE("plain request parser: leaves Beast everything else") {
    const std::vector<std::string> others = {
        "POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n{}",  // body incomplete
        "POST / HTTP/1.1\r\nHost: h\r\n",                   // header incomplete
        "POST / HTTP/1.0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}",
        "POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
        "POST / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n",  // obs-text
        "POST / HTTP/1.1\r\n folded: x\r\n\r\n",
        "POST / HTTP/1.1\nHost: h\n\n",
        "BREW / HTTP/1.1\r\n\r\n",  // a method Beast does not know by name
        "POST / HTTP/1.1\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'x'),
    };
    for (const auto& text : others) {
        CAPTURE(text);
        CHECK(viaPlain(text, 65536, 4096).used == 0);
    }
    const std::string big = "POST / HTTP/1.1\r\nX: " + std::string(200, 'x') + "\r\n\r\n";
    CHECK(viaPlain(big, 200, 4096).used == 0);  // over the header limit
}

TEST_CASE(
    "plain request parser: on thousands of mutated requests it never accepts what Beast "
    "does not, nor reads anything differently") {
    const std::vector<std::string> seeds = {
        kWrkRequest,
        "POST /a?b=c HTTP/1.1\r\nHost: h\r\nConnection: close\r\nX-A: 1\r\n"
        "Content-Length: 3\r\n\r\nabcPOST",
        "GET / HTTP/1.1\r\nAuthorization: Bearer t.o.k\r\nX-Empty:\r\n\r\n",
    };
    const std::string alphabet = std::string(" \t\r\n:,;\"/\\()Aa0Z9-_.") + '\0' + "\x7f\x80\xff";
    std::mt19937 random(20261128);
    auto pick = [&](std::size_t n) {
        return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
    };
    int accepted = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string text = seeds[pick(seeds.size())];
        for (std::size_t edits = 1 + pick(3); edits > 0; --edits) {
            const std::size_t at = pick(text.size());
            switch (pick(4)) {
                case 0:
                    text[at] = alphabet[pick(alphabet.size())];
                    break;
                case 1:
                    text.insert(at, 1, alphabet[pick(alphabet.size())]);
                    break;
                case 2:
                    text.erase(at, 1);
                    break;
                default:
                    text.insert(at, text.substr(pick(text.size()), 1 + pick(12)));
                    break;
            }
        }
        for (const std::size_t headerLimit : {std::size_t{65536}, std::size_t{120}}) {
            const Outcome plain = viaPlain(text, headerLimit, 64);
            if (plain.used == 0) continue;
            ++accepted;
            const Outcome beast = viaBeast(text, headerLimit, 64);
            CAPTURE(text);
            REQUIRE(beast.used != 0);
            REQUIRE(plain == beast);
        }
    }
    CHECK(accepted > 1000);  // the mutations leave many requests plain: the check bites
}

TEST_CASE("address: URLs and bad syntax") {
    CHECK(parseAddress("http://127.0.0.1:8080/").port == 8080);
    CHECK(parseAddress("[::1]:0").host == "::1");
    CHECK_THROWS_AS(parseAddress("ftp://x:1"), micro::Error);
    CHECK_THROWS_AS(parseAddress("127.0.0.1"), micro::Error);
    CHECK_THROWS_AS(parseAddress("h:99999"), micro::Error);
}
