#!/bin/sh
# conformance.sh CONFORMANCE_BIN SLOT [ARGS...]
# Runs the conformance suite of SLOT (registry or store) against the
# micro-sqlite.so driver for it, on database files in a fresh temporary
# folder, so parallel runs never share state. Exits with the runner's code.
set -u
bin=$1
slot=$2
shift 2
dir=$(mktemp -d "${TMPDIR:-/tmp}/micro-sqlite-conformance.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
case $slot in
registry)
    printf '[registry]\nplugin = "micro-sqlite.so"\ndriver = "local"\npath = "%s/registry.db"\npoll_ms = 50\n' \
        "$dir" >"$dir/m.toml"
    ;;
store)
    printf '[store]\nplugin = "micro-sqlite.so"\ndriver = "file"\ndir = "%s/store"\n' \
        "$dir" >"$dir/m.toml"
    ;;
*)
    echo "conformance.sh: unknown slot '$slot' (registry or store)" >&2
    exit 2
    ;;
esac
"$bin" --manifest "$dir/m.toml" "$@"
