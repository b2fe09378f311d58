#!/usr/bin/env bash
# How many of the peers' own expected findings podproof lint reports, on
# their own test fixtures: polaris (test/checks/<check>/failure.*.yaml, each
# a finding of <check>), kube-linter (e2etests/bats-tests.sh: the check, the
# fixture, the expected count and messages) and kubeconform
# (acceptance.bats: fixtures expected valid or invalid). The fixtures come
# from git mirrors (`fetch` of the search tools brings them under
# /work/.mirror); nothing of them is copied into this repository.
#
#   scripts/lint-oracles.sh POLARIS.git KUBE_LINTER.git KUBECONFORM.git [OUT.json]
#
# Each peer check is mapped to the podproof rules that report the same
# problem (the table below); checks podproof has no rule for are listed with
# the reason and left out of the score, which the summary says. A finding
# counts when a mapped rule reports it on an object of the expected kind
# (and, where the peer's message names a container or object, on that one).
# "False errors" are error findings on fixtures the peer expects to pass and
# that the API server accepts: fixtures that kubernetes-validate --strict
# (KUBERNETES_VALIDATE, the binary of lint-bench.sh's venv) refuses too are
# set apart, since they are not valid objects. PODPROOF names the binary
# (default: the release build, built if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 3 ]; then
    echo "usage: $0 POLARIS.git KUBE_LINTER.git KUBECONFORM.git [OUT.json]" >&2
    exit 2
fi
podproof="${PODPROOF:-}"
if [ -z "$podproof" ]; then
    cargo build --release --quiet
    podproof="${CARGO_TARGET_DIR:-target}/release/podproof"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/podproof-oracles.XXXXXX")"
trap 'rm -rf "$work"' EXIT
for pair in "polaris:$1:test/checks" "kube-linter:$2:tests/checks e2etests/bats-tests.sh" "kubeconform:$3:fixtures acceptance.bats"; do
    name="${pair%%:*}"; rest="${pair#*:}"; git_dir="${rest%%:*}"; paths="${rest#*:}"
    mkdir -p "$work/$name"
    # File by file: a mirror may lack its largest blobs, which are skipped.
    # shellcheck disable=SC2086
    git --git-dir="$git_dir" ls-tree -r HEAD $paths | while read -r _ type sha path; do
        [ "$type" = blob ] || continue
        mkdir -p "$work/$name/$(dirname "$path")"
        git --git-dir="$git_dir" cat-file blob "$sha" >"$work/$name/$path" 2>/dev/null || { rm -f "$work/$name/$path"; echo "$name: $path is not in the mirror, skipped" >&2; }
    done
    git --git-dir="$git_dir" rev-parse HEAD >"$work/$name.commit"
done
# Every rule on, the off-by-default ones too: the peers' checks include them.
cat >"$work/all-rules.yaml" <<'EOF'
lint:
  rules:
    no-liveness-probe: warning
    no-readiness-probe: warning
EOF

python3 - "$podproof" "$work" "${4:-}" <<'PYEOF'
import json, os, re, subprocess, sys
podproof, work, out_path = sys.argv[1], sys.argv[2], sys.argv[3]

def lint(path, cwd=None):
    # The peers lint for a cluster: podman's rules stay out.
    r = subprocess.run([podproof, "lint", "--target", "cluster", "--podman-version", "4.3", "--config",
                        f"{work}/all-rules.yaml", "--format", "json", path], capture_output=True, text=True, cwd=cwd)
    try:
        return r.returncode, json.loads(r.stdout)["findings"]
    except (json.JSONDecodeError, KeyError):
        return r.returncode, []

WORKLOADS = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}

KV = os.environ.get("KUBERNETES_VALIDATE", "")

def schema_valid(path):
    """Whether kubernetes-validate (an independent schema check, strict) passes
    every document of `path`; None when it is not installed."""
    if not KV:
        return None
    r = subprocess.run([KV, "--strict", "-k", "1.33.0", path], capture_output=True, text=True)
    return r.returncode == 0 and "Couldn't find schema" not in r.stdout

def kind_of(f):
    return (f.get("object") or "?/?").split("/")[0]

def name_of(f):
    return (f.get("object") or "?/?").split("/", 1)[1]

