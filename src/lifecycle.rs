//! KubeDirector lifecycle events, played the way the KubeDirector controller
//! does them (see shared/reference/kubedirector.md):
//!
//! - the config package is prepared once per container under /opt/guestconfig;
//! - /etc/guestconfig/configmeta.json is written before configure, and
//!   refreshed on every membership change before addnodes/delnodes;
//! - `startscript --configure` runs on new members, with the same
//!   configure.status/stdout/stderr files KubeDirector writes;
//! - existing members get `--addnodes` on expansion; every member, the leaving
//!   ones included, gets `--delnodes` on shrink, before the pods go;
//! - an event missing from the role's eventList is skipped and logged.
//!
//! Scripts run with bash from the image through `podman exec -i ... bash -s`,
//! with the script on stdin, as KubeDirector runs them through pods/exec.

use crate::app::{App, ConfigPackage, Role};
pub use crate::env::{domain, fqdn};
use crate::env::{Env, Log, Member};
use crate::error::{Error, Result};
use crate::podman;
use serde_json::json;
use std::time::Duration;

/// How long one event script may run.
const EVENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The container KubeDirector runs events in: the first one of the pod.
fn container(m: &Member) -> String {
    m.container(m.containers.first().map(String::as_str).unwrap_or("app"))
}

