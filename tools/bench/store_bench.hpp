// tools/bench/store_bench.hpp — `micro-bench store`: closed-loop reads or
// writes against the store a manifest selects.
//
// --concurrency threads each loop on their own keys (16 bytes, "tTTTTkKKKKKKKKKK"
// in hex) in the table "bench" of the store's default database: `read` is
// Store::scan of one exact key (no copy; the keys are written first),
// `write` is Store::writeView of --value-size bytes (unconditional). Every
// operation's latency (steady_clock) is recorded; operations completing in
// the --duration seconds after --warmup are counted.
// Prints one line: "store op=read ops=... p50_us=... p99_us=... conc=C value=V"
// where ops is operations per second over the measured window.
#pragma once

#include <span>

namespace micro::bench {

/// Returns the exit status: 0, 1 (the run failed), 2 (bad flags; throws
/// UsageError for main to print).
int storeMain(std::span<char* const> args);

extern const char* const kStoreUsage;

}  // namespace micro::bench
