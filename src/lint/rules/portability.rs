//! Cluster portability: what works on this machine but not once promoted.

use super::*;
use crate::podview::Form;
use crate::reload;
use crate::validation::kinds;

/// Host directories that exist only on the machine that wrote the manifest.
const HOST_SPECIFIC: &[&str] = &["/home", "/Users", "/root", "/mnt", "/media", "/run/user", "/var/folders"];

/// The machine-specific directory (a home, a removable mount) `path` is under.
pub fn host_specific(path: &str) -> Option<&'static str> {
    HOST_SPECIFIC.iter().copied().find(|d| path == *d || path.starts_with(&format!("{d}/")))
}

/// Whether `api` is an API version a current cluster no longer serves.
pub fn is_removed(api: &str) -> bool {
    kinds::is_removed(api)
}

/// What replaces a removed `api` for `kind`: the version that serves it now,
/// or none (PodSecurityPolicy went with policy/v1beta1).
fn replacement(kind: &str) -> String {
    match (kind, kinds::served_at(kind)) {
        ("PodSecurityPolicy", _) => {
            "PodSecurityPolicy was removed in Kubernetes 1.25 with no replacement kind: use Pod Security Admission (namespace labels `pod-security.kubernetes.io/*`)".into()
        }
        (_, Some(to)) => format!("use `{to}`"),
        (_, None) => "no current version serves this kind".into(),
    }
}

pub fn api_version(ctx: &mut Ctx, api: &str, kind: &str) {
    if !is_removed(api) || kinds::is_served(api, kind) {
        return;
    }
    let rule = if api.starts_with("extensions/") || api == "networking.k8s.io/v1beta1" {
        &NO_EXTENSIONS_V1BETA
    } else {
        &REMOVED_API_VERSION
    };
    ctx.value(rule, "/apiVersion", format!("{kind} `{api}` was removed from Kubernetes; {}", replacement(kind)));
}

pub fn pod(ctx: &mut Ctx, pod: &PodView) {
    let spec = &*pod.spec;
    for (vp, vol) in items(spec, "volumes", "") {
        let Some(path) = vol.get("hostPath").and_then(|h| s(h, "path")) else { continue };
        let ptr = pod.ptr(&format!("{vp}/hostPath/path"));
        if !path.starts_with('/') {
            let named =
                if path.contains('/') { "" } else { " (podman even takes a name without `/` for a named volume)" };
            let msg = format!("hostPath `{path}` is relative: podman resolves it against its working directory{named}, a cluster node against the kubelet's");
            ctx.value(&RELATIVE_HOST_PATH, &ptr, msg);
        } else if let Some(d) = host_specific(path) {
            ctx.value(
                &HOST_SPECIFIC_HOST_PATH,
                &ptr,
                format!("hostPath `{path}` is under `{d}`, which cluster nodes do not share with this machine"),
            );
        }
    }
    if spec.get("serviceAccount").is_some() {
        ctx.key(
            &DEPRECATED_SERVICE_ACCOUNT_FIELD,
            &pod.ptr("/serviceAccount"),
            "`serviceAccount` is deprecated; use `serviceAccountName`",
        );
    }
    for (cp, c, _) in pod.containers() {
        let name = s(c, "name").unwrap_or("?");
        if s(c, "imagePullPolicy") == Some("Never") {
            ctx.value(&IMAGE_PULL_POLICY_NEVER, &pod.ptr(&format!("{cp}/imagePullPolicy")), format!("container `{name}` never pulls its image; a cluster node that lacks it fails with ErrImageNeverPull"));
        }
        if let Some(sc) = c.get("securityContext").and_then(|sc| sc.get("capabilities")) {
            for list in ["add", "drop"] {
                for (ip, cap) in items(sc, list, &format!("{cp}/securityContext/capabilities")) {
                    if let Some(cap) = cap.as_str().filter(|c| c.to_ascii_uppercase().starts_with("CAP_")) {
                        ctx.value(
                            &CAPABILITY_NAME_PREFIX,
                            &pod.ptr(&ip),
                            format!("`{cap}`: Kubernetes names capabilities without CAP_ (`{}`)", &cap[4..]),
                        );
                    }
                }
            }
        }
    }
    if pod.form == Form::Manifest {
        stale_config(ctx, pod);
    }
}

/// Whether `image` names an image only this machine has.
fn is_local(image: &str) -> bool {
    ["localhost/", "localhost:", "127.0.0.1"].iter().any(|p| image.starts_with(p))
}

/// Local image names: `localhost/...` or a registry on this machine, unless
/// promotion renames them (podproof.yaml's `promote.imageMap`, or its run-time
/// `images:` read backwards) to one a cluster can pull.
pub fn image(ctx: &mut Ctx, ptr: &str, image: &str) {
    if !is_local(image) {
        return;
    }
    let msg = match ctx.opts.config.promoted_as(image) {
        Some(to) if !is_local(&to) => return,
        Some(to) => format!("image `{image}` exists only on this machine, and podproof.yaml promotes it as `{to}`, which is local too"),
        None => format!("image `{image}` exists only on this machine and podproof.yaml maps it to no registry image (`promote.imageMap` or `images:`)"),
    };
    ctx.value(&LOCAL_IMAGE, ptr, msg);
}

