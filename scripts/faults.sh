#!/usr/bin/env bash
# make faults: runs a realistic suite (fixtures/faults) FAULT_RUNS times (50 by
# default), injecting one random fault in each run, and counts the podman
# objects labelled podproof.dev/run left behind. The target is 0.
# Faults: SIGINT, SIGTERM or SIGKILL of podproof at a random moment (SIGKILL
# is followed by `podproof clean`), a container that crashes, a podman call
# that fails.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pp=${PODPROOF:-./target/release/podproof}
runs=${FAULT_RUNS:-50}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
leftovers() {
  { podman ps -a --filter label=podproof.dev/run --format '{{.Names}}'
    podman pod ps --filter label=podproof.dev/run --format '{{.Name}}'
    podman volume ls --filter label=podproof.dev/run --format '{{.Name}}'
    podman network ls --filter label=podproof.dev/run --format '{{.Name}}'; } 2>/dev/null | grep -c . || true
}
total=0
faults=(sigint sigterm sigkill crash podman)
for i in $(seq "$runs"); do
  fault=${faults[RANDOM % ${#faults[@]}]}
  case $fault in
    sigint|sigterm|sigkill)
      "$pp" test -j 3 fixtures/faults/suite.yaml >"$tmp/out" 2>&1 &
      pid=$!
      sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.3 + (r % 700) / 100 }')"
      kill "-${fault#sig}" "$pid" 2>/dev/null
      wait "$pid"
      [ "$fault" = sigkill ] && "$pp" clean >/dev/null 2>&1
      ;;
    crash)
      "$pp" test fixtures/faults/crash.yaml >"$tmp/out" 2>&1
      ;;
    podman)
      mkdir -p "$tmp/flaky" && rm -f "$tmp/flaky/count"
      FLAKY_DIR="$tmp/flaky" FLAKY_FAIL_AT=$((RANDOM % 25 + 1)) PODPROOF_PODMAN="$PWD/scripts/flaky-podman.sh" \
        "$pp" test -j 3 fixtures/faults/suite.yaml >"$tmp/out" 2>&1
      ;;
  esac
  left=$(leftovers)
  total=$((total + left))
  printf 'run %2d  %-8s leftovers %d\n' "$i" "$fault" "$left"
  if [ "$left" != 0 ]; then
    sed 's/^/    /' "$tmp/out" | tail -20
    "$pp" clean --all >/dev/null 2>&1
  fi
done
echo "fault injection: $runs runs, $total leaked objects"
[ "$total" = 0 ]
