#!/usr/bin/env bash
# Regenerates pods/: the podman flavour of every fixture app, one file per app
# (<app>.yaml), with resolved hostPaths written relative to the repository root
# (./fixtures/...) so the files do not depend on where the checkout lives.
# tests/pods_current.rs fails when pods/ is stale.
#
# Usage: scripts/render-pods.sh   (from anywhere; it works in the repo root)
# PODPROOF=path/to/podproof uses that binary instead of building one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ -z "${PODPROOF:-}" ]]; then
  cargo build --quiet --bin podproof
  PODPROOF=target/debug/podproof
fi

# Every directory of fixtures/apps is an app, except simple-app, whose directory
# also holds its ytt template: its rendered output is the app (tests/pods_current.rs
# walks them the same way).
fixtures=()
for d in fixtures/apps/*/; do
  d=${d%/}
  if [[ $d == fixtures/apps/simple-app ]]; then fixtures+=("$d/simple-app.yaml"); else fixtures+=("$d"); fi
done

# Render into a fresh directory first, so a failure leaves pods/ as it was.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${fixtures[@]}"; do
  # podproof says `wrote <file>` for each app; only a failure is worth showing.
  if ! err=$("$PODPROOF" render --relative-to . -o "$tmp" "$f" 2>&1); then
    printf '%s\n' "$err" >&2
    exit 1
  fi
done
rm -rf pods
mkdir pods
cp "$tmp"/*.yaml pods/
ls pods
