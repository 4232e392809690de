// tools/bench/rpc_bench.hpp — `micro-bench rpc` and `micro-bench rpc-server`:
// unary echo over the tcp transport on loopback.
//
// rpc: a closed loop. --concurrency calls stay in flight through one
// micro::Client (Client::callAsync, each call re-issued from its own
// completion), each carrying --payload bytes of application/octet-stream to
// the raw endpoint "Echo.Echo" of the service "bench", which returns the
// body. Unless --address names a running server, it starts `micro-bench
// rpc-server` as a child process (handlers inline on the transport's 2 I/O
// threads), and the client finds it through the registry, as a service
// would (each call then hits the client's discovery cache). By default both
// use a temporary manifest: registry micro-sqlite.so "local" on a database
// in a temporary directory, transport micro-tcp.so "tcp" with io_threads =
// 2. Every call's latency (steady_clock, issue to completion) is recorded;
// calls completing in the --duration seconds after --warmup are counted.
// Prints one line: "rpc qps=... p50_us=... p99_us=... conc=C payload=P".
//
// rpc-server: the echo service alone; prints its bound address on a line,
// serves until SIGINT/SIGTERM.
#pragma once

#include <span>

namespace micro::bench {

/// Both return the exit status: 0, 1 (the run failed), 2 (bad flags; throws
/// UsageError for main to print).
int rpcMain(std::span<char* const> args);
int rpcServerMain(std::span<char* const> args);

extern const char* const kRpcUsage;
extern const char* const kRpcServerUsage;

}  // namespace micro::bench
