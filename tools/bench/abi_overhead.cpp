// micro-bench-abi — what the plugin boundary costs per call.
//
// The same in-memory driver classes are called three ways:
//   Direct  the C++ class, linked into this binary, called as C++;
//   Abi     the class inside micro-memory.so, through its C function table
//           (the thunks, the completion callback), as a C host would;
//   Facade  micro::Store / micro::Broker from libmicro: the ABI call plus
//           the core's blocking completion, as a service author calls it.
// Store: write then exact read of a 16-byte key and a 100-byte value.
// Broker: publish of a 100-byte body to one in-process subscriber.
// Each benchmark also reports heap allocations per operation, counted by
// this binary's operator new.
#include <benchmark/benchmark.h>
#include <micro/runtime.hpp>
#include <micro/sdk.hpp>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "memory_broker.hpp"
#include "memory_store.hpp"

namespace {
std::atomic<std::uint64_t> gAllocations{0};
}  // namespace

void* operator new(std::size_t size) {
    gAllocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

const std::string kKey = "bench:key:000001";  // 16 bytes
const std::string kValue(100, 'v');

// Counts allocations over the measured loop and reports them per iteration.
class AllocationCounter {
 public:
    explicit AllocationCounter(benchmark::State& state)
        : state_(state), start_(gAllocations.load(std::memory_order_relaxed)) {}
    ~AllocationCounter() {
        auto n = gAllocations.load(std::memory_order_relaxed) - start_;
        state_.counters["allocs/op"] =
            benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
    }

 private:
    benchmark::State& state_;
    std::uint64_t start_;
};

micro::Runtime& runtime() {
    static micro::Runtime rt = [] {
        micro::Manifest m = micro::Manifest::parse("[store]\nplugin = \"" MICRO_BENCH_MEMORY_SO
                                                   "\"\ndriver = \"memory\"\n"
                                                   "[broker]\nplugin = \"" MICRO_BENCH_MEMORY_SO
                                                   "\"\ndriver = \"memory\"\n",
                                                   "bench.toml");
        return micro::Runtime::load(m);
    }();
    return rt;
}

void ignoreDone(void*, micro_code code, micro_str, std::uint64_t) {
    if (code != MICRO_OK) std::abort();
}
void countRecord(void* ctx, const micro_record* r) {
    *static_cast<std::size_t*>(ctx) += r->value.size;
}

micro_record record() {
    return micro_record{
        sizeof(micro_record), micro::abi::bytes(kKey), micro::abi::bytes(kValue), nullptr, 0, 0,
        MICRO_VERSION_ANY};
}
micro_store_query query() {
    return micro_store_query{sizeof(micro_store_query), {}, {}, micro::abi::bytes(kKey),
                             MICRO_STORE_EXACT,         0,  0};
}

void BM_StoreWriteRead_Direct(benchmark::State& state) {
    micro::memory::MemoryStore store(
        micro::driver::Context{nullptr, "bench", micro::driver::Config(nullptr)});
    micro_record r = record();
    const micro_record* one = &r;
    micro_store_query q = query();
    std::size_t bytes = 0;
    AllocationCounter allocations(state);
    for (auto _ : state) {
        micro::driver::Done wrote(micro_done{nullptr, ignoreDone});
        store.write({}, {}, micro::driver::RecordBatch(&one, 1), wrote);
        micro::driver::StoreQuery sq{{}, {}, kKey, q.flags, 0, 0};
        micro::driver::RecordSink sink(micro_record_sink{&bytes, countRecord});
        micro::driver::Done read(micro_done{nullptr, ignoreDone});
        store.read(sq, sink, read);
    }
    benchmark::DoNotOptimize(bytes);
}

void BM_StoreWriteRead_Abi(benchmark::State& state) {
    const micro::DriverHandle& h = runtime().store().handle();
    const auto* table = h.table<micro_store_driver>();
    void* self = h.self();
    micro_record r = record();
    const micro_record* one = &r;
    micro_store_query q = query();
    std::size_t bytes = 0;
    AllocationCounter allocations(state);
    for (auto _ : state) {
        table->write(self, {}, {}, &one, 1, micro_done{nullptr, ignoreDone});
        table->read(self, &q, micro_record_sink{&bytes, countRecord},
                    micro_done{nullptr, ignoreDone});
    }
    benchmark::DoNotOptimize(bytes);
}

void BM_StoreWriteRead_Facade(benchmark::State& state) {
    micro::Store& store = runtime().store();
    std::size_t bytes = 0;
    const std::function<void(const micro::RecordView&)> visit =
        [&bytes](const micro::RecordView& r) { bytes += r.value.size(); };
    AllocationCounter allocations(state);
    for (auto _ : state) {
        store.writeView(micro::RecordView{kKey, kValue, {}, 0, 0});
        store.scan(kKey, {}, visit);
    }
    benchmark::DoNotOptimize(bytes);
}

micro_code countMessage(void* ctx, const micro_message* m, std::uint64_t) {
    *static_cast<std::size_t*>(ctx) += m->body.size;
    return MICRO_OK;
}

micro_message message() {
    return micro_message{sizeof(micro_message), micro::abi::str("bench"), nullptr, 0,
                         micro::abi::bytes(kValue)};
}

void BM_Publish_Direct(benchmark::State& state) {
    micro::memory::MemoryBroker broker(
        micro::driver::Context{nullptr, "bench", micro::driver::Config(nullptr)});
    std::size_t bytes = 0;
    void* sub = broker.subscribe({"bench", {}, MICRO_ACK_AUTO},
                                 micro_message_handler{&bytes, countMessage});
    micro_message m = message();
    AllocationCounter allocations(state);
    for (auto _ : state) {
        micro::driver::Done done(micro_done{nullptr, ignoreDone});
        broker.publish(m, done);
    }
    broker.unsubscribe(sub);
    benchmark::DoNotOptimize(bytes);
}

void BM_Publish_Abi(benchmark::State& state) {
    const micro::DriverHandle& h = runtime().broker().handle();
    const auto* table = h.table<micro_broker_driver>();
    void* self = h.self();
    std::size_t bytes = 0;
    micro_subscribe_options o{sizeof(o), micro::abi::str("bench"), {}, MICRO_ACK_AUTO};
    micro_error err{};
    void* sub = nullptr;
    if (table->subscribe(self, &o, micro_message_handler{&bytes, countMessage}, &sub, &err) !=
        MICRO_OK) {
        state.SkipWithError(err.message);
        return;
    }
    micro_message m = message();
    AllocationCounter allocations(state);
    for (auto _ : state) table->publish(self, &m, micro_done{nullptr, ignoreDone});
    table->unsubscribe(self, sub);
    benchmark::DoNotOptimize(bytes);
}

void BM_Publish_Facade(benchmark::State& state) {
    micro::Broker& broker = runtime().broker();
    std::size_t bytes = 0;
    micro::Subscription sub = broker.subscribe(
        "bench-facade", [&bytes](const micro::MessageView& m) { bytes += m.body.size(); });
    AllocationCounter allocations(state);
    for (auto _ : state) broker.publish("bench-facade", kValue);
    benchmark::DoNotOptimize(bytes);
}

BENCHMARK(BM_StoreWriteRead_Direct);
BENCHMARK(BM_StoreWriteRead_Abi);
BENCHMARK(BM_StoreWriteRead_Facade);
BENCHMARK(BM_Publish_Direct);
BENCHMARK(BM_Publish_Abi);
BENCHMARK(BM_Publish_Facade);

}  // namespace

BENCHMARK_MAIN();
