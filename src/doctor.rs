//! Environment checks: can podman run containers here, and if not, why.
//!
//! The known failure modes of this machine kind are recognised by their
//! messages and explained with their fix.

use crate::podman;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

pub const BASE_IMAGES: &[&str] = &["localhost/podproof/busybox:latest", "localhost/podproof/debian:bookworm"];

fn check(name: &str, status: Status, detail: impl Into<String>, fix: Option<&str>) -> Check {
    Check { name: name.into(), status, detail: detail.into(), fix: fix.map(str::to_string) }
}

/// The known causes of a failed probe container, from its stderr.
pub fn diagnose(stderr: &str) -> Vec<Check> {
    let mut out = Vec::new();
    if stderr.contains("cgroups in hybrid mode") || (stderr.contains("crun") && stderr.contains("cgroup")) {
        out.push(check(
            "crun on cgroup v1 hybrid",
            Status::Fail,
            "crun cannot run containers with cgroups in hybrid mode",
            Some("use runc: `runtime = \"runc\"` under [engine] in /etc/containers/containers.conf.d/50-podproof.conf (`make setup` writes it)"),
        ));
    }
    if stderr.contains("rlimit") {
        out.push(check(
            "RLIMIT EPERM",
            Status::Fail,
            "the runtime may not raise RLIMIT_NOFILE/RLIMIT_NPROC here (no CAP_SYS_RESOURCE)",
            Some("set `default_ulimits` under [containers] to the hard limits podman runs with, e.g. [\"nofile=20000:20000\", \"nproc=32768:32768\"] (`make setup` measures and writes them)"),
        ));
    }
    // netavark sets up NAT by running a firewall command it does not depend on as a
    // package, so a new machine fails here. netavark before 1.10 runs iptables and
    // says only "netavark: No such file or directory (os error 2)"; from 1.10 the
    // nftables driver says "nftables error: unable to execute nft".
    if stderr.contains("unable to execute nft") || stderr.contains("nftables error") {
        out.push(check(
            "netavark firewall",
            Status::Fail,
            "netavark runs `nft` to set up the container network, and nft is missing",
            Some("install the nftables package: `apt-get install nftables` (`make setup` installs it)"),
        ));
    } else if stderr.contains("netavark")
        && (stderr.contains("iptables") || stderr.contains("No such file or directory"))
    {
        out.push(check(
            "netavark firewall",
            Status::Fail,
            "netavark runs `iptables` to set up the container network, and iptables is missing",
            Some("install the iptables package: `apt-get install iptables` (`make setup` installs it)"),
        ));
    }
    if stderr.contains("/dev/net/tun") || stderr.contains("slirp4netns") && stderr.contains("tun") {
        out.push(check("/dev/net/tun", Status::Fail, "rootless networking needs /dev/net/tun", Some(TUN_FIX)));
    }
    out
}

const TUN_FIX: &str = "as root: `mkdir -p /dev/net && mknod /dev/net/tun c 10 200 && chmod 0666 /dev/net/tun`";

fn tun_usable() -> Result<(), String> {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun").map(|_| ()).map_err(|e| e.to_string())
}

/// What rootless podman needs beyond /dev/net/tun: subordinate ids and
/// newuidmap; and what it cannot do here (limits on cgroups v1).
fn rootless_checks(cgroups_v1: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let uid = rustix::process::getuid().as_raw().to_string();
    let has_ids = |file: &str| {
        std::fs::read_to_string(file)
            .is_ok_and(|t| t.lines().any(|l| l.split(':').next().is_some_and(|who| who == user || who == uid)))
    };
    if has_ids("/etc/subuid") && has_ids("/etc/subgid") {
        out.push(check("subordinate ids", Status::Ok, "in /etc/subuid and /etc/subgid", None));
    } else {
        out.push(check(
            "subordinate ids",
            Status::Fail,
            format!("no /etc/subuid or /etc/subgid entry for {user} (uid {uid})"),
            Some("as root: `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER`, then `podman system migrate`"),
        ));
    }
    let newuidmap = ["/usr/bin/newuidmap", "/usr/sbin/newuidmap", "/bin/newuidmap"];
    if !newuidmap.iter().any(|p| std::path::Path::new(p).exists()) {
        out.push(check("newuidmap", Status::Fail, "newuidmap is missing", Some("as root: `apt-get install uidmap`")));
    }
    if cgroups_v1 {
        out.push(check(
            "resource limits",
            Status::Warn,
            "rootless podman cannot enforce limits on cgroups v1; podproof leaves them out of played pods",
            None,
        ));
    }
    out
}