# polaris check -> (podproof rules, the kinds its finding is on; None: workloads).
POLARIS = {
    "cpuLimitsMissing": (["unset-cpu-requirements"], None),
    "cpuRequestsMissing": (["unset-cpu-requirements"], None),
    "memoryLimitsMissing": (["unset-memory-requirements"], None),
    "memoryRequestsMissing": (["unset-memory-requirements"], None),
    "dangerousCapabilities": (["dangerous-capabilities"], None),
    "insecureCapabilities": (["drop-net-raw-capability"], None),
    "hostIPCSet": (["host-ipc"], None),
    "hostPIDSet": (["host-pid"], None),
    "hostNetworkSet": (["host-network"], None),
    "hostPathSet": (["host-path-volume", "sensitive-host-mounts", "docker-sock", "relative-host-path", "host-specific-host-path"], None),
    "hostPortSet": (["host-port"], None),
    "hostProcess": (["privileged-container"], None),
    "livenessProbeMissing": (["no-liveness-probe"], None),
    "readinessProbeMissing": (["no-readiness-probe"], None),
    "notReadOnlyRootFilesystem": (["no-read-only-root-fs"], None),
    "privilegeEscalationAllowed": (["privilege-escalation-container"], None),
    # procMount `Other` is no value the API server takes: schema-invalid says so.
    "procMount": (["unsafe-proc-mount", "schema-invalid"], None),
    "runAsPrivileged": (["privileged-container"], None),
    "runAsRootAllowed": (["run-as-non-root"], None),
    "sensitiveContainerEnvVar": (["env-var-secret"], None),
    "tagNotSpecified": (["latest-tag"], None),
    "missingNetworkPolicy": (["non-isolated-pod"], None),
    "pdbDisruptionsIsZero": (["pdb-max-unavailable", "pdb-min-available"], {"PodDisruptionBudget"} | WORKLOADS),
    # polaris reports it on the Deployment, podproof on the budget; a budget over 100% is refused outright.
    "pdbMinAvailableGreaterThanHPAMinReplicas": (["pdb-min-available", "schema-invalid"], {"PodDisruptionBudget"} | WORKLOADS),
    "clusterrolePodExecAttach": (["access-to-pod-exec"], {"ClusterRole"}),
    "rolePodExecAttach": (["access-to-pod-exec"], {"Role"}),
    # polaris also fails a binding whose role is not in the input: podproof says so under dangling-role-ref.
    "clusterrolebindingPodExecAttach": (["access-to-pod-exec", "dangling-role-ref"], {"ClusterRoleBinding"}),
    "rolebindingClusterRolePodExecAttach": (["access-to-pod-exec", "dangling-role-ref"], {"RoleBinding"}),
    "rolebindingRolePodExecAttach": (["access-to-pod-exec", "dangling-role-ref"], {"RoleBinding"}),
    "clusterrolebindingClusterAdmin": (["cluster-admin-role-binding"], {"ClusterRoleBinding"}),
    "rolebindingClusterAdminClusterRole": (["cluster-admin-role-binding"], {"RoleBinding"}),
    "rolebindingClusterAdminRole": (["cluster-admin-role-binding"], {"RoleBinding"}),
}
POLARIS_UNMAPPED = {
    "automountServiceAccountToken": "podproof has no rule for service account tokens",
    "linuxHardening": "podproof has no rule that asks for seccomp, AppArmor or SELinux profiles",
    "sensitiveConfigmapContent": "podproof does not read ConfigMap data for secrets",
    "tlsSettingsMissing": "podproof has no Ingress rules",
    "deploymentMissingReplicas": "podproof has no minimum replica count",
    "hpaMaxAvailability": "podproof has no HorizontalPodAutoscaler rules of its own",
    "hpaMinAvailability": "podproof has no HorizontalPodAutoscaler rules of its own",
    "metadataAndInstanceMismatched": "podproof has no rule about recommended labels",
    "missingPodDisruptionBudget": "podproof does not ask for a PodDisruptionBudget",
    "priorityClassNotSet": "podproof has no priority class rule",
    "pullPolicyNotAlways": "podproof's rule is the opposite one (image-pull-policy-never)",
    "resourceRange": "podproof has no resource range rule",
    "topologySpreadConstraint": "podproof has no topology spread rule",
    "nakedPod": "podproof lints Pods as workloads",
    "oneController": "podproof has no rule about owner references",
}

