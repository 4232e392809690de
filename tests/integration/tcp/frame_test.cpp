// The tcp transport's pure parts, compiled from the plugin's own sources:
// the frame codec (round trips, the exact bytes of the documented format,
// every malformed case, limits) and the address syntax.
#include <doctest/doctest.h>
#include <micro/error.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "address.hpp"
#include "frame.hpp"

namespace frame = micro::tcp::frame;

namespace {

struct Message {
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
};

micro_str str(const std::string& s) { return micro_str{s.data(), s.size()}; }

// Encode `m` into a whole frame (prefix included).
std::vector<std::uint8_t> encode(const Message& m, std::uint64_t max = frame::kMaxLength) {
    std::vector<micro_kv> kv;
    for (const auto& [k, v] : m.headers) kv.push_back(micro_kv{str(k), str(v)});
    const micro_transport_message tm{
        sizeof(micro_transport_message), kv.data(), kv.size(),
        micro_bytes{reinterpret_cast<const std::uint8_t*>(m.body.data()), m.body.size()}, 0};
    const std::size_t length = frame::encodedLength(tm, max);
    std::vector<std::uint8_t> out(frame::kPrefixBytes + length, 0xEE);
    frame::encode(tm, length, out.data());
    return out;
}

// Parse a whole frame back; REQUIREs success.
Message decode(const std::vector<std::uint8_t>& bytes) {
    REQUIRE(bytes.size() >= frame::kPrefixBytes);
    const std::uint32_t length = frame::readLength(bytes.data());
    REQUIRE(length == bytes.size() - frame::kPrefixBytes);
    std::vector<micro_kv> headers;
    micro_bytes body{};
    std::string error;
    REQUIRE_MESSAGE(frame::parse(bytes.data() + frame::kPrefixBytes, length, headers, body, error),
                    error);
    Message m;
    for (const micro_kv& h : headers)
        m.headers.emplace_back(std::string(h.key.data, h.key.size),
                               std::string(h.value.data, h.value.size));
    m.body.assign(reinterpret_cast<const char*>(body.data), body.size);
    return m;
}

// Parse the payload `p` (what follows a prefix); returns the error, or "".
std::string parseError(const std::vector<std::uint8_t>& p) {
    std::vector<micro_kv> headers;
    micro_bytes body{};
    std::string error;
    const bool ok = frame::parse(p.data(), p.size(), headers, body, error);
    if (ok) {
        CHECK(error.empty());
        return "";
    }
    CHECK(headers.empty());
    CHECK_FALSE(error.empty());
    return error;
}

void put16(std::vector<std::uint8_t>& v, std::uint32_t x) {
    v.push_back(static_cast<std::uint8_t>(x));
    v.push_back(static_cast<std::uint8_t>(x >> 8));
}
void put32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int i = 0; i < 4; ++i) v.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
}

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string allBytes() {
    std::string s;
    for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
    return s;
}

}  // namespace

TEST_CASE("frame: an empty message is the 6 bytes of its length and header count") {
    const auto bytes = encode({});
    CHECK(bytes == std::vector<std::uint8_t>{2, 0, 0, 0, 0, 0});
    const Message m = decode(bytes);
    CHECK(m.headers.empty());
    CHECK(m.body.empty());
}

TEST_CASE("frame: the documented layout, byte for byte") {
    const auto bytes = encode({{{"k", "vv"}}, "body"});
    const std::vector<std::uint8_t> expected = {
        15,  0,   0,   0,   // length: 2 + (6 + 1 + 2) + 4
        1,   0,             // header count
        1,   0,             // key length
        2,   0,   0,   0,   // value length
        'k', 'v', 'v',      // key, value
        'b', 'o', 'd', 'y'  // body: the rest
    };
    CHECK(bytes == expected);
}

TEST_CASE("frame: headers and binary bodies round trip") {
    const std::string binary = allBytes() + allBytes();
    const Message in{{{"content-type", "application/octet-stream"},
                      {"", "empty key"},
                      {"empty value", ""},
                      {"", ""},
                      {std::string("nul\0key", 7), binary},
                      {"dup", "1"},
                      {"dup", "2"}},
                     binary};
    const Message out = decode(encode(in));
    CHECK(out.headers == in.headers);  // order and duplicates kept
    CHECK(out.body == in.body);

    const Message big{{{std::string(65535, 'k'), std::string(100000, 'v')}},
                      std::string(1 << 20, 'b')};
    const Message bigOut = decode(encode(big));
    CHECK(bigOut.headers == big.headers);
    CHECK(bigOut.body == big.body);
}

