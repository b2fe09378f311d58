#!/usr/bin/env bash
# The podman driver, API against CLI (part of `make bench`; runs alone as well):
# - per call: inspect, exec, play and stop as podproof makes them, read from
#   PODPROOF_TRACE=1 lines of `podproof test fixtures/bench/hello.yaml` (median
#   over the runs; an API exec is its create, start and inspect requests together);
# - the overhead of `podproof test` on the same scenario against
#   scripts/bench-plain.sh, with each driver.
# "api" is a run that starts its own service (its first calls wait up to 150 ms
# for it, then go through the CLI until it answers); "api-warm" uses a service that is already running
# (another run's, or one named with --url), started here on a private socket.
# It uses the built binary (PODPROOF, default target/release/podproof) and builds nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pp=${PODPROOF:-./target/release/podproof}
runs=${BENCH_RUNS:-7}
tmp=$(mktemp -d)
svc=
trap '[ -n "$svc" ] && kill "$svc"; rm -rf "$tmp"' EXIT
podman system service --time=0 "unix://$tmp/warm.sock" >/dev/null 2>&1 &
svc=$!
until curl -sf --unix-socket "$tmp/warm.sock" http://d/v4.0.0/libpod/_ping >/dev/null; do sleep 0.05; done

now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Warm podman's caches so no side pays for the first run.
scripts/bench-plain.sh >/dev/null 2>&1
"$pp" test fixtures/bench/hello.yaml >/dev/null 2>&1

: > "$tmp/plain"
for d in api api-warm cli; do : > "$tmp/total-$d"; : > "$tmp/trace-$d"; done
for _ in $(seq "$runs"); do
  s=$(now); scripts/bench-plain.sh >/dev/null 2>&1; secs "$s" "$(now)" >> "$tmp/plain"
  for d in api api-warm cli; do
    url=()
    [ "$d" = api-warm ] && url=(--url "unix://$tmp/warm.sock")
    s=$(now)
    PODPROOF_DRIVER=${d%-warm} PODPROOF_TRACE=1 "$pp" "${url[@]}" test fixtures/bench/hello.yaml 2>> "$tmp/trace-$d" >/dev/null
    secs "$s" "$(now)" >> "$tmp/total-$d"
  done
done

# One duration per call of a kind, from lines `trace:   12ms <call>`. Only
# the calls of the path measured count: an API run makes its first calls
# through the CLI while its service starts.
calls() {
  awk -v kind="$2" -v path="$3" '
    /^trace:/ {
      ms = $2; sub(/ms$/, "", ms); line = $0
      if ((path == "api") != (line ~ /\/libpod\//)) next
      if (kind == "inspect" && (line ~ /podman container inspect/ || line ~ /GET \/v4\.0\.0\/libpod\/containers\/[^\/]*\/json/)) print ms
      if (kind == "play" && (line ~ /podman kube play/ || line ~ /POST \/v4\.0\.0\/libpod\/play\/kube/)) print ms
      if (kind == "stop" && (line ~ /podman pod stop/ || line ~ /POST \/v4\.0\.0\/libpod\/pods\/[^\/]*\/stop/)) print ms
      if (kind == "exec" && line ~ /podman exec/) print ms
      if (kind == "exec" && line ~ /POST \/v4\.0\.0\/libpod\/containers\/[^\/]*\/exec/) { acc = ms; open = 1 }
      if (kind == "exec" && open && line ~ /\/libpod\/exec\/[^\/]*\/start/) acc += ms
      if (kind == "exec" && open && line ~ /GET \/v4\.0\.0\/libpod\/exec\/[^\/]*\/json/) { print acc + ms; open = 0 }
    }' "$1"
}

plain=$(median < "$tmp/plain")
printf '%-10s %-16s %-16s %-12s\n' "call" "API, own (ms)" "API, warm (ms)" "CLI (ms)"
for k in inspect exec play stop; do
  printf '%-10s %-16s %-16s %-12s\n' "$k" "$(calls "$tmp/trace-api" $k api | median)" \
    "$(calls "$tmp/trace-api-warm" $k api | median)" "$(calls "$tmp/trace-cli" $k cli | median)"
done
for d in api api-warm cli; do
  t=$(median < "$tmp/total-$d")
  printf 'overhead vs hand-written podman script, %s driver: %s (podproof %ss, script %ss, median of %s)\n' \
    "$d" "$(awk -v a="$t" -v b="$plain" 'BEGIN { printf "%.2f", a / b }')" "$t" "$plain" "$runs"
done
