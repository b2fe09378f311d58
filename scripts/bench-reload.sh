#!/usr/bin/env bash
# Reload latency: the median time from a config change to the evidence that the
# new config is in effect (quiet window included), for the Prometheus (HTTP),
# nginx (SIGHUP), PostgreSQL (SIGHUP) and HAProxy (SIGUSR2) fixtures (target < 0.5 s).
# Called by scripts/bench.sh; prints its rows of the table.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pp=./target/release/podproof
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$pp" test -j 2 --report "json=$tmp/r.json" fixtures/bench/reload.yaml >/dev/null 2>&1 || { echo "reload benchmark failed" >&2; exit 1; }
python3 - "$tmp/r.json" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
for t in r["tests"]:
    ms = [s["reload_ms"] for s in t["steps"] if s["reload_ms"] is not None and s["outcome"] == "passed"]
    app = t["name"].replace("bench-reload-", "")
    print("%-44s %-10s %s" % ("reload latency, " + app, "< 0.5 s", "%.3fs (median of %d)" % (statistics.median(ms) / 1000, len(ms))))
PY
