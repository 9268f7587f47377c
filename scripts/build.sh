#!/usr/bin/env bash
# Configures and builds corral in build/<mode> with Ninja.
#
#   scripts/build.sh [release|asan|fuzz|debug] [extra cmake -D options...]
#
#   release  -DCMAKE_BUILD_TYPE=Release                        (what scripts/run.sh and docker/ use)
#   asan     Debug + -DCORRAL_SANITIZE=address,undefined        (the sanitizer run of scripts/test.sh)
#   fuzz     clang++, -DCORRAL_FUZZ=ON + ASan/UBSan              (libFuzzer binaries)
#   debug    -DCMAKE_BUILD_TYPE=Debug
#
# Warnings are errors in every mode (-DCORRAL_WERROR=ON): the toolchain is pinned by Debian 12, so a
# local build and CI see the same warnings. CORRAL_WERROR=OFF in the environment turns it off.
# CORRAL_BUILD_TARGETS="a b" builds only those targets. Idempotent: re-running re-configures in place.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode="${1:-release}"
if [ $# -gt 0 ]; then shift; fi

"$root/scripts/install-deps.sh"

args=(-G Ninja -DCORRAL_WERROR="${CORRAL_WERROR:-ON}")
case "$mode" in
  release) args+=(-DCMAKE_BUILD_TYPE=Release) ;;
  debug) args+=(-DCMAKE_BUILD_TYPE=Debug) ;;
  asan) args+=(-DCMAKE_BUILD_TYPE=Debug "-DCORRAL_SANITIZE=address,undefined") ;;
  fuzz)
    args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++
           -DCORRAL_FUZZ=ON "-DCORRAL_SANITIZE=address,undefined") ;;
  *)
    echo "usage: $0 [release|asan|fuzz|debug] [cmake options...]" >&2
    exit 64 ;;
esac

build_dir="$root/build/$mode"
echo "build.sh: configuring $mode in ${build_dir#"$root"/}" >&2
cmake -S "$root" -B "$build_dir" "${args[@]}" "$@"

targets=()
if [ -n "${CORRAL_BUILD_TARGETS:-}" ]; then
  read -r -a list <<< "$CORRAL_BUILD_TARGETS"
  targets=(--target "${list[@]}")
fi
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
echo "build.sh: $mode build ready in ${build_dir#"$root"/}" >&2
