#!/bin/sh
# conformance.sh CONFORMANCE_BIN SQLITE_PLUGIN TCP_PLUGIN DIRECT_PLUGIN [ARGS...]
# Runs the broker conformance suite against the direct broker, with the local
# registry on a database in a fresh temporary folder (parallel runs never
# share nodes) and the tcp transport. Exits with the runner's code.
set -u
bin=$1
sqlite=$2
tcp=$3
direct=$4
shift 4
dir=$(mktemp -d "${TMPDIR:-/tmp}/micro-direct-conformance.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
cat >"$dir/m.toml" <<TOML
[registry]
plugin = "$sqlite"
driver = "local"
path = "$dir/registry.db"
poll_ms = 50

[transport]
plugin = "$tcp"
driver = "tcp"

[broker]
plugin = "$direct"
driver = "direct"
TOML
"$bin" --manifest "$dir/m.toml" -ts=broker "$@"
