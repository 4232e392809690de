#!/usr/bin/env bash
# The http transport against nginx, in the same run: wrk (2 threads, 64
# connections, 64-byte POST bodies) against greeter-server's Greeter.Hello
# over the http transport (tools/bench/wrk-greeter.lua), and against nginx
# returning a fixed response (the baseline's config and post.lua), repeated
# alternately. Prints one RESULT line per run and the medians.
#
#   [IO_THREADS=N] tools/bench/http-vs-nginx.sh BUILD_DIR [REPS] [DURATION_S]
#
# Needs wrk and nginx (tools/install-deps.sh). Not a test.
set -euo pipefail
build=${1:?usage: http-vs-nginx.sh BUILD_DIR [REPS] [DURATION_S]}
reps=${2:-5}
duration=${3:-5}
io_threads=${IO_THREADS:-}  # empty: the transport's default
here=$(cd "$(dirname "$0")" && pwd)
baselines=${BASELINES:-/work/shared/baselines}
build=$(cd "$build" && pwd)
# shellcheck source=http-bench-lib.sh
. "$here/http-bench-lib.sh"
bench_init
start_greeter "$build" "$work/greeter" "$io_threads"
start_nginx "$baselines"

run() {  # name url script
  PAYLOAD=64 wrk -t2 -c64 -d"${duration}s" -s "$3" "$2" | grep '^RESULT' |
    awk -v n="$1" '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "%s qps=%.0f p50_us=%d p99_us=%d errors=%d\n", n,
        v["requests"] / (v["duration_us"] / 1e6), v["p50_us"], v["p99_us"], v["errors"] }'
}
# Warm-up, thrown away.
PAYLOAD=64 wrk -t2 -c64 -d1s -s "$here/wrk-greeter.lua" "$greeter_url" >/dev/null
PAYLOAD=64 wrk -t2 -c64 -d1s -s "$baselines/http/post.lua" "$nginx_url" >/dev/null
for _ in $(seq "$reps"); do
  run micro-http "$greeter_url" "$here/wrk-greeter.lua" | tee -a "$work/results"
  run nginx "$nginx_url" "$baselines/http/post.lua" | tee -a "$work/results"
done
awk '
  function med(s,   a, n, i, j, t) { n = split(s, a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
      t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    q[$1] = q[$1] " " v["qps"]; p50[$1] = p50[$1] " " v["p50_us"]; p99[$1] = p99[$1] " " v["p99_us"] }
  END {
    for (k in q) printf "median %s qps=%.0f p50_us=%.0f p99_us=%.0f\n", k, med(q[k]), med(p50[k]), med(p99[k])
    printf "ratio micro-http/nginx qps=%.2f\n", med(q["micro-http"]) / med(q["nginx"]) }' "$work/results"
