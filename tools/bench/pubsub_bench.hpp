// tools/bench/pubsub_bench.hpp — `micro-bench pubsub`: publishers and one
// subscriber on the broker a manifest selects, measured end to end.
//
// --publishers threads each publish --payload-byte messages to one topic in
// a closed loop (each waits for its publish to complete, as the engines' own
// benchmark clients wait for each reply). --subscribers subscriptions (one
// queue group when --group is given, else each gets every message) count
// what arrives; every message carries its send time in a header, so the
// latency is publish-call start to handler entry (one process, one clock).
// Prints one line:
//   "pubsub published=... delivered=... p50_us=... p99_us=... pub=N payload=P"
// where published and delivered are per second over the measured window.
#pragma once

#include <span>

namespace micro::bench {

/// Returns the exit status: 0, 1 (the run failed), 2 (bad flags; throws
/// UsageError for main to print).
int pubsubMain(std::span<char* const> args);

extern const char* const kPubsubUsage;

}  // namespace micro::bench
