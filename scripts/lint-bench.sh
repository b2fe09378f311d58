#!/usr/bin/env bash
# Times `podproof lint` (release build) on a generated corpus of 10,000
# realistic resources: Deployments, Pods, Services, ConfigMaps and
# StatefulSets, alone and in multi-document files. When checkov and
# kubernetes-validate can be installed from PyPI (into a venv under target/),
# times them on the same corpus and prints the ratios. Always exits 0 once
# podproof itself ran: the other tools are optional.
#
#   scripts/lint-bench.sh [RESOURCES]
#
# Then the `big` corpus (below) at 10,000 and 20,000 documents, with
# kubeconform beside podproof when KUBECONFORM and KUBECONFORM_SCHEMAS say
# where a build of it and its schemas are.
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

# The `big` corpus, shaped like a large cluster's manifests: a ConfigMap,
# Deployment, Service, ServiceAccount, NetworkPolicy, Role and RoleBinding
# per app (with a 20 KB rules file in the ConfigMap), in files across 60
# directories, and one CustomResourceDefinition (150 to 600 KB of schema)
# per 34 documents: about 10,000 documents and 160 MB, three quarters of the
# bytes in CRDs. Made at 10,000 and at 20,000 documents (LINT_BIG_DOCS), each
# timed at the default threads and at -j 1, with podproof's peak RSS: memory
# must not grow with the corpus.
make_big() {
    python3 - "$1" "$2" <<'PYEOF'
import os, random, sys
out, ndocs = sys.argv[1], int(sys.argv[2])
random.seed(13)
WORDS = "the of a to and is in that for it as with be on by this are from or at an which not can when pod container field value set must resource will default name spec selector label volume port service".split()
def sentence(n):
    return " ".join(random.choice(WORDS) for _ in range(n)).capitalize() + "."
def schema(depth, ind, budget):
    # A nested openAPIV3Schema object of about `budget` properties.
    pad = " " * ind
    lines = [f"{pad}type: object", f"{pad}description: {sentence(random.randint(8, 30))}", f"{pad}properties:"]
    n = max(1, min(budget, random.randint(3, 12)))
    used = 1
    for i in range(n):
        name = f"{random.choice(WORDS)}{random.choice(WORDS).capitalize()}{i}"
        lines.append(f"{pad}  {name}:")
        r = random.random()
        if depth < 7 and r < 0.35 and budget - used > 4:
            sub = random.randint(2, max(2, (budget - used) // 2))
            text, k = schema(depth + 1, ind + 4, sub)
            lines.append(text); used += k
        elif depth < 7 and r < 0.5 and budget - used > 4:
            lines.append(f"{pad}    type: array")
            lines.append(f"{pad}    description: {sentence(random.randint(5, 20))}")
            lines.append(f"{pad}    items:")
            sub = random.randint(2, max(2, (budget - used) // 3))
            text, k = schema(depth + 1, ind + 6, sub)
            lines.append(text); used += k
        else:
            t = random.choice(["string", "integer", "boolean", "string"])
            lines.append(f"{pad}    type: {t}")
            lines.append(f"{pad}    description: {sentence(random.randint(5, 40))}")
            if t == "integer":
                lines.append(f"{pad}    format: int32")
            if t == "string" and random.random() < 0.2:
                lines.append(f"{pad}    enum: [Always, Never, IfNotPresent]")
            used += 1
    if random.random() < 0.3:
        lines.append(f"{pad}required: [{', '.join(random.sample(['name','spec','port','value'], 2))}]")
    if random.random() < 0.1:
        lines.append(f"{pad}x-kubernetes-preserve-unknown-fields: true")
    return "\n".join(lines), used
def crd(i):
    # About 150 to 650 KB of schema, like the CRDs of the big operators.
    target = random.randint(150_000, 600_000)
    parts, size, k = [], 0, 0
    while size < target:
        t, _ = schema(0, 22, 400)
        parts.append(f"                    part{k}:\n{t}"); size += len(t); k += 1
    text = "\n".join(parts)
    return f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets{i}.example{i % 7}.com
  annotations: {{controller-gen.kubebuilder.io/version: v0.16.1}}
spec:
  group: example{i % 7}.com
  names: {{kind: Widget{i}, listKind: Widget{i}List, plural: widgets{i}, singular: widget{i}}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {{type: string}}
          kind: {{type: string}}
          metadata: {{type: object}}
          spec:
            type: object
            properties:
              parts:
                type: object
                properties:
{text}
"""
def deployment(i):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
  labels: {{app.kubernetes.io/name: svc-{i}, app.kubernetes.io/part-of: shop}}
spec:
  replicas: {random.choice([1, 2, 3])}
  selector:
    matchLabels: {{app.kubernetes.io/name: svc-{i}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: svc-{i}}}
    spec:
      serviceAccountName: svc-{i}
      containers:
      - name: app
        image: registry.example.com/shop/svc-{i % 30}:1.{i % 9}.{i % 4}
        args: [--port=8080, --log-level=info]
        ports: [{{name: http, containerPort: 8080}}, {{name: metrics, containerPort: 9090}}]
        env:
        - {{name: LOG_FORMAT, value: json}}
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        resources:
          requests: {{cpu: 100m, memory: 128Mi}}
          limits: {{cpu: "1", memory: 512Mi}}
        readinessProbe: {{httpGet: {{path: /ready, port: http}}, periodSeconds: 5}}
        livenessProbe: {{httpGet: {{path: /healthz, port: http}}, periodSeconds: 10}}
        securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, runAsUser: 10001, capabilities: {{drop: [ALL]}}}}
        volumeMounts: [{{name: tmp, mountPath: /tmp}}, {{name: config, mountPath: /etc/svc}}]
      volumes:
      - {{name: tmp, emptyDir: {{}}}}
      - {{name: config, configMap: {{name: svc-{i}}}}}
"""
def service(i):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
  labels: {{app.kubernetes.io/name: svc-{i}}}
spec:
  selector: {{app.kubernetes.io/name: svc-{i}}}
  ports:
  - {{name: http, port: 80, targetPort: http}}
  - {{name: metrics, port: 9090, targetPort: metrics}}
"""
def configmap(i):
    # An application config of about 20 KB, like a dashboard or a rules file.
    rules = "\n".join(f"""    - alert: Svc{i}Rule{r}
      expr: sum(rate(http_requests_total{{{{job="svc-{i}", code=~"5.."}}}}[5m])) / sum(rate(http_requests_total{{{{job="svc-{i}"}}}}[5m])) > 0.0{r % 9 + 1}
      for: {r % 10 + 1}m
      labels: {{{{severity: {random.choice(['warning', 'critical'])}}}}}
      annotations:
        summary: {sentence(12)}
        description: {sentence(30)}""" for r in range(random.randint(40, 70)))
    return f"""apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
data:
  config.yaml: |
    server:
      port: 8080
      timeout: {i % 30 + 5}s
  rules.yaml: |
    groups:
    - name: svc-{i}
      rules:
{rules}
"""
def account(i):
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
"""
def role(i):
    return f"""apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
rules:
- apiGroups: [""]
  resources: [configmaps, endpoints]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: svc-{i}}}
subjects:
- {{kind: ServiceAccount, name: svc-{i}, namespace: team-{i % 40}}}
"""
def policy(i):
    return f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: svc-{i}
  namespace: team-{i % 40}
spec:
  podSelector: {{matchLabels: {{app.kubernetes.io/name: svc-{i}}}}}
  policyTypes: [Ingress]
  ingress:
  - from: [{{podSelector: {{}}}}]
    ports: [{{port: 8080}}]
"""
ncrd = max(1, round(ndocs * 297 / 10152))
made, f, crds, size = 0, 0, 0, 0
while made < ndocs:
    d = os.path.join(out, f"area-{f % 60:02}")
    os.makedirs(d, exist_ok=True)
    if crds < ncrd and f % 34 == 0:
        docs = [crd(crds)]; crds += 1
    else:
        i = made
        docs = [account(i), configmap(i), deployment(i), service(i), policy(i), role(i)]
    text = "---\n".join(docs)
    n = text.count("\nkind: ") + (1 if text.startswith("kind: ") else 0)
    with open(os.path.join(d, f"m{f:05}.yaml"), "w") as fh:
        fh.write(text)
    size += len(text.encode())
    made += n
    f += 1
while crds < ncrd:
    text = crd(crds); crds += 1
    with open(os.path.join(out, f"area-00/crd{crds:04}.yaml"), "w") as fh:
        fh.write(text)
    size += len(text.encode()); made += 1; f += 1
print(f"{made} {size} {f} {crds}")
PYEOF
}
# Wall time, user+system CPU time and peak RSS (MiB) of one command.
run_measured() {
    python3 - "$@" <<'PYEOF'
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
wall = time.monotonic() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.3f} {r.ru_utime + r.ru_stime:.3f} {r.ru_maxrss // 1024}")
PYEOF
}
for n in ${LINT_BIG_DOCS:-10152 20304}; do
    bigdir="$corpus/big-$n"
    read -r docs bytes _files _crds < <(make_big "$bigdir" "$n")
    read -r s cpu rss < <(run_measured "$podproof" lint --podman-version 4.3 --format json "$bigdir")
    read -r s1 _ _ < <(run_measured "$podproof" lint -j 1 --podman-version 4.3 --format json "$bigdir")
    mb=$((bytes / 1000000))
    row "lint, big: $docs docs, $mb MB ($(nproc) cores)" ">= 7500/s" "$(printf '%.0f docs/s in %ss (%ss CPU); -j 1: %ss' "$(echo "$docs / $s" | bc -l)" "$s" "$cpu" "$s1")"
    row "lint, big throughput ($docs docs)" ">= 110 MB/s" "$(printf '%.1f MB/s' "$(echo "$bytes / 1000000 / $s" | bc -l)")"
    row "lint, big peak RSS ($docs docs)" "flat" "${rss} MiB"
    # kubeconform on the same corpus, when a build of it and local schemas
    # are given (KUBECONFORM, KUBECONFORM_SCHEMAS: a directory of
    # <kind>-<group>-<version>.json, such as kubernetes-validate ships).
    if [ -z "${kc_done:-}" ] && [ -x "${KUBECONFORM:-}" ] && [ -d "${KUBECONFORM_SCHEMAS:-}" ]; then
        kc_done=1
        read -r ks kcpu krss < <(run_measured "$KUBECONFORM" -strict -summary -n "$(nproc)" -schema-location "$KUBECONFORM_SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$bigdir")
        row "kubeconform, big: $docs docs ($(nproc) workers)" "-" "$(printf '%.0f docs/s, %.1f MB/s in %ss (%ss CPU), %s MiB' "$(echo "$docs / $ks" | bc -l)" "$(echo "$bytes / 1000000 / $ks" | bc -l)" "$ks" "$kcpu" "$krss")"
    fi
    rm -rf "$bigdir"
done

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