def polaris(root):
    expected, matched, misses, extra, false_errors, unmapped, refused = 0, 0, [], [], [], {}, []
    base = os.path.join(root, "test/checks")
    for check in sorted(os.listdir(base)):
        files = sorted(os.listdir(os.path.join(base, check)))
        if check not in POLARIS:
            unmapped[check] = (sum(f.startswith("failure") for f in files), POLARIS_UNMAPPED.get(check, "no mapping"))
            continue
        rules, kinds = POLARIS[check]
        for f in files:
            path = os.path.join(base, check, f)
            _, found = lint(path)
            hits = [x for x in found if x["rule"] in rules and (kind_of(x) in (kinds or WORKLOADS))]
            if f.startswith("failure"):
                expected += 1
                if hits:
                    matched += 1
                else:
                    misses.append(f"{check}/{f}")
            else:
                if hits:
                    extra.append(f"{check}/{f}: {[h['rule'] + ' ' + str(h['line']) for h in hits]}")
                errors = [x for x in found if x["severity"] == "error"]
                # An error on a fixture that is not a valid object itself
                # (kubernetes-validate refuses it too) is no false error.
                if errors and schema_valid(path) is not False:
                    for e in errors:
                        false_errors.append(f"{check}/{f}:{e['line']}:{e['column']} {e['rule']}: {e['message']}")
                elif errors:
                    refused.append(f"{check}/{f}")
    return dict(expected=expected, matched=matched, misses=misses, extra=extra, false_errors=false_errors,
                unmapped={k: {"expected": n, "why": w} for k, (n, w) in unmapped.items()},
                invalid_fixtures=refused)

# kube-linter check -> podproof rules (same names where podproof has the check).
KUBE_LINTER = {c: [c] for c in [
    "dangling-service", "deprecated-service-account-field", "docker-sock", "drop-net-raw-capability",
    "duplicate-env-var", "env-var-secret", "host-ipc", "host-network", "host-pid", "invalid-target-ports",
    "latest-tag", "liveness-port", "mismatching-selector", "no-anti-affinity", "no-extensions-v1beta",
    "no-liveness-probe", "no-read-only-root-fs", "no-readiness-probe", "non-existent-service-account",
    "non-isolated-pod", "pdb-max-unavailable", "pdb-min-available", "pdb-unhealthy-pod-eviction-policy",
    "privilege-escalation-container", "privileged-container", "privileged-ports", "readiness-port",
    "run-as-non-root", "sensitive-host-mounts", "ssh-port", "startup-port", "unsafe-proc-mount",
    "unsafe-sysctls", "unset-cpu-requirements", "unset-memory-requirements", "writable-host-mount",
]}
KUBE_LINTER.update({
    "access-to-secrets": ["access-to-secrets"],
    "access-to-create-pods": ["access-to-create-pods"],
    "cluster-admin-role-binding": ["cluster-admin-role-binding"],
    "wildcard-in-rules": ["wildcard-in-rules"],
    "template-kubeconform": ["schema-invalid", "schema-unknown-field"],
    # A probe on a port number no containerPort has is no error for podproof
    # (the kubelet probes it anyway): it is undeclared-probe-port, an info.
    "liveness-port": ["liveness-port", "undeclared-probe-port"],
    "readiness-port": ["readiness-port", "undeclared-probe-port"],
    "startup-port": ["startup-port", "undeclared-probe-port"],
    # A numeric targetPort out of range is the API server's: schema-invalid.
    "invalid-target-ports": ["invalid-target-ports", "schema-invalid"],
})
# Kinds that are not Kubernetes': kube-linter also lints OpenShift's.
NOT_KUBERNETES = {"DeploymentConfig", "Route", "SecurityContextConstraints", "ServiceMonitor"}
KUBE_LINTER_UNMAPPED = {
    "template-cel": "CEL checks are kube-linter's own configuration",
    "dangling-horizontalpodautoscaler": "podproof has no HorizontalPodAutoscaler rules of its own",
    "dangling-ingress": "podproof has no Ingress rules",
    "dangling-networkpolicy": "podproof checks NetworkPolicies only as isolation of pods",
    "dangling-networkpolicypeer-podselector": "podproof checks NetworkPolicies only as isolation of pods",
    "dangling-servicemonitor": "podproof has no rules for custom resources",
    "default-service-account": "podproof does not ask for a service account of its own",
    "dnsconfig-options": "podproof has no dnsConfig rule",
    "env-value-from": "podproof checks valueFrom references across files (undefined-config-reference), not against kube-linter's own list",
    "exposed-services": "podproof has no rule about Service types",
    "hpa-minimum-three-replicas": "podproof has no HorizontalPodAutoscaler rules of its own",
    "job-ttl-seconds-after-finished": "podproof has no Job clean-up rule",
    "minimum-three-replicas": "podproof has no minimum replica count",
    "no-node-affinity": "podproof has no node affinity rule",
    "no-rolling-update-strategy": "podproof has no update strategy rule",
    "priority-class-name": "podproof has no priority class rule",
    "read-secret-from-env-var": "podproof does not flag Secrets read into env",
    "required-annotation-email": "kube-linter's custom template check",
    "required-label-owner": "kube-linter's custom template check",
    "restart-policy": "podproof has no restart policy rule beyond the API server's",
    "scc-deny-privileged-container": "OpenShift SecurityContextConstraints are not linted",
    "sorted-keys": "podproof does not ask for sorted keys",
    "statefulset-volumeclaimtemplate-annotation": "kube-linter's custom template check",
    "use-namespace": "podproof does not ask for a namespace",
}

