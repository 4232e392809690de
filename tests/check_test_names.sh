#!/usr/bin/env bash
# ctest registers each doctest case by name, and CMake splits names at ';'.
# A split name matches no case, and doctest exits 0 when a filter matches
# nothing, so such a test would pass without running. Refuse those names.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bad=$(grep -rnE 'TEST_CASE\("[^"]*;' "$root/tests" --include='*.cpp' || true)
if [ -n "$bad" ]; then
  echo "test names must not contain ';' (ctest would split them and run nothing):"
  echo "$bad"
  exit 1
fi
echo "test names ok"
