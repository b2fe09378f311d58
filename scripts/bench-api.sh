#!/usr/bin/env bash
# make bench, the API part: `kubectl get pods` against podproof's API server
# (the hidden `podproof __apiserver`, 50 Pods stored, no podman needed), p50 and
# p99 of BENCH_API_RUNS runs (100 by default): kubectl's wall time (its own
# start-up included, discovery cached as on a developer's machine), and the
# LIST request alone as curl times it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
kubectl=${PODPROOF_TOOLS_DIR:-/opt/podproof/tools}/bin/kubectl
if [ ! -x "$kubectl" ]; then
  echo "bench: $kubectl is missing (scripts/setup.sh tools), skipping the API figures" >&2
  exit 0
fi
cargo build --release --quiet
pp=./target/release/podproof
runs=${BENCH_API_RUNS:-100}
tmp=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$pp" __apiserver --kubeconfig "$tmp/kubeconfig" --dir "$tmp/state" 2>"$tmp/server.log" &
server=$!
for _ in $(seq 100); do [ -s "$tmp/kubeconfig" ] && break; sleep 0.05; done
export HOME="$tmp" KUBECONFIG="$tmp/kubeconfig"
for i in $(seq 50); do
  printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%s, labels: {app: bench}}\nspec:\n  containers: [{name: c, image: busybox}]\n' "$i"
done > "$tmp/pods.yaml"
"$kubectl" apply -f "$tmp/pods.yaml" >/dev/null
"$kubectl" get pods >/dev/null
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { i = int(NR * p / 100 + 0.999); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }'; }
for _ in $(seq "$runs"); do
  s=$(date +%s%N); "$kubectl" get pods >/dev/null; e=$(date +%s%N)
  awk -v a="$s" -v b="$e" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
done > "$tmp/kubectl.txt"
server_url=$(awk '/server:/ { print $2 }' "$tmp/kubeconfig")
token=$(cat "$tmp/state/token")
for _ in $(seq "$runs"); do
  curl -s -o /dev/null -w '%{time_total}\n' --cacert "$tmp/state/ca.crt" -H "Authorization: Bearer $token" \
    -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json' "$server_url/api/v1/namespaces/default/pods?limit=500"
done > "$tmp/curl.txt"
printf '%-44s %-10s %s\n' "kubectl get pods, 50 pods (p50 / p99)" "-" "$(pct 50 < "$tmp/kubectl.txt") / $(pct 99 < "$tmp/kubectl.txt") ms ($runs runs, kubectl's start-up included)"
printf '%-44s %-10s %s\n' "the same LIST as a Table, one request" "-" "$(pct 50 < "$tmp/curl.txt") / $(pct 99 < "$tmp/curl.txt") ms (curl, TLS handshake included)"
