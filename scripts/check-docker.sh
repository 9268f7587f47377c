#!/usr/bin/env bash
# Checks docker/ as far as a machine without a container engine can: run by scripts/test.sh.
#
#   scripts/check-docker.sh [CORRAL_BINARY]     (default: build/release/proxy/corral)
#
# - every scripts/... the Dockerfile runs and every COPY source exists (and scripts are executable);
# - docker/corral.toml and config/corral.toml pass `corral --check-config`;
# - the runtime packages derived from the binary resolve (scripts/install-runtime-deps.sh --check),
#   which is exactly what the image's runtime stage installs;
# - the ports agree: listeners in docker/corral.toml, EXPOSE and compose.yaml; the admin endpoint's port,
#   EXPOSE and the HEALTHCHECK, which asks /ready;
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

# Config files must be valid for the binary that ships them, with the image's environment (ENV).
image_env=()
while read -r assignment; do image_env+=("$assignment"); done < <(sed -n 's/^ENV //p' "$dockerfile" | tr ' ' '\n' | grep '=')
if [ -x "$binary" ]; then
  out="$(env "${image_env[@]}" "$binary" --check-config --config "$config" 2>&1)" || fail "docker/corral.toml rejected: $out"
  out="$("$binary" --check-config --config "$root/config/corral.toml" 2>&1)" || fail "config/corral.toml rejected: $out"
  "$root/scripts/install-runtime-deps.sh" --check "$binary" || fail "runtime packages for $binary do not resolve"
else
  fail "no corral binary at $binary (build it with scripts/build.sh release)"
fi

# Ports: listeners (0.0.0.0:P) == compose's published ports; listeners and admin == EXPOSE; the
# HEALTHCHECK asks the admin port's /ready.
listen_ports="$(sed -n 's/^address *= *"0\.0\.0\.0:\([0-9]*\)".*/\1/p' "$config" | sort -n | tr '\n' ' ')"
admin_port="$(sed -n 's/^admin *= *"0\.0\.0\.0:\([0-9]*\)".*/\1/p' "$config")"
expose_ports="$(sed -n 's/^EXPOSE //p' "$dockerfile" | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')"
health_ports="$(grep -o '/dev/tcp/127.0.0.1/[0-9]*' "$dockerfile" | sed 's|.*/||' | sort -n | tr '\n' ' ')"
all_ports="$(echo "$listen_ports $admin_port" | tr ' ' '\n' | sed '/^$/d' | sort -n | tr '\n' ' ')"
compose_ports="$(grep -oE '"127\.0\.0\.1:[0-9]+:[0-9]+"' "$compose" | sed -E 's/.*:([0-9]+)"/\1/' | sort -n | tr '\n' ' ')"
[ -n "$listen_ports" ] || fail "docker/corral.toml has no listener on 0.0.0.0"
[ -n "$admin_port" ] || fail "docker/corral.toml has no admin endpoint on 0.0.0.0 (the HEALTHCHECK needs /ready)"
[ "$all_ports" = "$expose_ports" ] || fail "listener and admin ports ($all_ports) differ from EXPOSE ($expose_ports)"
[ "$admin_port " = "$health_ports" ] || fail "the HEALTHCHECK probes port(s) $health_ports, not the admin port $admin_port"
grep -A2 '^HEALTHCHECK' "$dockerfile" | grep -q "GET /ready" || fail "the HEALTHCHECK does not ask /ready"
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
