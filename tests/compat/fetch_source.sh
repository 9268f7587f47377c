#!/usr/bin/env bash
# Downloads and unpacks the Debian 12 source package of a peer (its upstream tarball), without
# touching the system's apt configuration: a private sources list and lists directory under DEST.
#
#   tests/compat/fetch_source.sh PACKAGE DEST     e.g. tests/compat/fetch_source.sh redis build/compat
#
# Prints the unpacked source directory (DEST/PACKAGE-src). Idempotent: an unpacked tree is reused.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 PACKAGE DEST" >&2; exit 64; }
package="$1"
mkdir -p "$2"
dest="$(cd "$2" && pwd)"
tree="$dest/$package-src"
if [ -f "$tree/.unpacked" ]; then
  echo "$tree"
  exit 0
fi

apt_dir="$dest/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/download"
# The same archives the machine installs binaries from (bookworm, its updates and security), as deb-src.
cat > "$apt_dir/sources.list" <<EOF
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
EOF
apt_options=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$apt_dir/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${apt_options[@]}" -qq update >&2
(cd "$apt_dir/download" && apt-get "${apt_options[@]}" -qq source --download-only "$package" >&2)

tarball="$(find "$apt_dir/download" -maxdepth 1 -name "${package}_*.orig.tar.*" | sort | tail -n 1)"
[ -n "$tarball" ] || { echo "fetch_source: no upstream tarball of $package was downloaded" >&2; exit 1; }
rm -rf "$tree"
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
touch "$tree/.unpacked"
echo "$tree"