/// Known vulnerabilities of the installed podman that matter to podproof's
/// users, from podman's release notes.
pub fn advisories(v: &podman::Version) -> Vec<Check> {
    let mut out = Vec::new();
    if (v.major, v.minor, v.patch) < (5, 6, 1) {
        out.push(check(
            "CVE-2025-9566",
            Status::Warn,
            format!("podman {v} is older than 5.6.1: Kubernetes YAML run by `podman kube play` with ConfigMap or Secret volumes can overwrite files on the host through crafted symlinks. podproof's own runs project ConfigMaps and Secrets into host directories of its own instead of podman's volumes, so they do not take that path; a bare `podman kube play` of the same YAML does"),
            Some("upgrade podman to 5.6.1 or later, or check that your distribution's podman has the fix backported (its changelog names CVE-2025-9566)"),
        ));
    }
    out
}

/// Runs every check. The probe container is labelled like everything podproof
/// makes and removed by `--rm`.
pub fn run() -> Vec<Check> {
    let mut out = Vec::new();
    let version = match podman::version() {
        Ok(v) => v,
        Err(e) => {
            out.push(check("podman", Status::Fail, format!("podman is not usable: {}", e.stderr.trim()), Some("run `make setup` (as root on Debian it installs podman, runc, busybox-static, debootstrap and uidmap)")));
            return out;
        }
    };
    let vstatus = if version.at_least(4, 3) { Status::Ok } else { Status::Warn };
    out.push(check(
        "podman",
        vstatus,
        format!("version {version} (generation {})", version.generation()),
        (vstatus == Status::Warn).then_some("podproof needs podman 4.3 or later"),
    ));
    out.extend(advisories(&version));
    for a in version.adaptations() {
        let name = format!("podman {}.{}+", a.since.0, a.since.1);
        out.push(check(&name, Status::Ok, format!("podman {}; podproof {}", a.podman, a.podproof), None));
    }
    let (api, driver) = podman::describe_driver();
    out.push(check(
        "driver",
        if api { Status::Ok } else { Status::Warn },
        driver,
        (!api).then_some("podproof works through the CLI, more slowly; `podman system service` must be able to start"),
    ));
    let runtime = podman::info_field("{{.Host.OCIRuntime.Name}}").unwrap_or_default();
    let cgroups = podman::info_field("{{.Host.CgroupsVersion}}").unwrap_or_default();
    let manager = podman::info_field("{{.Host.CgroupManager}}").unwrap_or_default();
    let rootless = podman::is_rootless();
    out.push(check("runtime", Status::Ok, format!("OCI runtime {runtime}, cgroups {cgroups} ({manager})"), None));
    if runtime == "crun" && cgroups == "v1" {
        out.push(check(
            "crun on cgroup v1 hybrid",
            Status::Warn,
            "crun with cgroup v1 fails on this machine kind with \"cgroups in hybrid mode\"",
            Some("use runc (see below if the probe fails)"),
        ));
    }
    out.push(check("mode", Status::Ok, if rootless { "rootless" } else { "rootful (root)" }, None));
    if rootless {
        out.extend(rootless_checks(cgroups == "v1"));
    }
    match tun_usable() {
        Ok(()) => out.push(check("/dev/net/tun", Status::Ok, "usable (rootless networking works)", None)),
        Err(e) => out.push(check(
            "/dev/net/tun",
            if rootless { Status::Fail } else { Status::Warn },
            format!("cannot open /dev/net/tun: {e}{}", if rootless { "" } else { " (only rootless podman needs it)" }),
            Some(TUN_FIX),
        )),
    }
    let mut probe_image = None;
    for img in BASE_IMAGES {
        match podman::image_exists(img) {
            Ok(true) => {
                out.push(check(&format!("image {img}"), Status::Ok, "present", None));
                probe_image.get_or_insert(img.to_string());
            }
            _ => out.push(check(
                &format!("image {img}"),
                Status::Warn,
                "missing base image",
                Some(if rootless {
                    "copy it from root's store: `sudo podman save --format oci-archive IMAGE | podman load` (no registry is reachable)"
                } else {
                    "run `make setup` (it builds the local base images; no registry is reachable)"
                }),
            )),
        }
    }
    let label = format!("{}=doctor-{}", crate::render::LABEL_RUN, std::process::id());
    let mut args: Vec<String> = ["run", "--rm", "--label", &label].iter().map(|s| s.to_string()).collect();
    match &probe_image {
        Some(img) => args.extend([img.clone(), "true".into()]),
        // With no image, the host's own root file system can still probe the runtime.
        None => args.extend(["--rootfs".into(), "/".into(), "true".into()]),
    }
    match podman::run_unchecked(&args, None) {
        Ok(o) if o.status == 0 => {
            out.push(check("probe container", Status::Ok, "a container starts and exits cleanly", None))
        }
        Ok(o) => {
            let known = diagnose(&o.stderr);
            out.push(check(
                "probe container",
                Status::Fail,
                format!("`{}` failed: {}", podman::command_line(&args), o.stderr.trim()),
                known.is_empty().then_some("see the error above; `make setup` fixes the known causes"),
            ));
            out.extend(known);
        }
        Err(e) => out.push(check("probe container", Status::Fail, e.stderr, None)),
    }
    out
}