/// Runs a bash script (on stdin) in the member's container.
fn bash(m: &Member, script: &str, args: &[&str]) -> Result<podman::Output> {
    let mut cmd = vec!["bash".to_string(), "-s".to_string(), "--".to_string()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    let out = podman::exec_until(&container(m), &cmd, Some(script.as_bytes()), Some(EVENT_TIMEOUT))?;
    if (out.status == 126 || out.status == 127) && out.stderr.contains("bash") {
        return Err(Error::failed(format!("{}: the image has no bash; KubeDirector's scripts need bash", m.pod))
            .because(out.stderr.trim().to_string()));
    }
    Ok(out)
}

const SETUP: &str = r#"set -u
force=$1; source=$2
if [ "$force" != force ] && ls /opt/guestconfig/*/startscript >/dev/null 2>&1; then exit 0; fi
command -v tar >/dev/null 2>&1 || { echo "the image has no tar: KubeDirector needs it to unpack the config package" >&2; exit 97; }
mkdir -p /opt/guestconfig && chmod 700 /opt/guestconfig && rm -rf /opt/guestconfig/* /opt/guestconfig/.[!.]* 2>/dev/null
if [ -n "$source" ]; then
  [ -f "$source" ] || { echo "config package $source does not exist in the image" >&2; exit 98; }
  cp "$source" /opt/guestconfig/appconfig.tgz
  case "$source" in /tmp/podproof-*) rm -f "$source" ;; esac
fi
cd /opt/guestconfig || exit 1
tar xzf appconfig.tgz || exit 1
chmod +x */startscript 2>/dev/null
rm -f appconfig.tgz
ls */startscript >/dev/null 2>&1 || { echo "the config package has no */startscript" >&2; exit 99; }
"#;

/// Prepares the config package in a member's container (once per container;
/// `force` prepares it again, for a restarted container).
pub fn setup_package(env: &Env, m: &Member, role: &Role, force: bool) -> Result<()> {
    let Some(pkg) = &role.config_package else { return Ok(()) };
    let source = match pkg {
        ConfigPackage::InImage(path) => path.clone(),
        ConfigPackage::Host(path) => {
            // A directory next to the definition is packed on the host and copied
            // in; set-up then treats it like a package inside the image.
            let tgz = env.dir.join(format!("appconfig-{}.tgz", m.pod));
            pack(path, &tgz)?;
            podman::cp_into(&tgz, &container(m), "/tmp/podproof-appconfig.tgz")?;
            let _ = std::fs::remove_file(&tgz);
            "/tmp/podproof-appconfig.tgz".to_string()
        }
    };
    let force_arg = if force || matches!(pkg, ConfigPackage::Host(_)) { "force" } else { "once" };
    let out = bash(m, SETUP, &[force_arg, &source])?;
    if out.status != 0 {
        return Err(Error::failed(format!("{}: preparing the config package failed (exit {})", m.pod, out.status))
            .because(format!("{}{}", out.stdout, out.stderr).trim().to_string()));
    }
    Ok(())
}

/// Packs a host directory (or copies a tarball) into `out` as a gzipped tar,
/// its entries under the directory's name, as `tar czf OUT -C PARENT NAME`
/// would write them (links are stored as links, not followed).
fn pack(src: &std::path::Path, out: &std::path::Path) -> Result<()> {
    if src.is_file() {
        std::fs::copy(src, out)?;
        return Ok(());
    }
    let name = src.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let write = || -> std::io::Result<()> {
        let gz = flate2::write::GzEncoder::new(std::fs::File::create(out)?, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        tar.follow_symlinks(false);
        tar.append_dir_all(&name, src)?;
        tar.into_inner()?.finish()?.sync_all()
    };
    write().map_err(|e| Error::runtime(format!("cannot pack {}", src.display())).because(e.to_string()))
}

/// A member's node id: stable across scaling (role position and index).
fn node_id(app: &App, role: &str, index: u32) -> String {
    let pos = app.roles.iter().position(|r| r.name == role).unwrap_or(0) as u32;
    (pos * 1000 + index + 1).to_string()
}

/// configmeta.json for member `m`, in KubeDirector's structure.
pub fn configmeta(app: &App, m: &Member) -> serde_json::Value {
    let kd = app.kubedirector.as_ref();
    let distro = kd.map(|k| k.distro_id.clone()).unwrap_or_else(|| app.name.clone());
    let version = kd.map(|k| k.version.clone()).unwrap_or_default();
    let mut roles = serde_json::Map::new();
    for r in &app.roles {
        let names = r.member_names();
        let fqdns: Vec<String> = names.iter().map(|n| fqdn(app, n)).collect();
        let ids: Vec<String> = (0..r.members).map(|i| node_id(app, &r.name, i)).collect();
        let mappings: serde_json::Map<String, serde_json::Value> =
            fqdns.iter().zip(&ids).map(|(f, i)| (f.clone(), json!(i))).collect();
        let res = r
            .template
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.resources.clone())
            .unwrap_or_default();
        let req = |k: &str| {
            res.requests
                .as_ref()
                .and_then(|q| q.get(k))
                .or_else(|| res.limits.as_ref().and_then(|q| q.get(k)))
                .map(|q| q.0.clone())
                .unwrap_or_default()
        };
        let services: serde_json::Map<String, serde_json::Value> = kd
            .map(|k| {
                let ids: Vec<String> = k
                    .role_services
                    .iter()
                    .filter(|rs| rs.role_id == r.name)
                    .flat_map(|rs| rs.service_ids.clone())
                    .collect();
                k.services
                    .iter()
                    .filter(|s| ids.contains(&s.id))
                    .map(|s| (s.id.clone(), service_json(s, &fqdns)))
                    .collect()
            })
            .unwrap_or_default();
        roles.insert(
            r.name.clone(),
            json!({
                "node_ids": ids,
                "hostnames": names,
                "fqdns": fqdns,
                "fqdn_mappings": mappings,
                "flavor": {"cores": req("cpu"), "memory": req("memory"), "storage": "", "name": "custom"},
                "services": services,
            }),
        );
    }
    let all_services: serde_json::Map<String, serde_json::Value> =
        kd.map(|k| k.services.iter().map(|s| (s.id.clone(), json!({"id": s.id, "endpoint": s.endpoint.as_ref().map(|e| json!({"port": e.port, "url_scheme": e.url_scheme}))}))).collect()).unwrap_or_default();
    json!({
        "version": "7",
        "services": all_services,
        "nodegroups": {"1": {
            "roles": roles,
            "distro_id": distro,
            "catalog_entry_version": version,
            "config_metadata": {},
        }},
        "distros": {distro.clone(): {"1": {"bdvlibrefkey": ["nodegroups", "1"]}}},
        "cluster": {"name": kd.map(|k| k.cluster_name.clone()).unwrap_or_else(|| app.name.clone()), "isolated": false, "id": cluster_id(app), "config_metadata": {}},
        "node": {
            "role_id": m.role,
            "nodegroup_id": "1",
            "id": node_id(app, &m.role, m.index),
            "hostname": m.name,
            "fqdn": fqdn(app, &m.name),
            "domain": domain(app),
            "distro_id": distro,
            "depends_on": {},
        },
        "connections": {"clusters": {}, "configmaps": {}, "secrets": {}},
    })
}

fn service_json(s: &crate::app::kubedirector::KdService, fqdns: &[String]) -> serde_json::Value {
    let e = s.endpoint.clone();
    let scheme = e.as_ref().and_then(|e| e.url_scheme.clone());
    let port = e.as_ref().and_then(|e| e.port);
    let endpoints: Vec<String> = match (&scheme, port) {
        (Some(sc), Some(p)) => fqdns.iter().map(|f| format!("{sc}://{f}:{p}")).collect(),
        (None, Some(p)) => fqdns.iter().map(|f| format!("{f}:{p}")).collect(),
        _ => Vec::new(),
    };
    json!({"qualifiers": [], "name": s.id, "id": s.id, "hostnames": fqdns, "global_endpoint": null, "endpoints": endpoints})
}

/// A stable cluster id, so configmeta.json is the same in every run.
fn cluster_id(app: &App) -> String {
    let h = crate::digest::sha256_hex(app.name.as_bytes());
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Writes /etc/guestconfig/configmeta.json into a member.
pub fn write_configmeta(app: &App, m: &Member) -> Result<()> {
    let text = serde_json::to_string_pretty(&configmeta(app, m)).expect("json serializes") + "\n";
    let out = podman::exec_until(
        &container(m),
        &["sh".into(), "-c".into(), "mkdir -p /etc/guestconfig && cat > /etc/guestconfig/configmeta.json".into()],
        Some(text.as_bytes()),
        Some(EVENT_TIMEOUT),
    )?;
    if out.status != 0 {
        return Err(Error::runtime(format!("{}: cannot write configmeta.json", m.pod)).because(out.stderr));
    }
    Ok(())
}

const CONFIGURE: &str = r#"rm -f /opt/guestconfig/configure.*
printf '%s=' "$1" > /opt/guestconfig/configure.status
/opt/guestconfig/*/startscript --configure > /opt/guestconfig/configure.stdout 2> /opt/guestconfig/configure.stderr
printf '%s' "$?" >> /opt/guestconfig/configure.status
"#;

/// Runs configure as KubeDirector does; a non-zero exit is a "config error"
/// whose message carries the script's stdout and stderr.
pub fn configure(m: &Member, log: Log) -> Result<()> {
    let id = podman::inspect_containers(&[container(m)])?.into_iter().next().map(|s| s.id).unwrap_or_default();
    let out = bash(m, CONFIGURE, &[&id])?;
    if out.status != 0 {
        return Err(
            Error::runtime(format!("{}: cannot run configure", m.pod)).because(format!("{}{}", out.stdout, out.stderr))
        );
    }
    let files = podman::exec(&container(m), &["sh".into(), "-c".into(), "cat /opt/guestconfig/configure.status; echo; echo ---; cat /opt/guestconfig/configure.stdout; echo ---; cat /opt/guestconfig/configure.stderr".into()], None)?;
    let mut parts = files.stdout.splitn(3, "\n---\n");
    let status = parts.next().unwrap_or("").trim().to_string();
    let stdout = parts.next().unwrap_or("").to_string();
    let stderr = parts.next().unwrap_or("").to_string();
    let code = status.rsplit('=').next().unwrap_or("");
    if code == "0" {
        let l = format!("configure ran on {}", m.name);
        log(&l);
        return Ok(());
    }
    Err(Error::failed(format!("member {} is in config error: configure failed with exit status {code}", m.name))
        .because(format!("configure.stdout:\n{}", stdout.trim_end()))
        .because(format!("configure.stderr:\n{}", stderr.trim_end())))
}

/// Sends `--addnodes` or `--delnodes` to one member.
pub fn notify(m: &Member, event: &str, role: &str, fqdns: &[String], log: Log) -> Result<String> {
    let flag = format!("--{event}");
    let list = fqdns.join(",");
    let out = bash(
        m,
        "exec /opt/guestconfig/*/startscript \"$@\"",
        &[&flag, "--nodegroup", "1", "--role", role, "--fqdns", &list],
    )?;
    let line = format!("{event} sent to {} (--fqdns {list}): exit {}", m.name, out.status);
    log(&line);
    if out.status != 0 {
        return Err(Error::failed(format!("{event} failed on {} with exit status {}", m.name, out.status))
            .because(format!("stdout:\n{}\nstderr:\n{}", out.stdout.trim_end(), out.stderr.trim_end())));
    }
    Ok(line)
}

