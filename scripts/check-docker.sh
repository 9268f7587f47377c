#!/usr/bin/env bash
# Checks docker/ as far as a machine without a container engine can: run by scripts/test.sh.
#
#   scripts/check-docker.sh [CORRAL_BINARY]     (default: build/release/proxy/corral)
#
# - every scripts/... the Dockerfile runs and every COPY source exists (and scripts are executable);
# - docker/corral.toml and config/corral.toml pass `corral --check-config`;
# - the runtime packages derived from the binary resolve (scripts/install-runtime-deps.sh --check),
#   which is exactly what the image's runtime stage installs;
# - the ports agree: listeners in docker/corral.toml, EXPOSE, HEALTHCHECK and compose.yaml;
# - `docker compose config` validates compose.yaml when the compose plugin is installed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:-$root/build/release/proxy/corral}"
dockerfile="$root/docker/Dockerfile"
compose="$root/docker/compose.yaml"
config="$root/docker/corral.toml"
errors=0
fail() { echo "check-docker: $*" >&2; errors=$((errors + 1)); }

for f in "$dockerfile" "$compose" "$config"; do
  [ -f "$f" ] || fail "missing ${f#"$root"/}"
done

# Scripts the Dockerfile runs (from the repository, or copied to /tmp in the runtime stage).
while read -r script; do
  [ -x "$root/$script" ] || fail "Dockerfile runs $script, which is missing or not executable"
done < <(grep -o 'scripts/[A-Za-z0-9_.-]*\.sh' "$dockerfile" | sort -u)

# COPY sources from the build context (not --from=stage): every path must exist.
while read -r line; do
  read -r -a words <<< "$line"
  for ((i = 1; i < ${#words[@]} - 1; i++)); do
    [[ "${words[i]}" == --* ]] && continue
    [ -e "$root/${words[i]}" ] || fail "Dockerfile copies ${words[i]}, which does not exist"
  done
done < <(grep -E '^COPY ' "$dockerfile" | grep -v -- '--from=')

# Config files must be valid for the binary that ships them.
if [ -x "$binary" ]; then
  for c in "$config" "$root/config/corral.toml"; do
    out="$("$binary" --check-config --config "$c" 2>&1)" || fail "${c#"$root"/} rejected: $out"
  done
  "$root/scripts/install-runtime-deps.sh" --check "$binary" || fail "runtime packages for $binary do not resolve"
else
  fail "no corral binary at $binary (build it with scripts/build.sh release)"
fi

# Ports: listeners (0.0.0.0:P) == EXPOSE == HEALTHCHECK probes == compose's published ports.
listen_ports="$(sed -n 's/^address *= *"0\.0\.0\.0:\([0-9]*\)".*/\1/p' "$config" | sort -n | tr '\n' ' ')"
expose_ports="$(sed -n 's/^EXPOSE //p' "$dockerfile" | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')"
health_ports="$(grep -o '/dev/tcp/127.0.0.1/[0-9]*' "$dockerfile" | sed 's|.*/||' | sort -n | tr '\n' ' ')"
compose_ports="$(grep -oE '"127\.0\.0\.1:[0-9]+:[0-9]+"' "$compose" | sed -E 's/.*:([0-9]+)"/\1/' | sort -n | tr '\n' ' ')"
[ -n "$listen_ports" ] || fail "docker/corral.toml has no listener on 0.0.0.0"
[ "$listen_ports" = "$expose_ports" ] || fail "listener ports ($listen_ports) differ from EXPOSE ($expose_ports)"
[ "$listen_ports" = "$health_ports" ] || fail "listener ports ($listen_ports) differ from HEALTHCHECK ($health_ports)"
[ "$listen_ports" = "$compose_ports" ] || fail "listener ports ($listen_ports) differ from compose ports ($compose_ports)"
grep -q '^ENTRYPOINT \["corral", "--config", "/etc/corral/corral.toml"\]' "$dockerfile" ||
  fail "ENTRYPOINT does not run corral with /etc/corral/corral.toml"

if docker compose version > /dev/null 2>&1; then
  docker compose -f "$compose" config --quiet || fail "docker compose rejects compose.yaml"
else
  echo "check-docker: docker compose not installed; compose.yaml checked by the port test only" >&2
fi

if [ "$errors" -gt 0 ]; then
  echo "check-docker: $errors problem(s)" >&2
  exit 1
fi
echo "check-docker: docker/ is consistent (listener ports: $listen_ports)"
