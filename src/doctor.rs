//! Environment checks: can podman run containers here, and if not, why.
//!
//! The known failure modes of this machine kind are recognised by their
//! messages and explained with their fix.

use crate::host::{Overlay, RootlessStorage};
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

impl Check {
    fn with_fix(mut self, fix: String) -> Check {
        self.fix = Some(fix);
        self
    }
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
    if stderr.contains("not supported over overlayfs") {
        out.push(check(
            "rootless storage",
            Status::Fail,
            "podman's overlay driver cannot stack on the overlayfs that holds the store",
            Some(OVERLAY_FIX),
        ));
    }
    if stderr.contains("/dev/net/tun") || stderr.contains("slirp4netns") && stderr.contains("tun") {
        out.push(check("/dev/net/tun", Status::Fail, "rootless networking needs /dev/net/tun", Some(TUN_FIX)));
    }
    out
}

const OVERLAY_FIX: &str = "install fuse-overlayfs (`apt-get install fuse-overlayfs`) and make it the mount program: `mount_program = \"/usr/bin/fuse-overlayfs\"` under [storage.options.overlay] in the user's ~/.config/containers/storage.conf (as root, `make setup` does both for the user podproof-rootless)";

/// Whether a rootless store can use podman's overlay driver where it would sit
/// (see `host::rootless_storage`): nothing to say off overlayfs; on it, the mount
/// program that makes it work, or the fix.
pub fn storage_checks(s: &RootlessStorage) -> Vec<Check> {
    let name = format!("rootless storage ({})", s.user);
    let store = s.graphroot.display();
    let config = s.config.as_ref().map_or("no storage.conf".to_string(), |c| c.display().to_string());
    match &s.overlay {
        Overlay::Native => Vec::new(),
        Overlay::OtherDriver(d) => vec![check(
            &name,
            Status::Ok,
            format!("{store} is on overlayfs; the {d} driver ({config}) works there without a mount program"),
            None,
        )],
        Overlay::MountProgram(p) => {
            let program = if p.ends_with("/fuse-overlayfs") { format!("fuse-overlayfs ({p})") } else { p.clone() };
            let mut out = Vec::new();
            if !std::path::Path::new(p).exists() {
                out.push(check(
                    &name,
                    Status::Fail,
                    format!("{store} is on overlayfs and {config} makes {p} the mount program, but {p} is missing"),
                    Some("install fuse-overlayfs: `apt-get install fuse-overlayfs` (`make setup` installs it)"),
                ));
            } else {
                out.push(check(
                    &name,
                    Status::Ok,
                    format!("{store} is on overlayfs; {program} is the mount program ({config})"),
                    None,
                ));
            }
            if !s.fuse_usable {
                out.push(check(
                    "/dev/fuse",
                    Status::Fail,
                    format!("{} cannot open /dev/fuse, which {program} needs", s.user),
                    Some("as root: `chmod 0666 /dev/fuse` (`make setup` does it), or `mknod /dev/fuse c 10 229` first if it is missing"),
                ));
            }
            out
        }
        // With fuse-overlayfs installed, podman 5.4 was seen to run there without a
        // storage.conf naming it, so that case is a warning: nothing configures it.
        Overlay::Unsupported if s.fuse_installed => vec![check(
            &name,
            Status::Warn,
            format!(
                "{store} would be on overlayfs, and {config} gives podman's overlay driver no mount program; fuse-overlayfs is installed and podman may choose it on its own, but nothing here configures it"
            ),
            None,
        )
        .with_fix(format!(
            "make it the mount program: `mount_program = \"/usr/bin/fuse-overlayfs\"` under [storage.options.overlay] in {}, beside `driver = \"overlay\"` under [storage] (as root, `make setup` writes it for the user podproof-rootless)",
            s.user_config.display()
        ))],
        Overlay::Unsupported => vec![check(
            &name,
            Status::Fail,
            format!(
                "{store} would be on overlayfs, and {config} gives podman's overlay driver no mount program: podman fails with \"'overlay' is not supported over overlayfs, a mount_program is required\""
            ),
            None,
        )
        .with_fix(format!(
            "install fuse-overlayfs (`apt-get install fuse-overlayfs`) and make it the mount program: `mount_program = \"/usr/bin/fuse-overlayfs\"` under [storage.options.overlay] in {}, beside `driver = \"overlay\"` under [storage] (as root, `make setup` does both for the user podproof-rootless)",
            s.user_config.display()
        ))],
    }
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
    // As root, the user the set-up prepares for rootless podman: its store may sit
    // on the overlay root of a CI container while root's is on a volume.
    if let Some(s) = crate::host::rootless_storage() {
        out.extend(storage_checks(&s));
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

    /// One rootless store's verdict, and the checks doctor prints for it: names,
    /// statuses and whether the detail names the mount program.
    fn check_storage(overlay: Overlay, fuse_installed: bool, expect: &[(&str, Status)], detail: &str) {
        let s = RootlessStorage {
            user: "podproof-rootless".into(),
            graphroot: "/home/podproof-rootless/.local/share/containers/storage".into(),
            config: None,
            user_config: "/home/podproof-rootless/.config/containers/storage.conf".into(),
            overlay,
            fuse_usable: fuse_installed,
            fuse_installed,
        };
        let got = storage_checks(&s);
        let names: Vec<(&str, Status)> = got.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(names, expect);
        assert!(got.first().is_none_or(|c| c.detail.contains(detail)), "{got:?}");
    }

    #[test]
    fn a_rootless_store_on_overlayfs_is_named_with_its_fix() {
        let name = "rootless storage (podproof-rootless)";
        check_storage(Overlay::Native, false, &[], "");
        check_storage(Overlay::Unsupported, false, &[(name, Status::Fail)], "not supported over overlayfs");
        check_storage(Overlay::Unsupported, true, &[(name, Status::Warn)], "nothing here configures it");
        // /bin/sh stands in for an installed mount program.
        check_storage(
            Overlay::MountProgram("/bin/sh".into()),
            true,
            &[(name, Status::Ok)],
            "/bin/sh is the mount program",
        );
        check_storage(
            Overlay::MountProgram("/bin/sh".into()),
            false,
            &[(name, Status::Ok), ("/dev/fuse", Status::Fail)],
            "mount program",
        );
        check_storage(
            Overlay::MountProgram("/no/such/fuse-overlayfs".into()),
            true,
            &[(name, Status::Fail)],
            "/no/such/fuse-overlayfs is missing",
        );
        check_storage(Overlay::OtherDriver("vfs".into()), true, &[(name, Status::Ok)], "vfs driver");
        let fix = diagnose("Error: 'overlay' is not supported over overlayfs, a mount_program is required: backing file system is unsupported for this graph driver");
        assert_eq!(fix.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["rootless storage"]);
        assert!(fix[0].fix.as_deref().unwrap_or_default().contains("apt-get install fuse-overlayfs"));
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