/// Events for members that just became ready: package set-up, configmeta and
/// configure on the new members; then configmeta refresh and addnodes on the
/// members that were there before. Returns one line per event, in order.
pub fn on_start(env: &Env, new: &[Member], existing: &[Member], log: Log) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for m in new {
        let (app, role) = app_role(env, m)?;
        if !role.has_events() {
            continue;
        }
        setup_package(env, m, role, false)?;
        write_configmeta(app, m)?;
        if role.wants("configure") {
            record(env, m, "configure", configure(m, log))?;
            lines.push(format!("configure ran on {}", m.name));
        } else {
            let l = format!("initial config skipped for member{{{}}} in role{{{}}}", m.name, role.name);
            log(&l);
            lines.push(l);
        }
    }
    lines.extend(notify_role_change(env, "addnodes", new, existing, log)?);
    Ok(lines)
}

/// Events before members leave: configmeta refresh, then delnodes to every
/// member of the role, the leaving ones included.
pub fn on_shrink(env: &Env, leaving: &[Member], staying: &[Member], log: Log) -> Result<Vec<String>> {
    let mut all: Vec<Member> = staying.to_vec();
    all.extend(leaving.iter().cloned());
    notify_role_change(env, "delnodes", leaving, &all, log)
}

/// Refreshes configmeta on `targets` and sends them `event` naming `changed`, role by role.
fn notify_role_change(env: &Env, event: &str, changed: &[Member], targets: &[Member], log: Log) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut roles: Vec<(String, String)> = changed.iter().map(|m| (m.app.clone(), m.role.clone())).collect();
    roles.dedup();
    for (app_name, role_name) in roles {
        let Some(app) = env.app(&app_name) else { continue };
        let Some(role) = app.role(&role_name) else { continue };
        if !role.has_events() {
            continue;
        }
        let fqdns: Vec<String> =
            changed.iter().filter(|m| m.role == role_name && m.app == app_name).map(|m| fqdn(app, &m.name)).collect();
        let receivers: Vec<&Member> = targets
            .iter()
            .filter(|m| m.app == app_name && env.role_of(m).map(|r| r.has_events()).unwrap_or(false))
            .collect();
        for m in &receivers {
            write_configmeta(app, m)?;
        }
        if !role.wants(event) {
            let l = format!("notify skipped for members in role{{{role_name}}} ({event})");
            log(&l);
            lines.push(l);
            continue;
        }
        for m in receivers {
            lines.push(record(env, m, event, notify(m, event, &role_name, &fqdns, log))?);
        }
    }
    Ok(lines)
}

