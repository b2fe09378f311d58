#!/usr/bin/env bash
# Times `podproof lint` (release build) on a generated corpus of 10,000
# realistic resources: Deployments, Pods, Services, ConfigMaps and
# StatefulSets, alone and in multi-document files. When checkov and
# kubernetes-validate can be installed from PyPI (into a venv under target/),
# times them on the same corpus and prints the ratios. Always exits 0 once
# podproof itself ran: the other tools are optional.
#
#   scripts/lint-bench.sh [RESOURCES]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n="${1:-10000}"
corpus="$(mktemp -d "${TMPDIR:-/tmp}/podproof-lint-bench.XXXXXX")"
trap 'rm -rf "$corpus"' EXIT

python3 - "$corpus" "$n" <<'EOF'
import os, random, sys
out, n = sys.argv[1], int(sys.argv[2])
random.seed(7)

def deployment(i):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  labels: {{app: web-{i}, tier: frontend}}
spec:
  replicas: {random.choice([1, 2, 3])}
  selector:
    matchLabels: {{app: web-{i}}}
  template:
    metadata:
      labels: {{app: web-{i}, tier: frontend}}
      annotations:
        podproof.dev/reload: signal SIGHUP
    spec:
      serviceAccountName: web
      containers:
        - name: web
          image: registry.example.com/web:{i % 17}.{i % 5}
          imagePullPolicy: IfNotPresent
          args: [--port=8080, --config=/etc/web/web.conf]
          ports:
            - {{name: http, containerPort: 8080}}
          env:
            - {{name: LOG_LEVEL, value: info}}
            - name: DB_HOST
              valueFrom:
                configMapKeyRef: {{name: web-{i}-config, key: db}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          readinessProbe:
            httpGet: {{path: /ready, port: http}}
          livenessProbe:
            httpGet: {{path: /healthz, port: 8080}}
          securityContext:
            runAsNonRoot: true
            runAsUser: 1000
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {{drop: [ALL]}}
          volumeMounts:
            - {{name: config, mountPath: /etc/web}}
      volumes:
        - name: config
          configMap: {{name: web-{i}-config}}
"""

def service(i):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: web-{i}
spec:
  selector: {{app: web-{i}}}
  ports:
    - {{name: http, port: 80, targetPort: http}}
"""

def configmap(i):
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: web-{i}-config
data:
  db: db-{i}.example.com
  web.conf: |
    listen 8080
    workers {i % 8 + 1}
"""

def pod(i):
    return f"""apiVersion: v1
kind: Pod
metadata:
  name: tool-{i}
  labels: {{app: tool-{i}}}
spec:
  containers:
    - name: tool
      image: busybox:1.36
      command: [sh, -c, "sleep 3600"]
      env:
        - {{name: API_TOKEN, value: "t-{i}"}}
      volumeMounts:
        - {{name: data, mountPath: /data}}
  volumes:
    - name: data
      hostPath: {{path: ./data-{i}}}
"""

def statefulset(i):
    return f"""apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db-{i}
spec:
  serviceName: db-{i}
  replicas: 3
  selector:
    matchLabels: {{app: db-{i}}}
  template:
    metadata:
      labels: {{app: db-{i}}}
    spec:
      containers:
        - name: db
          image: postgres:16
          ports: [{{name: pg, containerPort: 5432}}]
          resources:
            requests: {{cpu: 250m, memory: 512Mi}}
          volumeMounts: [{{name: data, mountPath: /var/lib/postgresql/data}}]
  volumeClaimTemplates:
    - metadata: {{name: data}}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {{requests: {{storage: 1Gi}}}}
"""

kinds = [deployment, service, configmap, pod, statefulset]
made, f = 0, 0
while made < n:
    d = os.path.join(out, f"team-{f % 50}")
    os.makedirs(d, exist_ok=True)
    # Every other file is a multi-document stream of a small app.
    if f % 2 == 0 and made + 3 <= n:
        docs = [configmap(made), deployment(made), service(made)]
    else:
        docs = [random.choice(kinds)(made)]
    with open(os.path.join(d, f"r{f:05}.yaml"), "w") as fh:
        fh.write("---\n".join(docs))
    made += len(docs)
    f += 1
print(f"corpus: {made} resources in {f} files under {out}", file=sys.stderr)
EOF

cargo build --release --quiet
podproof="${CARGO_TARGET_DIR:-target}/release/podproof"

# Best of RUNS (default 3) runs, in seconds.
time_it() {
    local best=""
    for _ in $(seq "${RUNS:-3}"); do
        local s e t
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || true
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    echo "$best"
}

ours=$(time_it "$podproof" lint --podman-version 4.3 --format json "$corpus")
"$podproof" lint --podman-version 4.3 --format json "$corpus" >"$corpus.json" 2>/dev/null || true
findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$corpus.json" 2>/dev/null || echo "?")
rm -f "$corpus.json"
# Rows of scripts/bench.sh's table: figure, target, measurement.
row() { printf '%-44s %-10s %s\n' "$@"; }
row "lint, $n resources ($(nproc) cores)" "< 1 s" "$(printf '%.3fs (best of %s, %s findings)' "$ours" "${RUNS:-3}" "$findings")"

venv=target/lint-bench-venv
if [ ! -x "$venv/bin/checkov" ] || [ ! -x "$venv/bin/kubernetes-validate" ]; then
    echo "installing checkov and kubernetes-validate into $venv (optional)..." >&2
    { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet checkov kubernetes-validate; } >/dev/null 2>&1 || echo "could not install them; skipping the comparison" >&2
fi
if [ -x "$venv/bin/kubernetes-validate" ]; then
    files=$(find "$corpus" -name '*.yaml')
    # shellcheck disable=SC2086
    kv=$(RUNS=1 time_it timeout 900 "$venv/bin/kubernetes-validate" --strict $files)
    row "lint ratio: kubernetes-validate / podproof" "-" "$(printf '%.0fx (%.3fs)' "$(echo "$kv / $ours" | bc -l)" "$kv")"
fi
if [ -x "$venv/bin/checkov" ]; then
    ck=$(RUNS=1 time_it timeout 1800 "$venv/bin/checkov" --quiet --compact --framework kubernetes -d "$corpus")
    row "lint ratio: checkov / podproof" "-" "$(printf '%.0fx (%.3fs)' "$(echo "$ck / $ours" | bc -l)" "$ck")"
fi
exit 0
