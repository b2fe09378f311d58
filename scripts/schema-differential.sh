#!/usr/bin/env bash
# Differential test of podproof's schema checks against an offline oracle:
# kubernetes-validate (PyPI), which holds the Kubernetes OpenAPI schemas (but
# not the API server's semantic rules). Installs it into a venv under target/.
#
# - Every bad-input case whose expected error is a schema error (a wrong
#   type, an unknown field, a missing required field) on a Kubernetes kind
#   must be refused by kubernetes-validate --strict too.
# - Every manifest under fixtures/ must pass both: podproof lint reports no
#   schema-* finding and kubernetes-validate accepts it.
#
# Prints each disagreement and exits 1 if there is one.
#
#   scripts/schema-differential.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=target/kv-venv
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet kubernetes-validate
fi
kv() { "$venv/bin/kubernetes-validate" --kubernetes-version 1.33.0 --strict --quiet "$@" >/dev/null 2>&1; }
podproof="${CARGO_TARGET_DIR:-target}/release/podproof"
[ -x "$podproof" ] || cargo build --release --quiet

# Known, explained disagreements: cases where podproof is deliberately
# stricter than the schemas.
# - pod-command-null-item: the schemas allow null items, and Go's JSON decoder
#   turns a null into "" in a []string, so the cluster runs an empty argument;
#   podproof refuses the null as the mistake it nearly always is.
known=" tests/bad-input/pod-command-null-item "
kinds='^kind: (Pod|Deployment|StatefulSet|DaemonSet|Job|CronJob|Service|ConfigMap|Secret|PersistentVolumeClaim)$'
agree=0
disagree=0
for expect in tests/bad-input/*/expect.txt; do
    dir=$(dirname "$expect")
    grep -qE 'invalid type|unknown field|missing field' "$expect" || continue
    file="$dir/$(head -1 "$expect" | awk '{print $NF}')"
    [ -f "$file" ] && grep -qE "$kinds" "$file" || continue
    # Cases whose point is the app format, a syntax error or a podproof
    # limit have no counterpart in the schemas.
    grep -qE '^apiVersion: (v1|apps/v1|batch/v1)$' "$file" || continue
    if [[ "$known" == *" $dir "* ]]; then
        echo "known: $dir"
    elif kv "$file"; then
        echo "disagree: $dir: podproof refuses it, kubernetes-validate accepts it"
        disagree=$((disagree + 1))
    else
        agree=$((agree + 1))
    fi
done
while IFS= read -r file; do
    grep -qE "$kinds" "$file" || continue
    # lint exits 1 when a finding is an error; only the schema ones count here.
    findings=$({ "$podproof" lint --podman-version 4.3 --format json "$file" 2>/dev/null || true; } \
        | python3 -c 'import json,sys; print(sum(f["rule"].startswith("schema-") for f in json.load(sys.stdin)["findings"]))' 2>/dev/null || echo "?")
    if [ "$findings" = 0 ] && kv "$file"; then
        agree=$((agree + 1))
    elif [ "$findings" = 0 ]; then
        echo "disagree: $file: podproof accepts it, kubernetes-validate refuses it"
        disagree=$((disagree + 1))
    elif kv "$file"; then
        echo "disagree: $file: podproof reports $findings schema findings, kubernetes-validate accepts it"
        disagree=$((disagree + 1))
    else
        agree=$((agree + 1))
    fi
done < <(find fixtures -name '*.yaml' -not -path '*/images/*' | sort)
echo "$agree agree, $disagree disagree"
[ "$disagree" = 0 ]
