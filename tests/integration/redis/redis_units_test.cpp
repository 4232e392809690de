// The pure parts of micro-redis.so, compiled from the plugin's sources: the
// url syntax, the key layout and its lexicographic bounds, the metadata
// codec. No server needed.
#include <doctest/doctest.h>
#include <micro/error.hpp>

#include <string>
#include <vector>

#include "key_layout.hpp"  // plugins/redis
#include "record_codec.hpp"
#include "redis_server.hpp"
#include "redis_url.hpp"
#include "scripts.hpp"
#include "sha1.hpp"

using micro::redis::decodeMetadata;
using micro::redis::encodeMetadata;
using micro::redis::lexMax;
using micro::redis::lexMin;
using micro::redis::parseRedisUrl;
using micro::redis::TableBase;
using micro::redis::TableKeys;

TEST_CASE("units: urls parse into host, port, database and credentials") {
    auto u = parseRedisUrl("redis://127.0.0.1:6380/2");
    CHECK(u.host == "127.0.0.1");
    CHECK(u.port == 6380);
    CHECK(u.database == 2);
    CHECK(u.password.empty());
    CHECK(u.endpoint() == "127.0.0.1:6380");

    u = parseRedisUrl("redis://cache.internal");
    CHECK(u.host == "cache.internal");
    CHECK(u.port == 6379);
    CHECK(u.database == 0);

    u = parseRedisUrl("redis://app:p%40ss%3Aword@[::1]:7000/");
    CHECK(u.host == "::1");
    CHECK(u.port == 7000);
    CHECK(u.username == "app");
    CHECK(u.password == "p@ss:word");
    CHECK(u.endpoint() == "[::1]:7000");
    CHECK(u.redacted() == "redis://app:***@[::1]:7000/0");

    u = parseRedisUrl("redis://:secret@h:1/15");
    CHECK(u.username.empty());
    CHECK(u.password == "secret");

    for (const char* bad :
         {"", "redis:/h", "redis://h:0", "redis://h:65536", "redis://h:-1", "redis://h/-1",
          "redis://h/2147483648", "redis://h:12ab", "redis://user@h", "redis://u:@h",
          "redis://[::1", "redis://[::1]x", "redis://h h", "redis://h/0#x", "redis://:pw@h:%zz/0",
          "redis://:p%zz@h"}) {
        CAPTURE(bad);
        try {
            parseRedisUrl(bad);
            FAIL("accepted");
        } catch (const micro::Error& e) {
            CHECK(e.code() == micro::Code::kInvalidArgument);
            CHECK(std::string(e.what()).find("key 'url'") != std::string::npos);
        }
    }
}

TEST_CASE("units: table keys are length-prefixed so no two tables overlap") {
    const TableKeys a("a:1", "b");
    const TableKeys b("a", "1:b");
    CHECK(a.index() == "micro:{3:a:1:1:b}:idx");
    CHECK(b.index() == "micro:{1:a:3:1:b}:idx");
    CHECK(a.record("k") == "micro:{3:a:1:1:b}:r:k");
    CHECK(a.recordPrefix() != b.recordPrefix());
    const std::string nul("x\0y", 3);
    CHECK(TableKeys(nul, "t").record(nul) == std::string("micro:{3:x\0y:1:t}:r:x\0y", 23));
}

TEST_CASE("units: lexicographic bounds cover exactly the keys with a prefix") {
    CHECK(lexMin("") == "-");
    CHECK(lexMax("") == "+");
    CHECK(lexMin("ab") == "[ab");
    CHECK(lexMax("ab") == "(ac");
    CHECK(lexMax("a\xff") == "(b");
    CHECK(lexMax("a\xff\xff") == "(b");
    CHECK(lexMax("\xff\xff") == "+");
    CHECK(lexMax(std::string("a\0", 2)) == std::string("(a\x01", 3));
}

TEST_CASE("units: metadata round trips through its compact encoding") {
    const std::string big(300, 'v');
    const std::string nul("n\0l", 3);
    const std::vector<micro_kv> in{{{"a", 1}, {"", 0}},
                                   {{nul.data(), nul.size()}, {big.data(), big.size()}}};
    const std::string encoded = encodeMetadata(in);
    CHECK(encoded.size() == micro::redis::encodedMetadataSize(in));
    std::vector<micro_kv> out;
    REQUIRE(decodeMetadata(encoded, out));
    REQUIRE(out.size() == 2);
    CHECK(std::string(out[0].key.data, out[0].key.size) == "a");
    CHECK(out[0].value.size == 0);
    CHECK(std::string(out[1].key.data, out[1].key.size) == nul);
    CHECK(std::string(out[1].value.data, out[1].value.size) == big);
    CHECK(decodeMetadata("", out));
    CHECK(out.empty());
    CHECK_FALSE(decodeMetadata(encoded.substr(0, encoded.size() - 1), out));
    CHECK_FALSE(
        decodeMetadata("\x05"
                       "ab",
                       out));
    CHECK_FALSE(decodeMetadata("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", out));
    CHECK(micro::redis::parseVersion("42") == 42u);
    CHECK_FALSE(micro::redis::parseVersion("0"));
    CHECK_FALSE(micro::redis::parseVersion("4x"));
    CHECK(micro::redis::parseExpiry("0") == 0);
    CHECK_FALSE(micro::redis::parseExpiry("-5"));
}

TEST_CASE("units: a table base written in pieces is the base of every key") {
    const std::string nul("x\0y", 3);
    for (const auto& [db, table] : {std::pair<std::string, std::string>{"micro", "bench"},
                                    {"a:1", "b"},
                                    {nul, std::string(128, 't')}}) {
        const TableBase base(db, table);
        std::string written;
        base.write([&](std::string_view piece) { written += piece; });
        CHECK(written.size() == base.size());
        CHECK(written + "r:" == TableKeys(db, table).recordPrefix());
        CHECK(written + "idx" == TableKeys(db, table).index());
    }
}

TEST_CASE("units: sha1 digests match the standard vectors") {
    CHECK(micro::redis::sha1Hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    CHECK(micro::redis::sha1Hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    // 56 bytes: the length no longer fits the first block.
    CHECK(micro::redis::sha1Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    CHECK(micro::redis::sha1Hex(std::string(1000000, 'a')) ==
          "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST_CASE("units: each script's digest is the one Redis gives it") {
    // EVALSHA is sent with these digests before any SCRIPT LOAD: a wrong one
    // would cost every write a NOSCRIPT and a second round trip.
    micro::test::RedisServer server;
    for (std::size_t i = 0; i < micro::redis::kScriptCount; ++i) {
        const auto id = static_cast<micro::redis::ScriptId>(i);
        CAPTURE(micro::redis::scriptName(id));
        const std::vector<std::string> loaded =
            server.command({"SCRIPT", "LOAD", std::string(micro::redis::scriptText(id))});
        REQUIRE(loaded.size() == 1);
        CHECK(loaded[0] == micro::redis::scriptDigest(id));
    }
}