/// A restarted container is a new container to KubeDirector: its package is
/// prepared again and configure runs again.
pub fn on_restart(env: &Env, m: &Member, log: Log) -> Result<Vec<String>> {
    let (app, role) = app_role(env, m)?;
    if !role.has_events() {
        return Ok(Vec::new());
    }
    setup_package(env, m, role, true)?;
    write_configmeta(app, m)?;
    if role.wants("configure") {
        record(env, m, "configure", configure(m, log))?;
        return Ok(vec![format!("configure ran on {}", m.name)]);
    }
    let l = format!("initial config skipped for member{{{}}} in role{{{}}}", m.name, role.name);
    log(&l);
    Ok(vec![l])
}

/// KubeDirector's events as the environment's lifecycle hooks (`env::LifecycleHooks`):
/// `Env::start` and `Env::scale` call them; restarts call `on_restart` themselves.
pub struct KubeDirector;

impl crate::env::LifecycleHooks for KubeDirector {
    fn on_start(&self, env: &Env, new: &[Member], existing: &[Member], log: Log) -> Result<Vec<String>> {
        on_start(env, new, existing, log)
    }
    fn on_shrink(&self, env: &Env, leaving: &[Member], staying: &[Member], log: Log) -> Result<Vec<String>> {
        on_shrink(env, leaving, staying, log)
    }
}

