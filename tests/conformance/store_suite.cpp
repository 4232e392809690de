// Store conformance: records under (database, table, key).
#include "conformance.hpp"

#include <micro/store.hpp>

#include <algorithm>
#include <atomic>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using conformance::unique;
using micro::Code;

namespace {

micro::Store& store() { return conformance::runtime().store(); }

micro::Record rec(std::string key, std::string value, std::uint64_t expectedVersion = 0) {
    micro::Record r;
    r.key = std::move(key);
    r.value = std::move(value);
    r.version = expectedVersion;
    return r;
}

std::uint64_t put(const std::string& key, const std::string& value,
                  const micro::WriteOptions& options = {}) {
    return store().write(rec(key, value), options);
}

std::vector<std::string> keysOf(const std::vector<micro::Record>& records) {
    std::vector<std::string> keys;
    keys.reserve(records.size());
    for (const auto& r : records) keys.push_back(r.key);
    return keys;
}

micro::Record readOne(std::string_view key, const micro::ReadOptions& options = {}) {
    std::vector<micro::Record> records = store().read(key, options);
    REQUIRE(records.size() == 1);
    return records.front();
}

micro::ReadOptions prefixRead() {
    micro::ReadOptions o;
    o.prefix = true;
    return o;
}

}  // namespace

