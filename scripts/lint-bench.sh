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

# A realistic corpus, shaped like kube-prometheus and kubernetes/examples:
# large Grafana dashboard ConfigMaps, long PrometheusRule files and big
# multi-document streams, about 15 KB a document and 150 MB in all
# (LINT_BENCH_MB sets the size). Throughput and peak RSS come from one run.
big="$corpus/realistic"
read -r big_docs big_bytes < <(python3 - "$big" "${LINT_BENCH_MB:-150}" <<'PYEOF'
import json, os, random, sys
out, mb = sys.argv[1], int(sys.argv[2])
random.seed(11)
os.makedirs(out, exist_ok=True)

def dashboard(i):
    panels = []
    for p in range(random.randint(50, 90)):
        panels.append({
            "id": p, "type": random.choice(["graph", "stat", "table", "timeseries"]),
            "title": f"Panel {p} of dashboard {i}",
            "gridPos": {"h": 8, "w": 12, "x": (p % 2) * 12, "y": p * 8},
            "targets": [{"expr": f'sum(rate(container_cpu_usage_seconds_total{{namespace="$namespace", pod=~"$pod", container!=""}}[5m])) by (pod) * {p}', "legendFormat": "{{pod}}", "refId": "A"}],
            "fieldConfig": {"defaults": {"unit": "short", "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": 80}]}}},
        })
    text = json.dumps({"title": f"Dashboard {i}", "uid": f"d{i}", "panels": panels, "templating": {"list": []}}, indent=2)
    body = "\n".join("    " + l for l in text.splitlines())
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: grafana-dashboard-{i}
  namespace: monitoring
  labels: {{app.kubernetes.io/component: grafana, app.kubernetes.io/name: grafana}}
data:
  dashboard-{i}.json: |-
{body}
"""

def rules(i):
    rs = []
    for r in range(random.randint(60, 120)):
        rs.append(f"""    - alert: KubeAlert{i}x{r}
      annotations:
        description: Pod {{{{ $labels.namespace }}}}/{{{{ $labels.pod }}}} ({{{{ $labels.container }}}}) is in waiting state (reason "CrashLoopBackOff") for longer than 15 minutes, rule {r}.
        runbook_url: https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubealert{r}
        summary: Something about rule {r} is wrong.
      expr: |
        max_over_time(kube_pod_container_status_waiting_reason{{reason="CrashLoopBackOff", job="kube-state-metrics", namespace=~".*"}}[5m]) >= {r}
      for: 15m
      labels:
        severity: warning""")
    return f"""apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: kubernetes-rules-{i}
  namespace: monitoring
  labels: {{app.kubernetes.io/name: kube-prometheus, role: alert-rules}}
spec:
  groups:
  - name: kubernetes-apps-{i}
    rules:
""" + "\n".join(rs) + "\n"

def small(i):
    return random.choice([
        f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: exporter-{i}
  namespace: monitoring
  labels: {{app.kubernetes.io/name: exporter-{i}, app.kubernetes.io/version: 1.{i % 9}.0}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app.kubernetes.io/name: exporter-{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: exporter-{i}}}
      annotations: {{kubectl.kubernetes.io/default-container: exporter}}
    spec:
      serviceAccountName: exporter-{i}
      containers:
      - name: exporter
        image: quay.io/prometheus/node-exporter:v1.{i % 9}.0
        args: [--web.listen-address=127.0.0.1:9100, --path.sysfs=/host/sys]
        ports: [{{containerPort: 9100, name: http}}]
        resources:
          limits: {{cpu: 250m, memory: 180Mi}}
          requests: {{cpu: 102m, memory: 180Mi}}
        securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 65534, capabilities: {{drop: [ALL]}}}}
        volumeMounts: [{{name: sys, mountPath: /host/sys, readOnly: true}}]
      volumes:
      - name: sys
        hostPath: {{path: /sys}}
""",
        f"""apiVersion: v1
kind: Service
metadata:
  name: exporter-{i}
  namespace: monitoring
spec:
  clusterIP: None
  selector: {{app.kubernetes.io/name: exporter-{i}}}
  ports: [{{name: https, port: 9100, targetPort: http}}]
""",
        f"""apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:exporter-{i}
rules:
- apiGroups: [authentication.k8s.io]
  resources: [tokenreviews]
  verbs: [create]
- apiGroups: [""]
  resources: [nodes/metrics, pods, services, endpoints]
  verbs: [get, list, watch]
""",
        f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: exporter-{i}
  namespace: monitoring
automountServiceAccountToken: false
""",
    ])

limit, size, docs, f = mb * 1_000_000, 0, 0, 0
while size < limit:
    # Big multi-document streams, like a rendered chart: 50 to 200 documents.
    parts = []
    for _ in range(random.randint(50, 200)):
        r = random.random()
        parts.append(dashboard(docs) if r < 0.13 else rules(docs) if r < 0.22 else small(docs))
        docs += 1
    text = "---\n".join(parts)
    with open(os.path.join(out, f"stream-{f:04}.yaml"), "w") as fh:
        fh.write(text)
    size += len(text)
    f += 1
print(f"{docs} {size}")
PYEOF
)
measure=$(python3 - "$podproof" "$big" <<'PYEOF'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], "lint", "--podman-version", "4.3", "--format", "json", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
print(f"{wall:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}")
PYEOF
)
read -r big_s big_rss <<<"$measure"
row "lint, realistic $big_docs docs, $((big_bytes / 1000000)) MB ($(nproc) cores)" ">= 5000/s" "$(printf '%.0f docs/s' "$(echo "$big_docs / $big_s" | bc -l)") in ${big_s}s"
row "lint, realistic corpus throughput" ">= 75 MB/s" "$(printf '%.1f MB/s' "$(echo "$big_bytes / 1000000 / $big_s" | bc -l)")"
row "lint, realistic corpus peak RSS" "flat" "${big_rss} MiB"
rm -rf "$big"

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