def bats_tests(path):
    text = open(path).read()
    for block in text.split('@test "')[1:]:
        name = block.split('"', 1)[0]
        tmp = re.search(r'tmp="([^"]+)"', block)
        count = re.search(r'\[\[ "\$\{count\}" == "(\d+)" \]\]', block)
        msgs = re.findall(r'\[\[ "\$\{(?:message\d+|actual_messages\[\d+\])\}" (?:==|=~) "((?:[^"\\]|\\.)*)" \]\]', block)
        yield name, tmp.group(1) if tmp else None, int(count.group(1)) if count else len(msgs), [m.replace('\\"', '"') for m in msgs]

def kube_linter(root):
    expected, matched, misses, false_errors, unmapped, other_kinds = 0, 0, [], [], {}, 0
    for name, tmp, count, msgs in bats_tests(os.path.join(root, "e2etests/bats-tests.sh")):
        if not tmp:
            continue
        if name not in KUBE_LINTER:
            unmapped[name] = {"expected": count, "why": KUBE_LINTER_UNMAPPED.get(name, "no mapping")}
            continue
        rules = KUBE_LINTER[name]
        _, found = lint(os.path.join(root, tmp))
        errors = [f for f in found if f["severity"] == "error"]
        if errors and name != "template-kubeconform" and schema_valid(os.path.join(root, tmp)):
            false_errors += [f"{tmp}:{e['line']}:{e['column']} {e['rule']}: {e['message']}" for e in errors]
        pool = [f for f in found if f["rule"] in rules]
        wanted = []
        for m in msgs:
            kind, _, text = m.partition(": ")
            names = re.findall(r'"([^"]+)"', text)
            wanted.append((kind, names, m))
        # Findings the test counts without naming: of each kind in the
        # fixture's share, so those on OpenShift's kinds stay out.
        unnamed = max(0, count - len(msgs))
        if unnamed:
            kinds = re.findall(r"^kind: (\S+)", open(os.path.join(root, tmp)).read(), re.M)
            k8s = sum(1 for k in kinds if k not in NOT_KUBERNETES)
            share = round(unnamed * k8s / max(1, len(kinds)))
            other_kinds += unnamed - share
            wanted += [(None, [], "(unnamed)")] * share
        kept = [w for w in wanted if w[0] not in NOT_KUBERNETES]
        other_kinds += len(wanted) - len(kept)
        wanted = kept
        # Findings that name the container or object first, then by kind.
        used = set()
        order = sorted(range(len(wanted)), key=lambda i: -len(wanted[i][1]))
        for i in order:
            kind, names, m = wanted[i]
            expected += 1
            def fits(j, f):
                if j in used or (kind and kind_of(f) != kind):
                    return False
                return not names or any(f"`{n}`" in f["message"] or name_of(f) == n for n in names)
            j = next((j for j, f in enumerate(pool) if fits(j, f)), None)
            if j is None:
                misses.append(f"{name}: {m}")
            else:
                used.add(j)
                matched += 1
    return dict(expected=expected, matched=matched, misses=misses, false_errors=false_errors, unmapped=unmapped,
                other_kinds=other_kinds)