/// Re-sends one event by hand (the `event` step).
pub fn resend(env: &Env, m: &Member, event: &str, log: Log) -> Result<Vec<String>> {
    let (app, role) = app_role(env, m)?;
    if !role.has_events() {
        return Err(Error::runtime(format!("role `{}` has no config package, so it takes no events", role.name)));
    }
    write_configmeta(app, m)?;
    match event {
        "configure" => {
            record(env, m, "configure", configure(m, log)).map(|_| vec![format!("configure ran on {}", m.name)])
        }
        _ => {
            let others: Vec<String> = env
                .members
                .iter()
                .filter(|o| o.app == m.app && o.role == m.role && o.name != m.name)
                .map(|o| fqdn(app, &o.name))
                .collect();
            record(env, m, event, notify(m, event, &role.name, &others, log)).map(|l| vec![l])
        }
    }
}

/// The timeline reason of a KubeDirector event, e.g. `AddNodes`.
fn reason(event: &str) -> String {
    match event {
        "configure" => "Configure".into(),
        "addnodes" => "AddNodes".into(),
        "delnodes" => "DelNodes".into(),
        other => {
            let mut c = other.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        }
    }
}

/// What a successful event says on the timeline.
trait Said {
    fn said(&self, event: &str, m: &Member) -> String;
}

/// configure: that it ran.
impl Said for () {
    fn said(&self, event: &str, m: &Member) -> String {
        format!("{event} ran on {}", m.name)
    }
}

/// addnodes/delnodes: the line with the fqdns and the exit status.
impl Said for String {
    fn said(&self, _: &str, _: &Member) -> String {
        self.clone()
    }
}

/// Puts a KubeDirector event's result on the member's pod timeline: a
/// Normal entry when it succeeded, a `Failed...` Warning with the error's
/// headline when it did not.
fn record<T: Said>(env: &Env, m: &Member, event: &str, r: Result<T>) -> Result<T> {
    let reason = reason(event);
    match &r {
        Ok(said) => env.kubelet.timeline.normal(&m.pod, &reason, said.said(event, m)),
        Err(e) => env.kubelet.timeline.warning(
            &m.pod,
            &format!("Failed{reason}"),
            format!("{event} on {}: {}", m.name, e.headline()),
        ),
    }
    r
}

fn app_role<'a>(env: &'a Env, m: &Member) -> Result<(&'a App, &'a Role)> {
    let app = env.app(&m.app).ok_or_else(|| Error::runtime(format!("unknown app {}", m.app)))?;
    let role = app.role(&m.role).ok_or_else(|| Error::runtime(format!("unknown role {}", m.role)))?;
    Ok((app, role))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_config_package_is_the_directory_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("appconfig");
        std::fs::create_dir_all(pkg.join("scripts")).unwrap();
        std::fs::write(pkg.join("startscript"), "#!/bin/sh\n").unwrap();
        std::fs::write(pkg.join("scripts/x.sh"), "echo x\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", pkg.join("link")).unwrap();
        let out = dir.path().join("appconfig.tgz");
        super::pack(&pkg, &out).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&out).unwrap()));
        let mut got: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                format!("{} {:?}", e.path().unwrap().display(), e.header().entry_type())
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "appconfig/ Directory",
                "appconfig/link Symlink",
                "appconfig/scripts Directory",
                "appconfig/scripts/x.sh Regular",
                "appconfig/startscript Regular"
            ]
        );
    }

    #[test]
    fn event_reasons() {
        let check = |event: &str, expect: &str| assert_eq!(super::reason(event), expect, "{event}");
        check("configure", "Configure");
        check("addnodes", "AddNodes");
        check("delnodes", "DelNodes");
        check("restart", "Restart");
        check("", "");
    }
}
