#!/usr/bin/env bash
# Configure and build micro into ./build (executables in build/bin, plugins
# in build/lib/micro/plugins). Idempotent and incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${MICRO_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)"
