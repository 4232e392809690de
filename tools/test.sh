#!/usr/bin/env bash
# The second command of the README: install, build, and run every test
# through ctest. Servers that tests need are started by the tests' own
# fixtures on free loopback ports. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
ctest --test-dir build -j"$(nproc)" --output-on-failure --timeout 300
