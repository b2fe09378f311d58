use super::*;

/// Validates the one document `input` (its apiVersion and kind decide the
/// rules) and compares `pointer: message` lines, in order, with `expect`.
fn check(input: &str, expect: &str) {
    let v: Value = crate::yaml::parse_stream(input).expect("test input parses").remove(0).value;
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or_default().to_string();
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    let got: Vec<String> = object(&v, &api, &kind).0.iter().map(|i| format!("{} {}", i.pointer, i.message)).collect();
    let want: Vec<&str> = expect.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(got, want, "\n{}", got.join("\n"));
}

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n";

#[test]
fn valid_objects_have_no_issues() {
    check(
        &format!(
            "{POD}  containers: [{{name: web, image: 'nginx:1.25', ports: [{{containerPort: 80, name: http}}]}}]\n"
        ),
        "",
    );
    check("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: 'system:aggregated-metrics-reader'}\nrules: []\n", "");
    check("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: None, selector: {app: web}}\n", "");
}

#[test]
fn names_and_labels() {
    check("apiVersion: v1\nkind: Pod\nmetadata: {name: Web, labels: {'a b': x, ok: 'not ok'}}\nspec:\n  containers: [{name: web, image: nginx}]\n", r#"
        /metadata/name name `Web` is not a valid DNS-1123 name (lowercase letters, digits, '-' and '.')
        /metadata/labels/a b `metadata.labels`: Invalid value: "a b": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')
        /metadata/labels/ok `metadata.labels.ok`: Invalid value: "not ok": a valid label value must be empty or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character
    "#);
    check(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: 'a/b'}\n",
        "/metadata/name name `a/b` is not a valid RBAC name (anything but `.` and `..`, without '/' or '%')",
    );
    check("apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\nspec: {ports: [{port: 80}]}\n", "/metadata/name name `1web` is not a valid DNS-1035 label (lowercase letters, digits and '-', starting with a letter)");
}

