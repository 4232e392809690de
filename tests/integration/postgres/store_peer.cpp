// pg-store-peer — a second process for the PostgreSQL store tests: it
// loads a manifest into its own micro::Runtime and acts on the store the
// manifest selects.
//
//   pg-store-peer MANIFEST increment KEY COUNT
//       add 1 to the decimal counter under KEY, COUNT times, each by
//       read / compare-and-set / retry on ABORTED (absent counts as 0);
//       prints "ready" once the store is loaded
//   pg-store-peer MANIFEST put KEY VALUE
//       write one record
//
// Exit codes: 0 done, 1 a micro::Error (printed on stderr), 2 bad usage.
#include <micro/error.hpp>
#include <micro/runtime.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

int usage() {
    std::fputs(
        "usage: pg-store-peer MANIFEST increment KEY COUNT\n"
        "       pg-store-peer MANIFEST put KEY VALUE\n",
        stderr);
    return 2;
}

void increment(micro::Store& store, const std::string& key) {
    for (int attempt = 0;; ++attempt) {
        if (attempt > 100000) throw std::runtime_error("no progress on '" + key + "'");
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
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.size() != 4 || (args[1] != "increment" && args[1] != "put")) return usage();
    try {
        micro::Runtime runtime = micro::Runtime::load(args[0]);
        micro::Store& store = runtime.store();
        if (args[1] == "put") {
            micro::Record r;
            r.key = args[2];
            r.value = args[3];
            store.write(r);
            return 0;
        }
        const long long count = std::stoll(args[3]);
        std::puts("ready");
        std::fflush(stdout);
        for (long long i = 0; i < count; ++i) increment(store, args[2]);
        return 0;
    } catch (const micro::Error& e) {
        std::fprintf(stderr, "pg-store-peer: %s\n", e.describe().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pg-store-peer: %s\n", e.what());
        return 2;
    }
}
