// sqlite-store-peer — a second process for the cross-process store tests:
// it loads a manifest into its own micro::Runtime and acts on the store the
// manifest selects.
//
//   sqlite-store-peer MANIFEST increment KEY COUNT
//       add 1 to the decimal counter under KEY, COUNT times, each by
//       read / compare-and-set / retry on ABORTED (absent counts as 0)
//   sqlite-store-peer MANIFEST put KEY VALUE TTL_MS
//       write one record (TTL_MS 0: no expiry)
//
// Exit codes: 0 done, 1 a micro::Error (printed on stderr), 2 bad usage.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fputs(
        "usage: sqlite-store-peer MANIFEST increment KEY COUNT\n"
        "       sqlite-store-peer MANIFEST put KEY VALUE TTL_MS\n",
        stderr);
    return 2;
}

void increment(micro::Store& store, const std::string& key) {
    for (;;) {
        micro::Record next;
        next.key = key;
        micro::WriteOptions cas;
        try {
            const micro::Record current = store.read(key).at(0);
            next.value = std::to_string(std::stoll(current.value) + 1);
            cas.expectedVersion = current.version;
        } catch (const micro::Error& e) {
            if (e.code() != micro::Code::kNotFound) throw;
            next.value = std::to_string(1);
            cas.expectedVersion = micro::kAbsentVersion;
        }
        try {
            store.write(next, cas);
            return;
        } catch (const micro::Error& e) {
            if (e.code() != micro::Code::kAborted) throw;  // lost the race: read again
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() < 4) return usage();
    try {
        micro::Runtime runtime = micro::Runtime::load(args[0]);
        micro::Store& store = runtime.store();
        if (args[1] == "increment") {
            const long long count = std::stoll(args[3]);
            for (long long i = 0; i < count; ++i) increment(store, args[2]);
            return 0;
        }
        if (args[1] == "put" && args.size() >= 5) {
            micro::Record r;
            r.key = args[2];
            r.value = args[3];
            micro::WriteOptions options;
            options.ttl = std::chrono::milliseconds(std::stoll(args[4]));
            store.write(r, options);
            return 0;
        }
        return usage();
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "sqlite-store-peer: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sqlite-store-peer: %s\n", e.what());
        return 2;
    }
}