#[test]
fn containers_ports_env_mounts() {
    check(&format!("{POD}  initContainers: [{{name: web, image: busybox}}]\n  containers:\n    - name: web\n      image: 'Nginx'\n      ports: [{{containerPort: 0, hostPort: 80}}, {{containerPort: 81, hostPort: 80, name: http}}, {{containerPort: 82, name: http, protocol: tcp}}]\n      env: [{{name: 'A=B', value: x}}, {{name: C, value: x, valueFrom: {{}}}}]\n      envFrom: [{{prefix: P}}]\n      volumeMounts: [{{name: data, mountPath: /d}}, {{name: data, mountPath: /d}}]\n"), r#"
        /spec/containers/0/name `spec.containers[0].name`: Duplicate value: "web": container names are unique across containers and initContainers
        /spec/containers/0/image `spec.containers[0].image`: Invalid value: "Nginx": is not a valid image reference: repository names are lowercase letters, digits and separators, with an optional registry host, `:tag` and `@digest`
        /spec/containers/0/ports/0/containerPort `spec.containers[0].ports[0].containerPort`: Invalid value: 0: must be between 1 and 65535, inclusive
        /spec/containers/0/ports/2/name `spec.containers[0].ports[2].name`: Duplicate value: "http"
        /spec/containers/0/ports/2/protocol `spec.containers[0].ports[2].protocol`: Unsupported value: "tcp": supported values: "TCP", "UDP", "SCTP"
        /spec/containers/0/env/0/name `spec.containers[0].env[0].name`: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='
        /spec/containers/0/env/1/valueFrom `spec.containers[0].env[1].valueFrom`: Invalid value: may not be specified when `value` is not empty
        /spec/containers/0/env/1/valueFrom `spec.containers[0].env[1].valueFrom`: Invalid value: must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`
        /spec/containers/0/envFrom/0 `spec.containers[0].envFrom[0]`: Invalid value: must specify one of: `configMapRef` or `secretRef`
        /spec/containers/0/volumeMounts/0/name `spec.containers[0].volumeMounts[0].name`: Not found: "data": no volume of the pod has this name
        /spec/containers/0/volumeMounts/1/name `spec.containers[0].volumeMounts[1].name`: Not found: "data": no volume of the pod has this name
        /spec/containers/0/volumeMounts/1/mountPath `spec.containers[0].volumeMounts[1].mountPath`: Invalid value: "/d": must be unique
        /spec/containers/0/ports/1/hostPort `spec.containers[0].ports[1].hostPort`: Duplicate value: "80/TCP"
    "#);
}

#[test]
fn volumes_resources_probes() {
    check(&format!("{POD}  volumes: [{{name: a}}, {{name: a, emptyDir: {{}}, hostPath: {{path: /x}}}}, {{name: c, configMap: {{name: c, defaultMode: 1000}}}}]\n  containers:\n    - name: web\n      image: nginx\n      resources: {{limits: {{cpu: 1, memory: 1Gx}}, requests: {{cpu: '2', gpu: 1}}}}\n      livenessProbe: {{exec: {{command: [echo]}}, httpGet: {{port: 80}}, periodSeconds: -1, successThreshold: 2}}\n      readinessProbe: {{}}\n"), r#"
        /spec/volumes/1/name `spec.volumes[1].name`: Duplicate value: "a"
        /spec/volumes/1/emptyDir `spec.volumes[1].emptyDir`: Forbidden: may not specify more than 1 volume type
        /spec/volumes/2/configMap/defaultMode `spec.volumes[2].configMap.defaultMode`: Invalid value: 1000: must be a number between 0 and 0777 (octal), both inclusive
        /spec/containers/0/resources/limits/memory `spec.containers[0].resources.limits.memory`: Invalid value: "1Gx": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (a quantity such as 500m, 128Mi or 1Gi)
        /spec/containers/0/resources/requests/cpu `spec.containers[0].resources.requests.cpu`: Invalid value: "2": must be less than or equal to cpu limit of 1
        /spec/containers/0/resources/requests/gpu `spec.containers[0].resources.requests`: Invalid value: "gpu": must be a standard resource type or fully qualified
        /spec/containers/0/livenessProbe/httpGet `spec.containers[0].livenessProbe.httpGet`: Forbidden: may not specify more than 1 handler type
        /spec/containers/0/livenessProbe/periodSeconds `spec.containers[0].livenessProbe.periodSeconds`: Invalid value: -1: must be greater than or equal to 0
        /spec/containers/0/livenessProbe/successThreshold `spec.containers[0].livenessProbe.successThreshold`: Invalid value: 2: must be 1
        /spec/containers/0/readinessProbe `spec.containers[0].readinessProbe`: Required value: must specify a handler type
    "#);
}

#[test]
fn budgets() {
    let pdb =
        |spec: &str| format!("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: b}}\nspec: {spec}\n");
    check(
        &pdb("{minAvailable: 150%}"),
        r#"/spec/minAvailable `spec.minAvailable`: Invalid value: "150%": must not be greater than 100%"#,
    );
    check(&pdb("{minAvailable: 100%, selector: {}}"), "");
    check(
        &pdb("{maxUnavailable: half}"),
        r#"/spec/maxUnavailable `spec.maxUnavailable`: Invalid value: "half": a valid percent string must be a numeric string followed by an ending '%'"#,
    );
    check(
        &pdb("{minAvailable: 1, maxUnavailable: 1}"),
        "/spec/maxUnavailable `spec.maxUnavailable`: Invalid value: minAvailable and maxUnavailable cannot be both set",
    );
    check(
        &pdb("{maxUnavailable: 1, unhealthyPodEvictionPolicy: Never}"),
        r#"/spec/unhealthyPodEvictionPolicy `spec.unhealthyPodEvictionPolicy`: Unsupported value: "Never": supported values: "IfHealthyBudget", "AlwaysAllow""#,
    );
}

#[test]
fn unserved_kinds() {
    check(
        "apiVersion: v1\nkind: Pood\nmetadata: {name: p}\n",
        "/kind apiVersion `v1` serves no kind `Pood`; did you mean `Pod` (v1)?",
    );
    check("apiVersion: example.com/v1\nkind: Pood\nmetadata: {name: p}\n", "");
}

#[test]
fn workloads() {
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: -1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: other}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: web, image: nginx}]\n";
    check(
        deploy,
        r#"
        /spec/replicas `spec.replicas`: Invalid value: -1: must be greater than or equal to 0
        /spec/template/metadata/labels `spec.template.metadata.labels`: Invalid value: `selector` does not match template `labels`
        /spec/template/spec/restartPolicy `spec.template.spec.restartPolicy`: Unsupported value: "Never": supported values: "Always"
    "#,
    );
    check("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}}\n", "/spec/template/spec/containers Deployment `web` has no containers");
    check("apiVersion: batch/v1\nkind: Job\nmetadata: {name: once}\nspec:\n  template:\n    spec:\n      containers: [{name: once, image: busybox}]\n", r#"/spec/template/spec/restartPolicy `spec.template.spec.restartPolicy`: Unsupported value: "Always": supported values: "OnFailure", "Never""#);
    check("apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  schedule: '61 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{name: once, image: busybox}]\n", r#"/spec/schedule `spec.schedule`: Invalid value: "61 * * * *": end of range (61) above maximum (59) or beginning below minimum (0): 61"#);
    check("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  selector: {matchLabels: {app: db}}\n  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      containers: [{name: db, image: postgres, volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]}]\n", "");
}

#[test]
fn services_config_secrets_claims() {
    check("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePorts\n  ports: [{port: 80, targetPort: http-port-too-long}, {name: b, port: 80, nodePort: 30000}]\n", r#"
        /spec/type `spec.type`: Unsupported value: "NodePorts": supported values: "ClusterIP", "NodePort", "LoadBalancer", "ExternalName"
        /spec/ports/0/name `spec.ports[0].name`: Required value
        /spec/ports/0/targetPort `spec.ports[0].targetPort`: Invalid value: "http-port-too-long": must be no more than 15 characters
        /spec/ports/1/port `spec.ports[1].port`: Duplicate value: "80/TCP"
        /spec/ports/1/nodePort `spec.ports[1].nodePort`: Forbidden: may not be used when `type` is 'NodePorts'
    "#);
    check(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {'a/b': x, ok: z}\nbinaryData: {ok: eQ==}\n",
        r#"
        /data/a~1b `data`: Invalid value: "a/b": a valid config key must consist of alphanumeric characters, '-', '_' or '.'
        /binaryData/ok `binaryData.ok`: Invalid value: duplicate of key present in data
    "#,
    );
    check(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n",
        "/data/tls.key `data.tls.key`: Required value",
    );
    check(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: c}\nspec: {accessModes: [ReadWriteSometimes]}\n",
        r#"
        /spec/accessModes/0 `spec.accessModes[0]`: Unsupported value: "ReadWriteSometimes": supported values: "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"
        /spec/resources/requests/storage `spec.resources.requests.storage`: Required value
    "#,
    );
}
