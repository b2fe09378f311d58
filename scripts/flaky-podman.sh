#!/usr/bin/env bash
# A podman that fails once: the call numbered FLAKY_FAIL_AT (counted in
# FLAKY_DIR) exits 125 as podman does on errors; every other call is real.
# scripts/faults.sh puts it in PODPROOF_PODMAN to inject a podman failure.
set -u
n=$(flock "$FLAKY_DIR/lock" sh -c 'n=$(( $(cat "$0/count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$0/count"; echo "$n"' "$FLAKY_DIR")
if [ "$n" = "${FLAKY_FAIL_AT:-0}" ]; then
  echo "Error: injected failure of call $n: podman $*" >&2
  exit 125
fi
exec podman "$@"
