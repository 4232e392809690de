#!/usr/bin/env bash
# Server CPU per request, request rate and tail latency of greeter-server on
# the http transport, for one or more builds, against nginx, alternating run
# by run in one session: wrk -t2 -c64 with 64-byte JSON POSTs, as in
# http-vs-nginx.sh. CPU per request is the server's user + system time over
# the run (/proc/PID/stat) divided by the requests it served.
#
#   [IO_THREADS=N] [DURATION=S] tools/bench/http-cpu-per-request.sh REPS BUILD_DIR...
#
# Needs wrk and nginx (tools/install-deps.sh). Not a test.
set -euo pipefail
reps=${1:?usage: http-cpu-per-request.sh REPS BUILD_DIR...}
shift
[ $# -gt 0 ] || { echo "usage: http-cpu-per-request.sh REPS BUILD_DIR..." >&2; exit 2; }
io_threads=${IO_THREADS:-}  # empty: the transport's default
duration=${DURATION:-5}
here=$(cd "$(dirname "$0")" && pwd)
baselines=${BASELINES:-/work/shared/baselines}
# shellcheck source=http-bench-lib.sh
. "$here/http-bench-lib.sh"
bench_init
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ s += $1 } END { print s }'; }
hz=$(getconf CLK_TCK)

names=() urls=() servers=()
i=0
for build in "$@"; do
  build=$(cd "$build" && pwd)
  start_greeter "$build" "$work/s$i" "$io_threads"
  servers+=("$greeter_pid")
  urls+=("$greeter_url")
  names+=("$build")
  i=$((i + 1))
done
start_nginx "$baselines"
sleep 0.5
nginx_workers=$(pgrep -P "$nginx_pid" | tr '\n' ' ')

one() {  # name "pids" url script
  local before after line n d
  before=$(ticks $2)
  line=$(PAYLOAD=64 wrk -t2 -c64 -d"${duration}s" -s "$4" "$3" | grep '^RESULT')
  after=$(ticks $2)
  n=$(sed 's/.*requests=\([0-9]*\).*/\1/' <<<"$line")
  d=$(sed 's/.*duration_us=\([0-9]*\).*/\1/' <<<"$line")
  awk -v name="$1" -v t=$((after - before)) -v hz="$hz" -v n="$n" -v d="$d" -v rest="$line" 'BEGIN {
    match(rest, /p50_us=[0-9]+ p99_us=[0-9]+/)
    printf "%s cpu_us_per_request=%.2f qps=%.0f %s\n", name, t / hz * 1e6 / n, n / (d / 1e6), substr(rest, RSTART, RLENGTH) }'
}
echo "start $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$reps"); do
  for j in "${!names[@]}"; do one "${names[$j]}" "${servers[$j]}" "${urls[$j]}" "$here/wrk-greeter.lua"; done
  one nginx "$nginx_workers" "$nginx_url" "$baselines/http/post.lua"
done
echo "end $(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