/// podman cannot run a container when the probe failed or podman is missing.
pub fn can_run(checks: &[Check]) -> bool {
    !checks.iter().any(|c| (c.name == "probe container" || c.name == "podman") && c.status == Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_diag(stderr: &str, expect: &[&str]) {
        let got: Vec<String> = diagnose(stderr).into_iter().map(|c| c.name).collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn known_failures() {
        check_diag(
            "Error: crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2: OCI runtime error",
            &["crun on cgroup v1 hybrid"],
        );
        check_diag("error setting rlimit type 7: operation not permitted: OCI permission denied", &["RLIMIT EPERM"]);
        check_diag("Error: netavark: No such file or directory (os error 2)", &["netavark firewall"]);
        check_diag(
            "Error: netavark: nftables error: unable to execute nft: No such file or directory (os error 2)",
            &["netavark firewall"],
        );
        check_diag("Error: netavark: iptables: command not found", &["netavark firewall"]);
        check_diag("all good", &[]);
    }

    #[test]
    fn podman_before_5_6_1_gets_the_cve_warning() {
        let names = |v: &str| -> Vec<String> {
            advisories(&podman::Version::parse(v).expect("a version")).into_iter().map(|c| c.name).collect()
        };
        assert_eq!(names("4.3.1"), ["CVE-2025-9566"]);
        assert_eq!(names("5.4.2"), ["CVE-2025-9566"]);
        assert_eq!(names("5.6.0"), ["CVE-2025-9566"]);
        assert!(names("5.6.1").is_empty());
        assert!(names("5.8.0").is_empty());
    }

    #[test]
    fn the_netavark_fix_names_the_package() {
        let fix = |stderr: &str| diagnose(stderr).remove(0).fix.unwrap_or_default();
        assert!(fix("Error: netavark: No such file or directory (os error 2)").contains("apt-get install iptables"));
        assert!(fix("netavark: nftables error: unable to execute nft").contains("apt-get install nftables"));
    }
}
