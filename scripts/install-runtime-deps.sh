#!/usr/bin/env bash
# The Debian packages a built corral needs at run time, derived from the binary itself so the list
# cannot go stale: docker/Dockerfile computes it in the build stage and installs it in the runtime
# stage; scripts/test.sh runs --check on every release build, so CI exercises the same path.
#
#   scripts/install-runtime-deps.sh --list BINARY    print the packages owning BINARY's shared libraries
#   scripts/install-runtime-deps.sh --check BINARY   --list, then confirm apt can install them (simulated)
#   scripts/install-runtime-deps.sh --install FILE   install the packages listed in FILE (one per line)
set -euo pipefail

usage() {
  echo "usage: $0 --list BINARY | --check BINARY | --install FILE" >&2
  exit 64
}
[ $# -eq 2 ] || usage

# owner PATH: the package that installed PATH (tries the /usr-merged twin path too).
owner() {
  local path="$1" alt pkg
  case "$path" in
    /usr/*) alt="${path#/usr}" ;;
    *) alt="/usr$path" ;;
  esac
  for p in "$path" "$alt" "$(readlink -f "$path")"; do
    if pkg="$(dpkg-query -S "$p" 2>/dev/null)"; then
      echo "${pkg%%:*}"   # "libfmt9:amd64: /usr/lib/..." -> libfmt9
      return 0
    fi
  done
  echo "install-runtime-deps: no Debian package owns $path" >&2
  return 1
}

list_packages() {
  local binary="$1" libs
  [ -x "$binary" ] || { echo "install-runtime-deps: $binary is not an executable; build it first" >&2; exit 1; }
  libs="$(ldd "$binary")"
  if grep -q 'not found' <<< "$libs"; then
    echo "install-runtime-deps: $binary has unresolved libraries:" >&2
    grep 'not found' <<< "$libs" >&2
    exit 1
  fi
  # "libfmt.so.9 => /lib/x86_64-linux-gnu/libfmt.so.9 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
  awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<< "$libs" |
    while read -r lib; do owner "$lib"; done | sort -u
}

case "$1" in
  --list)
    list_packages "$2" ;;
  --check)
    packages="$(list_packages "$2")"
    [ -n "$packages" ] || { echo "install-runtime-deps: no packages found for $2" >&2; exit 1; }
    # shellcheck disable=SC2086  # one package name per word
    apt-get install --simulate --no-install-recommends $packages > /dev/null
    echo "install-runtime-deps: $2 needs: $(tr '\n' ' ' <<< "$packages")" ;;
  --install)
    [ -r "$2" ] || { echo "install-runtime-deps: cannot read $2" >&2; exit 1; }
    mapfile -t packages < <(grep -v '^[[:space:]]*\(#\|$\)' "$2")
    [ ${#packages[@]} -gt 0 ] || { echo "install-runtime-deps: $2 lists no packages" >&2; exit 1; }
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}"
    $sudo rm -rf /var/lib/apt/lists/* ;;
  *)
    usage ;;
esac
