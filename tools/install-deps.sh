#!/usr/bin/env bash
# Install the Debian 12 packages micro builds, tests and benchmarks with.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail

packages=(
  cmake g++ clang ninja-build pkg-config git
  libboost-dev capnproto libcapnp-dev libfmt-dev libtomlplusplus-dev libssl-dev
  libhiredis-dev libpqxx-dev libsqlite3-dev doctest-dev libbenchmark-dev
  redis-server redis-tools postgresql curl
  wrk nginx-light  # benchmarks only: tools/bench/http-vs-nginx.sh
  valgrind  # benchmarks only: tools/bench/http-instructions-per-request.sh
  libnats-dev nats-server
)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
echo "install-deps: done"
