# Shared by the HTTP benchmark scripts (sourced, not run): a scratch
# directory and the processes started in it, cleaned up on exit; a free
# loopback port; greeter-server on the http transport; the baselines' nginx.
#
#   bench_init                      sets $work, traps the cleanup
#   free_port                       prints a free loopback port
#   greeter_manifest BUILD DIR IO   writes its manifest, DIR/m.toml (IO
#                                   empty: the transport's default io_threads)
#   start_greeter BUILD DIR IO      starts greeter-server (manifest in DIR),
#                                   sets $greeter_pid and $greeter_url
#   start_nginx BASELINES           starts nginx, sets $nginx_pid and $nginx_url

bench_init() {
  work=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}

bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

greeter_manifest() {  # BUILD DIR IO_THREADS: writes DIR/m.toml
  local build=$1 dir=$2 io=""
  mkdir -p "$dir"
  [ -n "$3" ] && io="io_threads = $3"
  cat >"$dir/m.toml" <<TOML
[registry]
plugin = "$build/lib/micro/plugins/micro-sqlite.so"
driver = "local"
path = "$dir/registry.db"
[transport]
plugin = "$build/lib/micro/plugins/micro-http.so"
driver = "http"
$io
[broker]
plugin = "$build/lib/micro/plugins/micro-memory.so"
driver = "memory"
TOML
}

start_greeter() {  # BUILD DIR IO_THREADS
  local build=$1 dir=$2
  greeter_manifest "$build" "$dir" "$3"
  "$build/bin/greeter-server" --manifest "$dir/m.toml" --address 127.0.0.1:0 \
    >"$dir/greeter.out" 2>"$dir/greeter.err" &
  greeter_pid=$!
  pids+=("$greeter_pid")
  for _ in $(seq 100); do grep -q listening "$dir/greeter.out" 2>/dev/null && break; sleep 0.1; done
  greeter_url="http://$(awk '{print $NF}' "$dir/greeter.out")/"
}

start_nginx() {  # BASELINES
  local port
  port=$(free_port)
  mkdir -p "$work/nginx"
  sed -e "s#@PORT@#$port#" -e "s#@DIR@#$work/nginx#g" "$1/http/nginx.conf.in" >"$work/nginx/nginx.conf"
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" >"$work/nginx/out" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  nginx_url="http://127.0.0.1:$port/"
}