TEST_SUITE("store") {
    TEST_CASE("store: a written record reads back with its value and a version > 0") {
        const std::string key = unique("rw");
        const std::uint64_t version = put(key, "hello");
        CHECK(version > 0);
        const micro::Record r = readOne(key);
        CHECK(r.key == key);
        CHECK(r.value == "hello");
        CHECK(r.version == version);
        CHECK(r.expiryUnixMs == 0);
    }

    TEST_CASE("store: overwriting replaces the value and grows the version") {
        const std::string key = unique("overwrite");
        const std::uint64_t v1 = put(key, "one");
        const std::uint64_t v2 = put(key, "two");
        CHECK(v2 > v1);
        const micro::Record r = readOne(key);
        CHECK(r.value == "two");
        CHECK(r.version == v2);
    }

    TEST_CASE("store: erase removes the key, reading or erasing it again is NOT_FOUND") {
        const std::string key = unique("erase");
        put(key, "x");
        CHECK_CODE(store().erase(key), Code::kOk);
        CHECK_CODE(store().read(key), Code::kNotFound);
        CHECK_CODE(store().erase(key), Code::kNotFound);
        CHECK_CODE(store().erase(unique("never-written")), Code::kNotFound);
        CHECK_CODE(store().read(unique("never-written")), Code::kNotFound);
    }

    TEST_CASE("store: metadata round trips") {
        const std::string key = unique("metadata");
        micro::Record in = rec(key, "v");
        in.metadata = {{"content-type", "text/plain"}, {"owner", "conformance"}, {"empty", ""}};
        store().write(in);
        const micro::Record out = readOne(key);
        CHECK(out.metadata == in.metadata);
        CHECK(out.value == "v");
    }

    TEST_CASE("store: binary values and keys containing NUL bytes round trip exactly") {
        const std::string base = unique("bin");
        const std::string withNul = base + std::string("\0a", 2);
        const std::string withNul2 = base + std::string("\0b", 2);
        const std::string value = conformance::allBytes();
        put(withNul, value);
        put(withNul2, "second");
        put(base, "plain");

        const micro::Record r = readOne(withNul);
        CHECK(r.key == withNul);
        CHECK(r.value.size() == value.size());
        CHECK(r.value == value);
        CHECK(readOne(withNul2).value == "second");
        CHECK(readOne(base).value == "plain");

        const std::vector<micro::Record> all = store().read(base, prefixRead());
        CHECK(keysOf(all) == std::vector<std::string>{base, withNul, withNul2});
    }

    TEST_CASE("store: list returns exactly the keys under a prefix, ascending") {
        const std::string prefix = unique("list") + "/";
        const std::vector<std::string> keys{prefix + "a", prefix + "b", prefix + "c/d"};
        for (auto it = keys.rbegin(); it != keys.rend(); ++it) put(*it, "x");
        put(unique("list-other"), "x");
        CHECK(store().list(prefix, prefixRead()) == keys);
        CHECK(store().list(unique("list-nothing"), prefixRead()).empty());
    }

    TEST_CASE("store: prefix read returns the matching records with values, ascending") {
        const std::string prefix = unique("prefix") + "/";
        put(prefix + "b", "B");
        put(prefix + "a", "A");
        put(prefix + "c", "C");
        put(prefix.substr(0, prefix.size() - 1), "not under it");
        const std::vector<micro::Record> records = store().read(prefix, prefixRead());
        REQUIRE(records.size() == 3);
        CHECK(keysOf(records) ==
              std::vector<std::string>{prefix + "a", prefix + "b", prefix + "c"});
        CHECK(records[0].value == "A");
        CHECK(records[1].value == "B");
        CHECK(records[2].value == "C");
        for (const auto& r : records) CHECK(r.version > 0);
        CHECK(store().read(unique("prefix-nothing"), prefixRead()).empty());
    }

    TEST_CASE("store: suffix read returns exactly the keys ending with the suffix") {
        const std::string suffix = "." + unique("suffix");
        const std::string a = unique("s1") + suffix;
        const std::string b = unique("s2") + suffix;
        put(a, "1");
        put(b, "2");
        put(suffix + ".not-at-end", "3");
        micro::ReadOptions o;
        o.suffix = true;
        const std::vector<micro::Record> records = store().read(suffix, o);
        std::vector<std::string> expected{a, b};
        std::sort(expected.begin(), expected.end());
        CHECK(keysOf(records) == expected);
        micro::ReadOptions listSuffix;
        listSuffix.suffix = true;
        CHECK(store().list(suffix, listSuffix) == expected);
    }

    TEST_CASE("store: prefix reads page with limit and offset in ascending key order") {
        const std::string prefix = unique("page") + "/";
        std::vector<std::string> keys;
        for (int i = 0; i < 10; ++i) keys.push_back(prefix + "k0" + std::to_string(i));
        std::vector<std::string> shuffled = keys;
        std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
        for (const auto& k : shuffled) put(k, "v-" + k);

        std::vector<std::string> paged;
        for (std::uint64_t offset = 0; offset < 12; offset += 3) {
            micro::ReadOptions o = prefixRead();
            o.limit = 3;
            o.offset = offset;
            const std::vector<micro::Record> page = store().read(prefix, o);
            const std::size_t expectedSize =
                offset >= keys.size() ? 0 : std::min<std::size_t>(3, keys.size() - offset);
            CHECK(page.size() == expectedSize);
            for (const auto& r : page) {
                CHECK(r.value == "v-" + r.key);
                paged.push_back(r.key);
            }
        }
        CHECK(paged == keys);

        micro::ReadOptions past = prefixRead();
        past.offset = 10;
        CHECK(store().read(prefix, past).empty());
        micro::ReadOptions limitOnly = prefixRead();
        limitOnly.limit = 4;
        CHECK(keysOf(store().read(prefix, limitOnly)) ==
              std::vector<std::string>(keys.begin(), keys.begin() + 4));
    }

    TEST_CASE("store: keys-only reads return keys and versions with empty values") {
        const std::string prefix = unique("keysonly") + "/";
        const std::uint64_t va = put(prefix + "a", "value-a");
        const std::uint64_t vb = put(prefix + "b", "value-b");
        micro::ReadOptions o = prefixRead();
        o.keysOnly = true;
        const std::vector<micro::Record> records = store().read(prefix, o);
        REQUIRE(records.size() == 2);
        CHECK(records[0].key == prefix + "a");
        CHECK(records[1].key == prefix + "b");
        CHECK(records[0].value.empty());
        CHECK(records[1].value.empty());
        CHECK(records[0].version == va);
        CHECK(records[1].version == vb);
    }

    TEST_CASE("store: a record with a TTL or expiry time disappears once it passes") {
        // Three groups of the same records, each checked by one kind of read
        // only, so a driver that purges lazily on one read path cannot hide
        // another path that returns expired records.
        const std::string prefix = unique("ttl") + "/";
        const std::vector<std::string> groups{"exact/", "list/", "read/"};
        micro::WriteOptions ttl;
        ttl.ttl = 150ms;
        const auto start = std::chrono::steady_clock::now();
        for (const std::string& g : groups) {
            put(prefix + g + "stays", "forever");
            put(prefix + g + "by-ttl", "brief", ttl);
            micro::Record expiring = rec(prefix + g + "by-expiry", "brief");
            expiring.expiryUnixMs = conformance::nowUnixMs() + 150;
            store().write(expiring);
        }
        const std::vector<micro::Record> before = store().read(prefix, prefixRead());
        if (std::chrono::steady_clock::now() - start < 100ms) {
            CHECK(before.size() == 9);
            for (const auto& r : before) {
                CAPTURE(r.key);
                CHECK((r.expiryUnixMs > 0) == (r.value == "brief"));
            }
        } else {
            MESSAGE("writes took over 100 ms: skipped the before-expiry check");
        }

        std::this_thread::sleep_for(400ms);  // let the TTL pass
        CHECK(keysOf(store().read(prefix + "read/", prefixRead())) ==
              std::vector<std::string>{prefix + "read/stays"});
        CHECK(store().list(prefix + "list/", prefixRead()) ==
              std::vector<std::string>{prefix + "list/stays"});
        CHECK_CODE(store().read(prefix + "exact/by-ttl"), Code::kNotFound);
        CHECK_CODE(store().read(prefix + "exact/by-expiry"), Code::kNotFound);
        CHECK(readOne(prefix + "exact/stays").value == "forever");
    }

    TEST_CASE("store: databases and tables are separate namespaces") {
        const std::string key = unique("ns");
        struct Scope {
            const char* database;
            const char* table;
        };
        const Scope scopes[] = {{"", ""},
                                {"conformance_a", "records_x"},
                                {"conformance_a", "records_y"},
                                {"conformance_b", "records_x"}};
        for (const Scope& s : scopes) {
            micro::WriteOptions w;
            w.database = s.database;
            w.table = s.table;
            put(key, std::string(s.database) + "." + s.table, w);
        }
        for (const Scope& s : scopes) {
            micro::ReadOptions r;
            r.database = s.database;
            r.table = s.table;
            CAPTURE(s.database);
            CAPTURE(s.table);
            CHECK(readOne(key, r).value == std::string(s.database) + "." + s.table);
            r.prefix = true;
            CHECK(store().list(key, r) == std::vector<std::string>{key});
        }

        // Erasing in one scope leaves the others alone.
        store().erase(key, {.database = "conformance_a", .table = "records_x"});
        micro::ReadOptions ax;
        ax.database = "conformance_a";
        ax.table = "records_x";
        CHECK_CODE(store().read(key, ax), Code::kNotFound);
        micro::ReadOptions ay = ax;
        ay.table = "records_y";
        CHECK(readOne(key, ay).value == "conformance_a.records_y");
        micro::ReadOptions bx = ax;
        bx.database = "conformance_b";
        CHECK(readOne(key, bx).value == "conformance_b.records_x");
        CHECK(readOne(key).value == ".");
    }

    TEST_CASE("store: compare-and-set succeeds on the current version and aborts on a stale one") {
        const std::string key = unique("cas");
        const std::uint64_t v1 = put(key, "one");
        micro::WriteOptions cas;
        cas.expectedVersion = readOne(key).version;
        CHECK(cas.expectedVersion == v1);
        std::uint64_t v2 = 0;
        CHECK_CODE(v2 = put(key, "two", cas), Code::kOk);
        CHECK(v2 > v1);
        CHECK(readOne(key).value == "two");

        // v1 is stale now.
        CHECK_CODE(put(key, "three", cas), Code::kAborted);
        const micro::Record after = readOne(key);
        CHECK(after.value == "two");
        CHECK(after.version == v2);
    }

    TEST_CASE("store: compare-and-set with kAbsentVersion creates only when absent") {
        const std::string key = unique("absent");
        micro::WriteOptions absent;
        absent.expectedVersion = micro::kAbsentVersion;
        CHECK_CODE(put(key, "first", absent), Code::kOk);
        CHECK_CODE(put(key, "second", absent), Code::kAborted);
        CHECK(readOne(key).value == "first");

        // After an erase the key is absent again.
        store().erase(key);
        CHECK_CODE(put(key, "third", absent), Code::kOk);
        CHECK(readOne(key).value == "third");
    }

    TEST_CASE("store: a batch writes all records, or none when one compare-and-set fails") {
        const std::string prefix = unique("batch") + "/";
        const std::vector<micro::Record> ok{rec(prefix + "a", "A"), rec(prefix + "b", "B")};
        const std::uint64_t last = store().writeBatch(ok);
        CHECK(last > 0);
        CHECK(readOne(prefix + "a").value == "A");
        CHECK(readOne(prefix + "b").version == last);

        const std::uint64_t stale = readOne(prefix + "a").version;
        put(prefix + "a", "A2");  // makes `stale` stale
        const std::vector<micro::Record> failing{
            rec(prefix + "c", "C"), rec(prefix + "b", "B2", readOne(prefix + "b").version),
            rec(prefix + "a", "A3", stale), rec(prefix + "d", "D", micro::kAbsentVersion)};
        CHECK_CODE(store().writeBatch(failing), Code::kAborted);
        CHECK_CODE(store().read(prefix + "c"), Code::kNotFound);
        CHECK_CODE(store().read(prefix + "d"), Code::kNotFound);
        CHECK(readOne(prefix + "a").value == "A2");
        CHECK(readOne(prefix + "b").value == "B");
        CHECK(store().list(prefix, prefixRead()) ==
              std::vector<std::string>{prefix + "a", prefix + "b"});
    }

    TEST_CASE("store: concurrent read-CAS-retry increments lose no update") {
        constexpr int kThreads = 8;
        constexpr int kIncrements = 50;
        const std::string key = unique("counter");
        put(key, "0");

        std::vector<std::string> errors(kThreads);
        std::latch start(kThreads);  // all threads contend from the first round
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                start.arrive_and_wait();
                try {
                    for (int i = 0; i < kIncrements; ++i) {
                        for (int attempt = 0;; ++attempt) {
                            if (attempt > 10000) throw std::runtime_error("no progress");
                            const micro::Record r = store().read(key).at(0);
                            std::this_thread::yield();  // invite a conflicting writer
                            micro::WriteOptions cas;
                            cas.expectedVersion = r.version;
                            try {
                                put(key, std::to_string(std::stoi(r.value) + 1), cas);
                                break;
                            } catch (const micro::Error& e) {
                                if (e.code() != Code::kAborted) throw;
                            }
                        }
                    }
                } catch (const micro::Error& e) {
                    errors[t] = e.describe();
                } catch (const std::exception& e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto& th : threads) th.join();
        for (const auto& e : errors) CHECK(e == "");
        CHECK(readOne(key).value == std::to_string(kThreads * kIncrements));
    }

    TEST_CASE("store: concurrent writers on distinct keys are all visible") {
        constexpr int kThreads = 8;
        constexpr int kKeys = 25;
        const std::string prefix = unique("parallel") + "/";
        std::vector<std::string> errors(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                try {
                    for (int i = 0; i < kKeys; ++i) {
                        const std::string k =
                            prefix + "t" + std::to_string(t) + "-" + std::to_string(100 + i);
                        put(k, k);
                    }
                } catch (const std::exception& e) {
                    errors[t] = e.what();
                }
            });
        }
        for (auto& th : threads) th.join();
        for (const auto& e : errors) CHECK(e == "");
        const std::vector<micro::Record> records = store().read(prefix, prefixRead());
        CHECK(records.size() == static_cast<std::size_t>(kThreads * kKeys));
        CHECK(std::is_sorted(records.begin(), records.end(),
                             [](const auto& a, const auto& b) { return a.key < b.key; }));
        for (const auto& r : records) CHECK(r.value == r.key);
    }
}
