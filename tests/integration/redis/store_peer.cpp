// redis-store-peer — a second process for the Redis store tests: it loads a
// manifest into its own micro::Runtime and acts on the store it selects.
//
//   redis-store-peer MANIFEST increment KEY COUNT
//       add 1 to the decimal counter under KEY, COUNT times, each by
//       read / compare-and-set / retry on ABORTED (absent counts as 0);
//       gives up after 100000 lost races in a row
//
// Exit codes: 0 done, 1 a micro::Error (printed on stderr), 2 bad usage.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fputs("usage: redis-store-peer MANIFEST increment KEY COUNT\n", stderr);
    return 2;
}

void increment(micro::Store& store, const std::string& key) {
    for (int attempt = 0; attempt < 100'000; ++attempt) {
        micro::Record next;
        next.key = key;
        micro::WriteOptions cas;
        try {
            const micro::Record current = store.read(key).at(0);
            next.value = std::to_string(std::stoll(current.value) + 1);
            cas.expectedVersion = current.version;
        } catch (const micro::Error& e) {
            if (e.code() != micro::Code::kNotFound) throw;
            next.value = "1";
            cas.expectedVersion = micro::kAbsentVersion;
        }
        try {
            store.write(next, cas);
            return;
        } catch (const micro::Error& e) {
            if (e.code() != micro::Code::kAborted) throw;  // lost the race: read again
        }
    }
    throw std::runtime_error("no progress after 100000 attempts");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() != 4 || args[1] != "increment") return usage();
    try {
        micro::Runtime runtime = micro::Runtime::load(args[0]);
        micro::Store& store = runtime.store();
        const long long count = std::stoll(args[3]);
        for (long long i = 0; i < count; ++i) increment(store, args[2]);
        return 0;
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "redis-store-peer: %s\n", e.describe().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "redis-store-peer: %s\n", e.what());
        return 2;
    }
}