/// ConfigMap uses that never see updates, in a pod that expects live reloads.
fn stale_config(ctx: &mut Ctx, pod: &PodView) {
    let Some(value) = pod.annotation(reload::ANNOTATION) else { return };
    let ann = format!(
        "{}/annotations/{}",
        pod.meta.as_ref().map(|(_, p)| p.as_str()).unwrap_or(""),
        crate::yaml::escape(reload::ANNOTATION)
    );
    let policy = match reload::parse(value) {
        Ok(reload::Action::Restart) => return,
        Ok(a) => a,
        Err(e) => {
            ctx.value(&SCHEMA_INVALID, &ann, format!("{}: {e}", reload::ANNOTATION));
            return;
        }
    };
    let spec = &*pod.spec;
    let cm_volumes: Vec<&str> = items(spec, "volumes", "")
        .filter(|(_, v)| {
            v.get("configMap").is_some()
                || v.get("projected")
                    .and_then(|p| p.get("sources"))
                    .and_then(Value::as_sequence)
                    .is_some_and(|s| s.iter().any(|x| x.get("configMap").is_some()))
        })
        .filter_map(|(_, v)| s(v, "name"))
        .collect();
    for (cp, c, _) in pod.containers() {
        let name = s(c, "name").unwrap_or("?");
        for (mp, m) in items(c, "volumeMounts", &cp) {
            if s(m, "subPath").is_some_and(|p| !p.is_empty()) && s(m, "name").is_some_and(|n| cm_volumes.contains(&n)) {
                let msg = format!("`{name}` mounts ConfigMap volume `{}` with subPath, which a kubelet never updates, but the pod expects `{policy}` reloads", s(m, "name").unwrap_or(""));
                ctx.key(&RELOAD_STALE_CONFIG, &pod.ptr(&format!("{mp}/subPath")), msg);
            }
        }
        for (ep, e) in items(c, "env", &cp) {
            if let Some(r) = e.get("valueFrom").and_then(|v| v.get("configMapKeyRef")) {
                let msg = format!("env `{}` of `{name}` comes from ConfigMap `{}`, and env never updates, but the pod expects `{policy}` reloads", s(e, "name").unwrap_or("?"), s(r, "name").unwrap_or("?"));
                ctx.key(&RELOAD_STALE_CONFIG, &pod.ptr(&format!("{ep}/valueFrom")), msg);
            }
        }
        for (ep, e) in items(c, "envFrom", &cp) {
            if let Some(r) = e.get("configMapRef") {
                let msg = format!("`{name}` reads ConfigMap `{}` into env, which never updates, but the pod expects `{policy}` reloads", s(r, "name").unwrap_or("?"));
                ctx.key(&RELOAD_STALE_CONFIG, &pod.ptr(&format!("{ep}/configMapRef")), msg);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::{config, Options, Target};

    /// Lints a pod running `image` with podproof.yaml's `images:` and
    /// `promote.imageMap` as given; expects the `local-image` messages.
    fn check(images: &[(&str, &str)], promote: &[(&str, &str)], image: &str, expect: &str) {
        let pairs = |p: &[(&str, &str)]| p.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect();
        let project = crate::config::Config {
            images: pairs(images),
            promote: crate::config::PromoteDefaults { image_map: pairs(promote) },
            ..Default::default()
        };
        let mut config = config::Config::default();
        config.image_map = config::promotion_map(&project, &[]);
        let opts =
            Options { podman: crate::podman::Version::parse("4.3").expect("a version"), target: Target::Both, config };
        let text = format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - name: a\n      image: {image}\n");
        let docs = crate::yaml::parse_stream(&text).expect("valid YAML");
        let (mut out, mut facts) = (Vec::new(), Facts::default());
        check_file(&docs, &opts, 0, &mut out, &mut facts);
        let got: Vec<String> = out
            .iter()
            .filter(|f| f.rule.id == LOCAL_IMAGE.id)
            .map(|f| format!("{}:{} {}", f.line, f.column, f.message))
            .collect();
        assert_eq!(got.join("\n"), expect, "{images:?} {promote:?} {image}");
    }

    #[test]
    fn local_images() {
        let none = "7:14 image `localhost/app:1` exists only on this machine and podproof.yaml maps it to no registry image (`promote.imageMap` or `images:`)";
        check(&[], &[], "localhost/app:1", none);
        check(&[], &[], "nginx:1.25", "");
        check(&[], &[("localhost/app", "registry.example.com/app")], "localhost/app:1", "");
        check(&[], &[("localhost/", "registry.example.com/")], "localhost/app:1", "");
        // The run-time map read backwards: the manifest's own name goes to the cluster.
        check(&[("registry.example.com/app:1", "localhost/app:1")], &[], "localhost/app:1", "");
        check(&[("gcr.io/acme/", "localhost/")], &[], "localhost/app:1", "");
        check(&[("registry.example.com/app:1", "localhost/app:2")], &[], "localhost/app:1", none);
        // Promotion's own entry wins over `images:` for the same local image.
        check(
            &[("registry.example.com/app:1", "localhost/app:1")],
            &[("localhost/app:1", "localhost/other:1")],
            "localhost/app:1",
            "7:14 image `localhost/app:1` exists only on this machine, and podproof.yaml promotes it as `localhost/other:1`, which is local too",
        );
        check(&[("localhost/a:1", "localhost/app:1")], &[], "localhost/app:1", "7:14 image `localhost/app:1` exists only on this machine, and podproof.yaml promotes it as `localhost/a:1`, which is local too");
    }
}
