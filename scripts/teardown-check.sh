#!/usr/bin/env bash
# Count the podman objects podproof left behind: everything labelled podproof.dev/run
# (or podproof.dev/run=RUN_ID when a run id is given), including the infra containers
# of labelled pods. Run as root, it also counts what the rootless subset left in the
# podman of the user `scripts/setup.sh rootless` prepares (podproof-rootless).
# Prints one summary line per podman (plus the leftovers) and exits 1 if any.
#
# Usage: scripts/teardown-check.sh [RUN_ID]
set -euo pipefail

label=podproof.dev/run${1:+=$1}
ROOTLESS_USER=${PODPROOF_ROOTLESS_USER:-podproof-rootless}
PM=(podman)
pm() { (cd / && "${PM[@]}" "$@"); }
count() { [[ -z $1 ]] && echo 0 || wc -l <<<"$1"; }

# check WHO: counts and lists the leftovers of the podman in PM; returns 1 if any.
check() {
  local containers pods volumes networks pod_filters=()
  # check runs on the left of `||`, where bash ignores errexit: a podman that fails
  # must fail the check, not count as zero leftovers.
  local failed="podproof leftovers ($1): podman failed, so nothing could be counted"
  containers=$(pm ps -a -q --no-trunc --filter "label=$label") || { echo "$failed" >&2; return 2; }
  pods=$(pm pod ps -q --no-trunc --filter "label=$label") || { echo "$failed" >&2; return 2; }
  if [[ -n $pods ]]; then
    while read -r p; do pod_filters+=(--filter "pod=$p"); done <<<"$pods"
    containers+=$'\n'$(pm ps -a -q --no-trunc "${pod_filters[@]}") || { echo "$failed" >&2; return 2; }
  fi
  containers=$(sed '/^$/d' <<<"$containers" | sort -u)
  volumes=$(pm volume ls -q --filter "label=$label") || { echo "$failed" >&2; return 2; }
  networks=$(pm network ls -q --filter "label=$label") || { echo "$failed" >&2; return 2; }

  local nc np nv nn
  nc=$(count "$containers") np=$(count "$pods") nv=$(count "$volumes") nn=$(count "$networks")
  echo "podproof leftovers ($1, $label): containers=$nc pods=$np volumes=$nv networks=$nn"
  ((nc + np + nv + nn == 0)) && return 0

  if ((nc)); then
    pm ps -a --pod --no-trunc --format '{{.ID}} {{.Names}} ({{.Status}}) pod={{.PodName}}' |
      awk 'NR == FNR { want[$1] = 1; next } ($1 in want) { $1 = "  container"; print }' <(echo "$containers") -
  fi
  ((np == 0)) || pm pod ps --filter "label=$label" --format '  pod {{.Name}} ({{.Status}})'
  ((nv == 0)) || sed 's/^/  volume /' <<<"$volumes"
  ((nn == 0)) || sed 's/^/  network /' <<<"$networks"
  return 1
}

status=0
check "$(id -un)" || status=1
if [[ $(id -u) == 0 ]] && id "$ROOTLESS_USER" >/dev/null 2>&1; then
  PM=(runuser -u "$ROOTLESS_USER" -- podman)
  check "$ROOTLESS_USER" || status=1
fi
exit $status
