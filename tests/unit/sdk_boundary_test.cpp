// The SDK's promise: no exception crosses the C boundary. Each kind of
// failure inside a driver method becomes the right status and message.
// And a field appended in a later minor is read only when it is there.
#include <doctest/doctest.h>
#include <micro/driver/transport.hpp>
#include <micro/metrics.hpp>
#include <micro/sdk.hpp>

#include <cstddef>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Outcome {
    micro_code code = -1;
    std::string message;
    std::uint64_t value = 0;
    int calls = 0;
};

micro_done capture(Outcome& o) {
    return micro_done{&o, [](void* ctx, micro_code code, micro_str message, std::uint64_t value) {
                          auto* out = static_cast<Outcome*>(ctx);
                          out->code = code;
                          out->message.assign(micro::abi::view(message));
                          out->value = value;
                          ++out->calls;
                      }};
}

// A store whose behaviour is chosen by the key it is asked for.
class ThrowingStore {
 public:
    explicit ThrowingStore(const micro::driver::Context& ctx) {
        ctx.config.allowOnly({"mode"});
        mode_ = ctx.config.getString("mode", "sync");
    }
    void read(const micro::driver::StoreQuery& q, micro::driver::RecordSink& out) {
        if (q.key == "error") throw micro::Error(micro::Code::kNotFound, "key 'error' not found");
        if (q.key == "oom") throw std::bad_alloc();
        if (q.key == "std") throw std::runtime_error("boom");
        if (q.key == "int") throw 42;
        out.emit(q.key, "value", {}, 0, 7);
    }
    std::uint64_t write(std::string_view, std::string_view, const micro::driver::RecordBatch& r) {
        return r.size();
    }
    // The asynchronous form: the Done may be kept and completed later.
    void erase(std::string_view, std::string_view, std::string_view key,
               micro::driver::Done& done) {
        if (key == "throw") throw micro::Error(micro::Code::kAborted, "conflict on 'throw'");
        if (key == "drop") return;  // neither completed nor kept: the caller must still hear
        done.ok(99);
    }

 private:
    std::string mode_;
};

using Table = micro::driver::StoreDriver<ThrowingStore>;

void* make(const std::vector<micro_kv>& config = {}) {
    micro_config c{config.data(), config.size()};
    micro_error err{};
    void* self = nullptr;
    REQUIRE(Table::kTable.base.create(nullptr, micro::abi::str("store"), &c, &self, &err) ==
            MICRO_OK);
    return self;
}

Outcome read(void* self, std::string_view key) {
    Outcome o;
    micro_store_query q{sizeof(q), {}, {}, micro::abi::bytes(key), 0, 0, 0};
    Table::kTable.read(self, &q, micro_record_sink{nullptr, [](void*, const micro_record*) {}},
                       capture(o));
    return o;
}

}  // namespace

TEST_CASE("code names: one table for messages and metric labels") {
    CHECK(micro::codeName(micro::Code::kNotFound) == "NOT_FOUND");
    CHECK(micro::codeName(micro::Code::kUnauthenticated) == "UNAUTHENTICATED");
    CHECK(micro::codeName(static_cast<micro::Code>(42)) == "CODE_42");
    CHECK(micro::canonicalCodeName(static_cast<micro::Code>(42)).empty());
    for (int c = 0; c <= MICRO_UNAUTHENTICATED; ++c) {
        CHECK(micro::metrics::codeLabel(c) == micro::codeName(static_cast<micro::Code>(c)));
    }
    CHECK(micro::metrics::codeLabel(-1) == "UNKNOWN");
    CHECK(micro::metrics::codeLabel(99) == "UNKNOWN");
}

TEST_CASE("micro::Error keeps its code and message across the boundary") {
    void* self = make();
    Outcome o = read(self, "error");
    CHECK(o.code == MICRO_NOT_FOUND);
    CHECK(o.message == "key 'error' not found");
    CHECK(o.calls == 1);
    Table::kTable.base.destroy(self);
}

TEST_CASE("bad_alloc becomes RESOURCE_EXHAUSTED, other exceptions INTERNAL with what()") {
    void* self = make();
    CHECK(read(self, "oom").code == MICRO_RESOURCE_EXHAUSTED);
    Outcome std = read(self, "std");
    CHECK(std.code == MICRO_INTERNAL);
    CHECK(std.message == "boom");
    Outcome other = read(self, "int");
    CHECK(other.code == MICRO_INTERNAL);
    CHECK(other.message == "unknown exception");
    Outcome ok = read(self, "fine");
    CHECK(ok.code == MICRO_OK);
    CHECK(ok.calls == 1);
    Table::kTable.base.destroy(self);
}

TEST_CASE("an asynchronous method completes exactly once, even when it throws or drops it") {
    void* self = make();
    for (auto [key, code] : {std::pair{"fine", MICRO_OK}, std::pair{"throw", MICRO_ABORTED},
                             std::pair{"drop", MICRO_INTERNAL}}) {
        Outcome o;
        Table::kTable.erase(self, {}, {}, micro::abi::bytes(key), capture(o));
        CHECK(o.code == code);
        CHECK(o.calls == 1);
    }
    Table::kTable.base.destroy(self);
}

TEST_CASE("create reports a config error in the caller's buffer, not as an exception") {
    std::vector<micro_kv> config{{micro::abi::str("colour"), micro::abi::str("blue")}};
    micro_config c{config.data(), config.size()};
    micro_error err{};
    void* self = nullptr;
    CHECK(Table::kTable.base.create(nullptr, micro::abi::str("store"), &c, &self, &err) ==
          MICRO_INVALID_ARGUMENT);
    CHECK(std::string(err.message) == "unknown key 'colour'");
    CHECK(self == nullptr);
}

TEST_CASE("a long message is truncated to the fixed buffer, still terminated") {
    micro_error err{};
    std::string longMessage(5000, 'x');
    CHECK(micro::abi::fail(&err, MICRO_INTERNAL, longMessage) == MICRO_INTERNAL);
    CHECK(std::string(err.message).size() == MICRO_ERROR_MESSAGE_CAPACITY - 1);
}

TEST_CASE("Config reads typed values and names the key of a bad one") {
    std::vector<micro_kv> kv{{micro::abi::str("size"), micro::abi::str("12")},
                             {micro::abi::str("bad"), micro::abi::str("12x")},
                             {micro::abi::str("on"), micro::abi::str("true")}};
    micro_config c{kv.data(), kv.size()};
    micro::driver::Config config(&c);
    CHECK(config.getInt("size", 0) == 12);
    CHECK(config.getInt("missing", 5) == 5);
    CHECK(config.getBool("on", false));
    try {
        config.getInt("bad", 0);
        FAIL("expected an error");
    } catch (const micro::Error& e) {
        CHECK(e.code() == micro::Code::kInvalidArgument);
        CHECK(std::string(e.what()).find("'bad'") != std::string::npos);
    }
}

TEST_CASE("moreFollows reads the send flag only from a message of minor 1 or later") {
    micro_transport_message m{sizeof(m), nullptr, 0, micro_bytes{nullptr, 0},
                              MICRO_SEND_MORE_FOLLOWS};
    CHECK(micro::driver::moreFollows(m));
    m.flags = 0;
    CHECK_FALSE(micro::driver::moreFollows(m));
    // A core of minor 0 fills the 40 bytes it knows: whatever lies past
    // them is not a flag.
    m.flags = MICRO_SEND_MORE_FOLLOWS;
    m.struct_size = offsetof(micro_transport_message, flags);
    CHECK_FALSE(micro::driver::moreFollows(m));
}
