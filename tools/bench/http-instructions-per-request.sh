#!/usr/bin/env bash
# User-space instructions per request of greeter-server on the http
# transport, counted by callgrind: a figure that machine noise does not move,
# for comparing builds when the CPU-time benchmarks cannot tell 5% apart.
# The server runs under valgrind with instrumentation off until it is warm;
# then wrk (1 thread, 8 connections, the 64-byte JSON POST of
# http-vs-nginx.sh) runs for 4 s with counting on. Prints the requests served
# and the instructions per request; with OUT given, keeps the callgrind file
# (OUT) for callgrind_annotate, and the request count (OUT.requests).
#
#   tools/bench/http-instructions-per-request.sh BUILD_DIR [OUT]
#
# Needs valgrind and wrk (tools/install-deps.sh). Not a test.
set -euo pipefail
build=$(cd "${1:?usage: http-instructions-per-request.sh BUILD_DIR [OUT]}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=http-bench-lib.sh
. "$here/http-bench-lib.sh"
bench_init
out=${2:-$work/callgrind.out}
dir=$work/server
greeter_manifest "$build" "$dir" 2
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  "$build/bin/greeter-server" --manifest "$dir/m.toml" --address 127.0.0.1:0 \
  >"$dir/out" 2>"$dir/err" &
server=$!
pids+=("$server")
for _ in $(seq 300); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
url="http://$(awk '{print $NF}' "$dir/out")/"
wrk -t1 -c8 -d2s -s "$here/wrk-greeter.lua" "$url" >/dev/null  # warm: buffers, caches, first calls
callgrind_control -i on "$server" >/dev/null 2>&1
requests=$(wrk -t1 -c8 -d4s -s "$here/wrk-greeter.lua" "$url" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
callgrind_control -i off "$server" >/dev/null 2>&1
kill "$server"
wait "$server" 2>/dev/null || true
total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$requests" >"$out.requests"
echo "$build requests=$requests instructions_per_request=$((total / requests))"
