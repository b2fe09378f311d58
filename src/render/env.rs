//! Resolving env vars that come from ConfigMaps and Secrets.
//!
//! podman 4.3 cannot read Secrets for env (and crashes on Secret volumes), so
//! the podman flavour writes the values in. As in Kubernetes, these values are
//! read once at start and never follow later updates.

use super::SECRET_MASK;
use crate::app::App;
use k8s_openapi::api::core::v1 as core;

/// Replaces `valueFrom` config/secret refs and `envFrom` with literal values.
pub fn resolve(app: &App, c: &mut core::Container, reveal: bool) -> Result<(), String> {
    let mut out: Vec<core::EnvVar> = Vec::new();
    for from in c.env_from.take().unwrap_or_default() {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(r) = &from.config_map_ref {
            match app.config_map(&r.name) {
                Some(cm) => {
                    for (k, v) in cm.data.iter().flatten() {
                        push(&mut out, format!("{prefix}{k}"), v.clone());
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "container `{}`: envFrom names ConfigMap `{}`, which is not defined",
                        c.name, r.name
                    ))
                }
            }
        }
        if let Some(r) = &from.secret_ref {
            match app.secret(&r.name) {
                Some(s) => {
                    for (k, v) in s.data.iter().flatten() {
                        push(&mut out, format!("{prefix}{k}"), secret_value(&v.0, reveal));
                    }
                }
                None if r.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "container `{}`: envFrom names Secret `{}`, which is not defined",
                        c.name, r.name
                    ))
                }
            }
        }
    }
    for mut e in c.env.take().unwrap_or_default() {
        if let Some(vf) = &e.value_from {
            if let Some(r) = &vf.config_map_key_ref {
                let v = app.config_map(&r.name).and_then(|cm| cm.data.as_ref()?.get(&r.key).cloned());
                match v {
                    Some(v) => {
                        e.value = Some(v);
                        e.value_from = None;
                    }
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(format!(
                            "env `{}`: key `{}` of ConfigMap `{}` is not defined",
                            e.name, r.key, r.name
                        ))
                    }
                }
            } else if let Some(r) = &vf.secret_key_ref {
                let v = app.secret(&r.name).and_then(|s| s.data.as_ref()?.get(&r.key).map(|b| b.0.clone()));
                match v {
                    Some(v) => {
                        e.value = Some(secret_value(&v, reveal));
                        e.value_from = None;
                    }
                    None if r.optional == Some(true) => continue,
                    None => {
                        return Err(format!("env `{}`: key `{}` of Secret `{}` is not defined", e.name, r.key, r.name))
                    }
                }
            }
        }
        push_var(&mut out, e);
    }
    c.env = (!out.is_empty()).then_some(out);
    Ok(())
}

fn secret_value(bytes: &[u8], reveal: bool) -> String {
    if reveal {
        String::from_utf8_lossy(bytes).to_string()
    } else {
        SECRET_MASK.to_string()
    }
}

fn push(out: &mut Vec<core::EnvVar>, name: String, value: String) {
    push_var(out, core::EnvVar { name, value: Some(value), value_from: None });
}

/// Later definitions win, as in Kubernetes (env over envFrom, last over first).
fn push_var(out: &mut Vec<core::EnvVar>, var: core::EnvVar) {
    if let Some(existing) = out.iter_mut().find(|e| e.name == var.name) {
        *existing = var;
    } else {
        out.push(var);
    }
}
