#!/usr/bin/env bash
# The first command of the README: install, build, and run the demo on the
# embedded defaults of ./plugins.toml (no servers to run): the quickstart
# (store, broker, lock), then two greeter processes found through the local
# registry, called with `micro call`, sent an event with `micro publish`,
# then stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
bin=build/bin
manifest=plugins.toml

echo
echo "== micro plugins check --manifest $manifest"
$bin/micro plugins check --manifest "$manifest"
echo
echo "== micro-quickstart --manifest $manifest"
$bin/micro-quickstart --manifest "$manifest"

echo
echo "== two greeter processes"
logs=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$logs"
}
trap cleanup EXIT
for i in 1 2; do
  $bin/greeter-server --manifest "$manifest" >"$logs/greeter$i.out" 2>"$logs/greeter$i.err" &
  pids+=($!)
done
for i in 1 2; do
  for _ in $(seq 100); do grep -q listening "$logs/greeter$i.out" && break; sleep 0.1; done
  cat "$logs/greeter$i.out"
done
echo
echo "== micro services"
$bin/micro services --manifest "$manifest"
echo
echo "== micro describe greeter"
$bin/micro describe greeter --manifest "$manifest"
echo
echo "== micro call greeter Greeter.Hello '{\"name\": \"micro\"}'"
$bin/micro call greeter Greeter.Hello '{"name": "micro"}' --manifest "$manifest"
echo
echo "== greeter-client --count 4 (load balanced over both nodes)"
$bin/greeter-client --manifest "$manifest" --count 4
echo
echo "== micro publish greeter.welcome '{\"name\": \"Ada\"}' (one greeter of the group gets it)"
$bin/micro publish greeter.welcome '{"name": "Ada"}' --manifest "$manifest"
for _ in $(seq 100); do grep -qh "welcome Ada" "$logs"/greeter*.out && break; sleep 0.1; done
grep -h "welcome Ada" "$logs"/greeter*.out
echo
echo "== stopping the greeters (SIGTERM: deregister, drain, exit)"
for pid in "${pids[@]}"; do kill -TERM "$pid"; done
for pid in "${pids[@]}"; do wait "$pid"; done
pids=()
echo "services left: $($bin/micro services --manifest "$manifest" | wc -l)"
