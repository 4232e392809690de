#!/usr/bin/env bash
# The first command of the README: install, build, and run the demo on the
# embedded defaults of ./plugins.toml (no servers needed).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
echo
echo "== micro plugins check --manifest plugins.toml"
build/bin/micro plugins check --manifest plugins.toml
echo
echo "== micro-quickstart --manifest plugins.toml"
build/bin/micro-quickstart --manifest plugins.toml
