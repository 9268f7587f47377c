#!/usr/bin/env bash
# Installs everything corral needs to build, test and benchmark, from Debian 12 packages only.
# Idempotent: packages already present are skipped, so every other script may call it first.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config ninja-build
  # libraries (find_package / pkg-config)
  libhiredis-dev default-libmysqlclient-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libssl-dev liburing-dev zlib1g-dev
  # fuzzing (libFuzzer ships with clang)
  clang libclang-rt-14-dev
  # real servers and clients for tests and benchmarks
  redis-server redis-tools mariadb-server mariadb-client sysbench
  # tests/compat/mysql_compat.py: mysql-test-run and mariadb-client-test
  mariadb-test
  # reference proxies for benchmarks
  nutcracker haproxy
  # process inspection used by tests and benchmarks
  procps shellcheck
  # TLS tests and benchmarks make their certificates with the openssl CLI
  openssl
  # tests/compat: Redis's own test suite is Tcl
  tcl
  # the admin dashboard's test renders it in a real headless browser
  chromium
  # bench/: results.py (standard library only)
  python3
  # tests/clients: real client libraries against corral (redis-py; ioredis and node-redis through npm)
  python3-redis nodejs
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Debian packages npm apart from nodejs; a nodejs built elsewhere may bring its own.
command -v npm > /dev/null || missing+=(npm)

# The Node client libraries, exactly as tests/clients/node/package-lock.json pins them.
node_packages() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/clients/node"
  if [ ! "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund)
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  node_packages
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# --no-install-recommends keeps the image small; policy-rc.d stops the packages' own services
# from starting (tests and the run script start their own servers on their own ports).
if [ ! -e /usr/sbin/policy-rc.d ] && [ -z "$sudo" ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
node_packages
