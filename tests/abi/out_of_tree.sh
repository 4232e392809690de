#!/usr/bin/env bash
# out_of_tree.sh BUILD_DIR SCRATCH_DIR
#
# Proves that an installed micro is enough to build and load a plugin:
#   1. cmake --install BUILD_DIR into SCRATCH_DIR/prefix;
#   2. configure and build examples/out-of-tree-plugin against that prefix
#      alone, with another compiler than the one that built micro when one
#      is installed (override with MICRO_OOT_CC / MICRO_OOT_CXX);
#   3. check the plugin exports only micro_plugin_entry;
#   4. run the installed `micro plugins inspect` and `micro plugins check`
#      on it and require both to succeed and to name the driver.
# Exits non-zero with one clear line on the first failure.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 MICRO_BUILD_DIR SCRATCH_DIR" >&2
    exit 2
fi

fail() {
    echo "abi.out_of_tree: FAILED: $*" >&2
    exit 1
}

# Show a step's log, then fail.
fail_with_log() {
    local log=$1
    shift
    echo "---- $log" >&2
    tail -n 60 "$log" >&2 || true
    fail "$@"
}

[[ -f $1/CMakeCache.txt ]] || fail "'$1' is not a configured CMake build directory"
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
example=$(cd "$here/../../examples/out-of-tree-plugin" && pwd)

rm -rf "$2"
mkdir -p "$2"
scratch=$(cd "$2" && pwd)
prefix=$scratch/prefix
case $scratch in
    *\"* | *\\*) fail "scratch path '$scratch' cannot be written into a TOML string" ;;
esac

# Nothing from the caller's environment may steer plugin or manifest lookup.
unset MICRO_MANIFEST MICRO_PLUGIN_PATH

# ---- 1. install
echo "== install $build -> $prefix"
cmake --install "$build" --prefix "$prefix" >"$scratch/install.log" 2>&1 ||
    fail_with_log "$scratch/install.log" "cmake --install '$build' failed"
[[ -f $prefix/include/micro/abi.h ]] || fail "the install has no include/micro/abi.h"
micro=$prefix/bin/micro
[[ -x $micro ]] || fail "the install has no bin/micro"

# ---- 2. configure and build the example against the install only
compilers=()
if [[ -n ${MICRO_OOT_CXX:-} ]]; then
    compilers=(-DCMAKE_C_COMPILER="${MICRO_OOT_CC:-cc}" -DCMAKE_CXX_COMPILER="$MICRO_OOT_CXX")
else
    core_cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
    if [[ $core_cxx != *clang* ]] && command -v clang++ >/dev/null && command -v clang >/dev/null; then
        compilers=(-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++)
    elif [[ $core_cxx == *clang* ]] && command -v g++ >/dev/null && command -v gcc >/dev/null; then
        compilers=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++)
    fi
fi
echo "== configure $example ${compilers[*]}"
cmake -S "$example" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" "${compilers[@]}" >"$scratch/configure.log" 2>&1 ||
    fail_with_log "$scratch/configure.log" "configuring the out-of-tree example failed"
echo "== build"
cmake --build "$scratch/build" -j2 >"$scratch/build.log" 2>&1 ||
    fail_with_log "$scratch/build.log" "building the out-of-tree example failed"
so=$scratch/build/hello-store.so
[[ -f $so ]] || fail "the build produced no $so"

# ---- 3. only the entry symbol is exported
if command -v nm >/dev/null; then
    exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u | tr '\n' ' ')
    [[ $exported == "micro_plugin_entry " ]] ||
        fail "$so exports '$exported', expected only micro_plugin_entry"
fi

# ---- 4. the installed tool inspects and loads it
manifest=$scratch/plugins.toml
cat >"$manifest" <<EOF
[store]
plugin = "$so"
driver = "hello"
EOF

echo "== micro plugins inspect $so"
out=$("$micro" plugins inspect "$so" 2>&1) || {
    echo "$out" >&2
    fail "'micro plugins inspect $so' exited non-zero"
}
echo "$out"
grep -q "hello" <<<"$out" || fail "'micro plugins inspect' does not mention the driver 'hello'"

echo "== micro plugins check --manifest $manifest"
out=$("$micro" plugins check --manifest "$manifest" 2>&1) || {
    echo "$out" >&2
    fail "'micro plugins check --manifest $manifest' exited non-zero"
}
echo "$out"
grep -q "hello" <<<"$out" || fail "'micro plugins check' does not mention the driver 'hello'"

echo "abi.out_of_tree: OK"