TEST_CASE("frame: 65535 headers fit, 65536 do not") {
    Message m;
    m.headers.assign(65535, {"k", "v"});
    CHECK(decode(encode(m)).headers.size() == 65535);
    m.headers.emplace_back("k", "v");
    try {
        encode(m);
        FAIL("65536 headers were encoded");
    } catch (const micro::Error& e) {
        CHECK(e.code() == micro::Code::kInvalidArgument);
        CHECK(contains(e.what(), "65536 headers"));
    }
}

TEST_CASE("frame: a key of 65536 bytes is refused, naming the header") {
    const Message m{{{"ok", "1"}, {std::string(65536, 'k'), "v"}}, ""};
    try {
        encode(m);
        FAIL("an oversized key was encoded");
    } catch (const micro::Error& e) {
        CHECK(e.code() == micro::Code::kInvalidArgument);
        CHECK(contains(e.what(), "header 1"));
        CHECK(contains(e.what(), "65536"));
    }
}

TEST_CASE("frame: encodedLength enforces max_frame_bytes exactly") {
    // length = 2 (count) + body
    const Message atMax{{}, std::string(64 * 1024 - 2, 'x')};
    CHECK(encode(atMax, 64 * 1024).size() == 4 + 64 * 1024);
    const Message over{{}, std::string(64 * 1024 - 1, 'x')};
    try {
        encode(over, 64 * 1024);
        FAIL("a frame over max_frame_bytes was encoded");
    } catch (const micro::Error& e) {
        CHECK(e.code() == micro::Code::kInvalidArgument);
        CHECK(contains(e.what(), "max_frame_bytes"));
        CHECK(contains(e.what(), "65537"));
    }
}

TEST_CASE("frame: checkLength refuses lengths below 2 or above the limit, before any buffer") {
    std::string error;
    CHECK_FALSE(frame::checkLength(0, 1024, error));
    CHECK(contains(error, "malformed"));
    CHECK_FALSE(frame::checkLength(1, 1024, error));
    CHECK(frame::checkLength(2, 1024, error));
    CHECK(frame::checkLength(1024, 1024, error));
    CHECK_FALSE(frame::checkLength(1025, 1024, error));
    CHECK(contains(error, "1025"));
    CHECK(contains(error, "max_frame_bytes"));
    CHECK_FALSE(frame::checkLength(0xFFFFFFFFu, frame::kDefaultMaxFrameBytes, error));
    CHECK(contains(error, "4294967295"));
}

TEST_CASE("frame: readLength is little-endian") {
    const std::uint8_t p[4] = {0x78, 0x56, 0x34, 0x12};
    CHECK(frame::readLength(p) == 0x12345678u);
    const std::uint8_t all[4] = {0xFF, 0xFF, 0xFF, 0xFF};
    CHECK(frame::readLength(all) == 0xFFFFFFFFu);
}

TEST_CASE("frame: every malformed payload is refused with a reason") {
    SUBCASE("shorter than the header count") {
        CHECK(contains(parseError({}), "shorter"));
        CHECK(contains(parseError({1}), "shorter"));
    }
    SUBCASE("a header count that cannot fit") {
        std::vector<std::uint8_t> p;
        put16(p, 0xFFFF);
        p.resize(100, 0);
        CHECK(contains(parseError(p), "65535 headers cannot fit"));
    }
    SUBCASE("one header announced, only part of its length fields present") {
        std::vector<std::uint8_t> p;
        put16(p, 1);
        put16(p, 0);
        CHECK_FALSE(parseError(p).empty());
    }
    SUBCASE("a key that runs past the end") {
        std::vector<std::uint8_t> p;
        put16(p, 1);
        put16(p, 10);
        put32(p, 0);
        p.insert(p.end(), 5, 'k');
        const std::string e = parseError(p);
        CHECK(contains(e, "header 0 of 1"));
        CHECK(contains(e, "runs past the end"));
    }
    SUBCASE("a value that runs past the end") {
        std::vector<std::uint8_t> p;
        put16(p, 1);
        put16(p, 1);
        put32(p, 3);
        p.push_back('k');
        p.push_back('v');
        CHECK(contains(parseError(p), "runs past the end"));
    }
    SUBCASE("a value length of 4 GiB (no wrap-around)") {
        std::vector<std::uint8_t> p;
        put16(p, 1);
        put16(p, 1);
        put32(p, 0xFFFFFFFFu);
        p.push_back('k');
        p.resize(64, 0);
        CHECK(contains(parseError(p), "runs past the end"));
    }
    SUBCASE("the second of two headers is inconsistent") {
        std::vector<std::uint8_t> p;
        put16(p, 2);
        put16(p, 1);
        put32(p, 1);
        p.push_back('a');
        p.push_back('b');
        put16(p, 200);
        put32(p, 0);
        const std::string e = parseError(p);
        CHECK(contains(e, "header 1 of 2"));
    }
    SUBCASE("two headers announced, room for the fields of one only after the first") {
        std::vector<std::uint8_t> p;
        put16(p, 2);
        put16(p, 0);
        put32(p, 4);
        p.insert(p.end(), 4, 'v');
        p.insert(p.end(), 2, 0);  // 8 bytes: enough for the count check, not for header 1
        CHECK_FALSE(parseError(p).empty());
    }
}

