#!/usr/bin/env bash
# cmake --install of a configured build, staged with DESTDIR: the daemon, the systemd unit (Type=notify,
# paths of the install prefix), the example configuration, and a configuration already there kept.
#
#   tests/packaging/install_test.sh BUILD_DIR
set -euo pipefail

build="$1"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")"

fail() { echo "install_test: $*" >&2; exit 1; }

DESTDIR="$stage" cmake --install "$build" > /dev/null
bin="$stage$prefix/bin/corral"
unit="$stage$prefix/lib/systemd/system/corral.service"
[ -x "$bin" ] || fail "no executable $bin"
[ -f "$unit" ] || fail "no unit $unit"
[ -f "$stage$prefix/share/doc/corral/corral.toml.example" ] || fail "no example configuration"
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -q "^ExecReload=.*-HUP" "$unit" || fail "the unit does not reload with SIGHUP"
config="$(sed -n 's/^ExecStart=.* --config //p' "$unit")"
[ -f "$stage$config" ] || fail "the unit's configuration $config was not installed"
grep -q "^ExecStart=$prefix/bin/corral " "$unit" || fail "ExecStart does not run $prefix/bin/corral"
"$bin" --check-config --config "$stage$config" > /dev/null || fail "the installed configuration does not check"

echo "# edited by the operator" >> "$stage$config"
DESTDIR="$stage" cmake --install "$build" > /dev/null
tail -n 1 "$stage$config" | grep -q "edited by the operator" || fail "a second install overwrote the configuration"
echo "install_test: ok ($prefix)"
