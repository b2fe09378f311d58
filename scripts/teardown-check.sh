#!/usr/bin/env bash
# Count the podman objects podproof left behind: everything labelled podproof.dev/run
# (or podproof.dev/run=RUN_ID when a run id is given), including the infra containers
# of labelled pods. Prints one summary line (plus the leftovers) and exits 1 if any.
#
# Usage: scripts/teardown-check.sh [RUN_ID]
set -euo pipefail

label=podproof.dev/run${1:+=$1}

containers=$(podman ps -a -q --no-trunc --filter "label=$label")
pods=$(podman pod ps -q --no-trunc --filter "label=$label")
if [[ -n $pods ]]; then
  pod_filters=()
  while read -r p; do pod_filters+=(--filter "pod=$p"); done <<<"$pods"
  containers+=$'\n'$(podman ps -a -q --no-trunc "${pod_filters[@]}")
fi
containers=$(sed '/^$/d' <<<"$containers" | sort -u)
volumes=$(podman volume ls -q --filter "label=$label")
networks=$(podman network ls -q --filter "label=$label")

count() { [[ -z $1 ]] && echo 0 || wc -l <<<"$1"; }
nc=$(count "$containers") np=$(count "$pods") nv=$(count "$volumes") nn=$(count "$networks")
total=$((nc + np + nv + nn))

echo "podproof leftovers ($label): containers=$nc pods=$np volumes=$nv networks=$nn"
((total == 0)) && exit 0

if ((nc)); then
  podman ps -a --pod --no-trunc --format '{{.ID}} {{.Names}} ({{.Status}}) pod={{.PodName}}' |
    awk 'NR == FNR { want[$1] = 1; next } ($1 in want) { $1 = "  container"; print }' <(echo "$containers") -
fi
((np == 0)) || podman pod ps --filter "label=$label" --format '  pod {{.Name}} ({{.Status}})'
((nv == 0)) || sed 's/^/  volume /' <<<"$volumes"
((nn == 0)) || sed 's/^/  network /' <<<"$networks"
exit 1