TEST_CASE("frame: headers fill the frame exactly, what follows is the body") {
    std::vector<std::uint8_t> p;
    put16(p, 1);
    put16(p, 1);
    put32(p, 1);
    p.push_back('k');
    p.push_back('v');
    CHECK(parseError(p).empty());  // empty body
    p.push_back('b');
    std::vector<micro_kv> headers;
    micro_bytes body{};
    std::string error;
    REQUIRE(frame::parse(p.data(), p.size(), headers, body, error));
    REQUIRE(body.size == 1);
    CHECK(body.data[0] == 'b');
}

TEST_CASE("frame: the header vector is reused across frames") {
    std::vector<micro_kv> headers;
    micro_bytes body{};
    std::string error;
    const auto many = encode({{{"a", "1"}, {"b", "2"}, {"c", "3"}}, "x"});
    REQUIRE(frame::parse(many.data() + 4, many.size() - 4, headers, body, error));
    const micro_kv* storage = headers.data();
    const auto few = encode({{{"a", "1"}}, "y"});
    REQUIRE(frame::parse(few.data() + 4, few.size() - 4, headers, body, error));
    CHECK(headers.size() == 1);
    CHECK(headers.data() == storage);  // no reallocation
}

TEST_CASE("frame: every truncation and random bytes parse safely") {
    const auto bytes = encode({{{"key", "value"}, {"k2", "v2"}}, "the body"});
    const std::size_t length = bytes.size() - 4;
    for (std::size_t cut = 0; cut < length; ++cut) {
        std::vector<std::uint8_t> p(bytes.begin() + 4, bytes.begin() + 4 + static_cast<long>(cut));
        std::vector<micro_kv> headers;
        micro_bytes body{};
        std::string error;
        if (frame::parse(p.data(), p.size(), headers, body, error)) {
            // A cut inside the body is still a consistent (shorter) frame.
            CHECK(headers.size() == 2);
            CHECK(body.data + body.size <= p.data() + p.size());
        }
    }
    std::mt19937 rng(12345);
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::uint8_t> p(rng() % 64);
        for (auto& b : p) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0 : rng());
        std::vector<micro_kv> headers;
        micro_bytes body{};
        std::string error;
        if (frame::parse(p.data(), p.size(), headers, body, error)) {
            const char* begin = reinterpret_cast<const char*>(p.data());
            const char* end = begin + p.size();
            for (const micro_kv& h : headers) {
                CHECK((h.key.size == 0 || (h.key.data >= begin && h.key.data + h.key.size <= end)));
                CHECK((h.value.size == 0 ||
                       (h.value.data >= begin && h.value.data + h.value.size <= end)));
            }
            CHECK(body.data + body.size == p.data() + p.size());
        } else {
            CHECK_FALSE(error.empty());
        }
    }
}

TEST_CASE("address: the forms that parse") {
    using micro::tcp::parseAddress;
    auto a = parseAddress("127.0.0.1:0");
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == 0);
    a = parseAddress("tcp://localhost:8080");
    CHECK(a.host == "localhost");
    CHECK(a.port == 8080);
    a = parseAddress("[::1]:65535");
    CHECK(a.host == "::1");
    CHECK(a.port == 65535);
    a = parseAddress("[fe80::1%eth0]:80");
    CHECK(a.host == "fe80::1%eth0");
    a = parseAddress("my-service_1.internal:443");
    CHECK(a.host == "my-service_1.internal");
    CHECK(micro::tcp::formatAddress("::1", 80) == "[::1]:80");
    CHECK(micro::tcp::formatAddress("10.0.0.1", 80) == "10.0.0.1:80");
}

TEST_CASE("address: bad syntax is INVALID_ARGUMENT naming the address") {
    for (const std::string& bad : std::vector<std::string>{
             "", "127.0.0.1", "127.0.0.1:", ":80", "::1:80", "[::1]", "[::1]80", "[]:80", "[::1:80",
             "[zz::1]:80", "host:65536", "host:-1", "host:8o", "host:123456", "http://host:80",
             "ho st:80", std::string("\x01 not an address \x02"), std::string("host\0:80", 8)}) {
        CAPTURE(micro::tcp::printable(bad));
        try {
            micro::tcp::parseAddress(bad);
            FAIL("parsed");
        } catch (const micro::Error& e) {
            CHECK(e.code() == micro::Code::kInvalidArgument);
            CHECK(contains(e.what(), "bad tcp address '" + micro::tcp::printable(bad) + "'"));
        }
    }
}