# kubeconform flags that change nothing podproof does (or say how to print).
KC_FLAGS = {"-summary", "-verbose", "-strict", "-ignore-missing-schemas", "-exit-on-error", "-n", "-output", "json", "tap", "text", "junit", "pretty", "-kubernetes-version"}

def kubeconform(root):
    text = open(os.path.join(root, "acceptance.bats")).read()
    verdict = {}
    for block in text.split('@test "')[1:]:
        title = block.split('"', 1)[0]
        run = re.search(r'run (?:bash -c "cat (\S+) \| )?bin/kubeconform([^\n"]*)', block)
        status = re.search(r'\[ "\$status" -eq (\d) \]', block)
        if not run or not status:
            continue
        piped, args = run.group(1), run.group(2).split()
        files = [a for a in args if a.startswith("fixtures/")] + ([piped] if piped else [])
        flags = [a for a in args if not a.startswith("fixtures/")]
        skip_next = False
        clean = True
        for a in flags:
            if skip_next:
                skip_next = False
                continue
            if a in ("-kubernetes-version", "-output", "-n"):
                skip_next = True
                continue
            if a not in KC_FLAGS:
                clean = False
        if not clean or len(files) != 1:
            continue
        f = files[0]
        strict = "-strict" in flags
        # A missing schema is kubeconform's, not the API server's: a custom
        # resource is accepted wherever its CRD is installed.
        if "-ignore-missing-schemas" not in flags and "crd" in f:
            continue
        prev = verdict.get(f)
        # kubectl validates strictly: the -strict verdict wins.
        if prev is None or strict:
            verdict[f] = (int(status.group(1)), title)
    expected, matched, misses, false_errors, valid = 0, 0, [], [], 0
    for f, (status, title) in sorted(verdict.items()):
        path = os.path.join(root, f)
        if not os.path.exists(path):
            continue
        code, found = lint(path)
        errors = [x for x in found if x["severity"] == "error"]
        if status == 1:
            expected += 1
            if code in (1, 2):
                matched += 1
            else:
                misses.append(f"{f} ({title})")
        else:
            valid += 1
            # Valid: no schema error, nor bad input.
            bad = [e for e in errors if e["rule"].startswith("schema") or e["rule"] == "mismatching-selector"]
            if code == 2:
                false_errors.append(f"{f}: refused as bad input ({title})")
            for e in bad:
                false_errors.append(f"{f}:{e['line']}:{e['column']} {e['rule']}: {e['message']}")
    return dict(expected=expected, matched=matched, misses=misses, false_errors=false_errors, unmapped={},
                valid_fixtures=valid)

results = {}
for name, fn in [("polaris", polaris), ("kube-linter", kube_linter), ("kubeconform", kubeconform)]:
    r = fn(os.path.join(work, name))
    r["commit"] = open(os.path.join(work, name + ".commit")).read().strip()
    r["unmapped_expected"] = sum(u["expected"] for u in r["unmapped"].values())
    results[name] = r
for name, r in results.items():
    pct = 100.0 * r["matched"] / max(1, r["expected"])
    all_pct = 100.0 * r["matched"] / max(1, r["expected"] + r["unmapped_expected"])
    print(f"{name} {r['commit'][:12]}: {r['matched']}/{r['expected']} expected findings ({pct:.1f}%) of the checks podproof has;"
          f" {r['unmapped_expected']} more of {len(r['unmapped'])} checks it has not ({all_pct:.1f}% of all); false errors: {len(r['false_errors'])}")
    for m in r["misses"]:
        print(f"  miss: {m}")
    for e in r["false_errors"]:
        print(f"  false error: {e}")
    if r.get("invalid_fixtures"):
        print(f"  errors on {len(r['invalid_fixtures'])} fixtures that kubernetes-validate --strict refuses too (not false errors): {', '.join(r['invalid_fixtures'])}")
    if r.get("valid_fixtures"):
        print(f"  fixtures kubeconform passes: {r['valid_fixtures']}, of which podproof reports an error on {len(r['false_errors'])}")
    if r.get("other_kinds"):
        print(f"  left out: {r['other_kinds']} expected findings on kinds that are not Kubernetes' (OpenShift's DeploymentConfig)")
    for x in r.get("extra", []):
        print(f"  also on a success fixture: {x}")
if out_path:
    json.dump(results, open(out_path, "w"), indent=2)
PYEOF
