#!/usr/bin/env bash
# The chainsaw conformance count: podproof over a checkout of kyverno/chainsaw
# (its testdata/e2e/examples), given as the first argument; the checkout is
# read, never copied into this repository.
#
#   scripts/chainsaw-conformance.sh CHECKOUT          read every example (no cluster needed)
#   scripts/chainsaw-conformance.sh CHECKOUT --run    also run them (-j 2) under the shared
#                                                     podman lock, and count the outcomes
#
# PODPROOF names the binary (default: ./target/debug/podproof, built here);
# EXAMPLES the directory inside the checkout (default: testdata/e2e/examples).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
checkout=${1:?usage: scripts/chainsaw-conformance.sh CHECKOUT [--run]}
examples="$checkout/${EXAMPLES:-testdata/e2e/examples}"
[ -d "$examples" ] || { echo "no directory $examples" >&2; exit 2; }
if [ -z "${PODPROOF:-}" ]; then
  cargo build --quiet
  PODPROOF=./target/debug/podproof
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Reading: every test must read without error (exit 2 with file:line:column otherwise).
"$PODPROOF" test --list "$examples" >"$tmp/list" 2>"$tmp/warnings"
read_count=$(wc -l <"$tmp/list")
echo "read: $read_count tests under $examples, none refused"
if [ -s "$tmp/warnings" ]; then
  echo "what podproof does not honour in them:"
  sed 's/^/  /' "$tmp/warnings"
fi
[ "${2:-}" = "--run" ] || exit 0

# Running: one JSON report, counted per outcome.
lock=${PODMAN_LOCK:-/work/briefing/podman.lock}
if [ -e "$lock" ]; then
  flock "$lock" "$PODPROOF" test -j 2 --report "json=$tmp/report.json" "$examples" >"$tmp/out" 2>&1 || true
else
  "$PODPROOF" test -j 2 --report "json=$tmp/report.json" "$examples" >"$tmp/out" 2>&1 || true
fi
[ -s "$tmp/report.json" ] || { cat "$tmp/out" >&2; echo "no report was written" >&2; exit 1; }
python3 - "$tmp/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for t in r["tests"]:
    why = ""
    if t["outcome"] != "passed":
        why = (t.get("failure") or next((s["message"] for s in t["steps"] if s.get("message")), "") or "").splitlines()[:1]
        why = f"  ({why[0]})" if why else ""
    print(f'{t["outcome"]:8} {t["name"]}{why}')
print(f'{r["passed"]} passed, {r["failed"]} failed, {r["skipped"]} skipped')
PY
