#!/usr/bin/env bash
# The API gateway against nginx, in the same run: wrk (2 threads, 64
# connections, a 64-byte JSON POST) against `micro api` in front of
# greeter-server over the tcp transport, and against nginx answering a fixed
# body (the baselines' nginx.conf.in). Runs alternate, REPS each; prints
# every run's requests/s and the median ratio.
#
#   tools/bench/gateway_bench.sh BUILD_DIR [BASELINES_DIR]
# Knobs (environment): DURATION (s, default 5), REPS (default 3),
# API_THREADS (gateway I/O threads, default 2). Greeter.Hello is marked
# non-blocking, so it runs on the greeter's transport threads.
set -euo pipefail

BUILD=$(cd "${1:?usage: gateway_bench.sh BUILD_DIR [BASELINES_DIR]}" && pwd)
BASELINES=${2:-/work/shared/baselines}
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-5}
REPS=${REPS:-3}
API_THREADS=${API_THREADS:-2}
export PATH=$PATH:/usr/sbin

W=$(mktemp -d)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    [[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return; }
  done
  return 1
}
wait_listening() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

cat >"$W/m.toml" <<TOML
[registry]
plugin = "micro-sqlite.so"
driver = "local"
path = "$W/registry.db"
[transport]
plugin = "micro-tcp.so"
driver = "tcp"
[broker]
plugin = "micro-memory.so"
driver = "memory"
TOML

"$BUILD/bin/greeter-server" --manifest "$W/m.toml" >"$W/greeter.out" 2>"$W/greeter.err" &
PIDS+=($!)
API_PORT=$(free_port)
"$BUILD/bin/micro" api --manifest "$W/m.toml" --address "127.0.0.1:$API_PORT" \
  --threads "$API_THREADS" >"$W/api.out" 2>"$W/api.err" &
PIDS+=($!)
wait_listening "$API_PORT"
curl -sf -X POST -d '{"name":"warm"}' "http://127.0.0.1:$API_PORT/greeter/hello" >/dev/null

NGINX_PORT=$(free_port)
mkdir -p "$W/nginx"
sed -e "s#@PORT@#$NGINX_PORT#" -e "s#@DIR@#$W/nginx#g" "$BASELINES/http/nginx.conf.in" \
  >"$W/nginx/nginx.conf"
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" >"$W/nginx/out" 2>&1 &
PIDS+=($!)
wait_listening "$NGINX_PORT"

run() {  # name url
  local line rps
  line=$(wrk -t2 -c64 -d"${DURATION}s" -s "$HERE/gateway_post.lua" "$2" | grep '^RESULT')
  rps=$(echo "$line" | awk '{split($2,a,"="); split($3,b,"="); printf "%.0f", a[2] / (b[2] / 1e6)}')
  echo "$1 rps=$rps $line" >&2
  echo "$rps"
}

# Warm-up, not counted.
wrk -t2 -c64 -d1s -s "$HERE/gateway_post.lua" "http://127.0.0.1:$API_PORT/greeter/hello" >/dev/null
wrk -t2 -c64 -d1s -s "$HERE/gateway_post.lua" "http://127.0.0.1:$NGINX_PORT/" >/dev/null

api=() ngx=()
for _ in $(seq "$REPS"); do
  api+=("$(run gateway "http://127.0.0.1:$API_PORT/greeter/hello")")
  ngx+=("$(run nginx "http://127.0.0.1:$NGINX_PORT/")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ma=$(median "${api[@]}")
mn=$(median "${ngx[@]}")
echo "gateway median rps=$ma  nginx median rps=$mn  ratio=$(awk -v a="$ma" -v n="$mn" 'BEGIN {printf "%.2f", a / n}')"
