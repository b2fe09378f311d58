//! Facts about the host that decide what podman can do here, read from the
//! process and the kernel without asking podman: who runs podproof and which
//! cgroup hierarchy is mounted, and where a rootless store would sit. The
//! fidelity ledger needs them as much as the podman driver and doctor do.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Whether this process is not root, so the podman it drives is rootless.
/// Unlike `podman::is_rootless`, which asks podman (for `doctor`), it costs no call.
pub fn rootless_user() -> bool {
    !rustix::process::geteuid().is_root()
}

/// Whether podman can enforce resource limits here. Rootless podman on
/// cgroups v1 cannot: runc fails the container with "cannot set memory limit".
pub fn limits_enforced() -> bool {
    static ENFORCED: OnceLock<bool> = OnceLock::new();
    *ENFORCED.get_or_init(|| !rootless_user() || cgroups_v2())
}

/// Whether /sys/fs/cgroup is the unified (v2) hierarchy.
fn cgroups_v2() -> bool {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    rustix::fs::statfs("/sys/fs/cgroup").is_ok_and(|st| st.f_type == CGROUP2_SUPER_MAGIC)
}

/// Where a user's rootless podman keeps its images, and what would let its
/// overlay driver work there. Inside a container whose root is overlayfs (CI's
/// `container:` jobs) a store under the home directory sits on overlayfs, and
/// the kernel's overlay cannot stack on it: podman fails with "'overlay' is not
/// supported over overlayfs, a mount_program is required".
#[derive(Debug, Clone)]
pub struct RootlessStorage {
    /// The user whose store it is.
    pub user: String,
    /// The store (graphroot), which may not exist yet.
    pub graphroot: PathBuf,
    /// The storage.conf podman reads for that user, if any exists.
    pub config: Option<PathBuf>,
    /// The user's own storage.conf, where a mount program is configured.
    pub user_config: PathBuf,
    /// What the store's file system and the configuration decide.
    pub overlay: Overlay,
    /// Whether the user can open /dev/fuse, which fuse-overlayfs needs.
    pub fuse_usable: bool,
    /// Whether /usr/bin/fuse-overlayfs is installed.
    pub fuse_installed: bool,
}

/// What podman's overlay driver meets in a rootless store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// The store is not on overlayfs, so the kernel's overlay works.
    Native,
    /// On overlayfs, with this mount program (fuse-overlayfs) configured.
    MountProgram(String),
    /// On overlayfs, with a driver other than overlay configured (vfs).
    OtherDriver(String),
    /// On overlayfs with the overlay driver and no mount program: podman fails.
    Unsupported,
}

/// The keys of a containers-storage.conf(5) that decide the overlay question.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StorageConf {
    pub driver: Option<String>,
    pub graphroot: Option<String>,
    pub mount_program: Option<String>,
}

/// Reads the few keys podproof needs from storage.conf text. The file is TOML,
/// but these are plain `key = "string"` lines in known tables, so a line reader
/// does instead of a TOML dependency for three keys. `mount_program` is read
/// under `[storage.options.overlay]` and, as containers-storage still accepts
/// it, under the older `[storage.options]`.
pub fn parse_storage_conf(text: &str) -> StorageConf {
    let mut conf = StorageConf::default();
    let mut table = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split_once(']')).map(|(n, _)| n) {
            table = name.trim().trim_matches('"').to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.trim().trim_matches('"');
        let value = value.trim();
        let Some(value) = value.strip_prefix('"').and_then(|v| v.split_once('"')).map(|(v, _)| v.to_string()) else {
            continue;
        };
        match (table.as_str(), key) {
            ("storage", "driver") => conf.driver = Some(value),
            ("storage", "graphroot") => conf.graphroot = Some(value),
            ("storage.options.overlay" | "storage.options", "mount_program") => conf.mount_program = Some(value),
            _ => {}
        }
    }
    conf
}

/// The decision: a store on overlayfs needs a mount program for the overlay
/// driver (podman's default when none is configured), and an empty one counts
/// as none.
pub fn overlay_verdict(on_overlayfs: bool, conf: &StorageConf) -> Overlay {
    if !on_overlayfs {
        return Overlay::Native;
    }
    match conf.driver.as_deref() {
        Some(d) if !d.is_empty() && d != "overlay" => return Overlay::OtherDriver(d.to_string()),
        _ => {}
    }
    match conf.mount_program.as_deref() {
        Some(p) if !p.is_empty() => Overlay::MountProgram(p.to_string()),
        _ => Overlay::Unsupported,
    }
}

/// Whether the file system holding `path`, or its nearest existing parent, is
/// overlayfs.
pub fn on_overlayfs(path: &Path) -> bool {
    const OVERLAYFS_SUPER_MAGIC: i64 = 0x794c_7630;
    path.ancestors()
        .find(|p| p.exists())
        .and_then(|p| rustix::fs::statfs(p).ok())
        .is_some_and(|st| st.f_type == OVERLAYFS_SUPER_MAGIC)
}

/// The user `scripts/setup.sh rootless` prepares (`PODPROOF_ROOTLESS_USER`).
pub fn setup_rootless_user() -> String {
    std::env::var("PODPROOF_ROOTLESS_USER").ok().filter(|u| !u.is_empty()).unwrap_or("podproof-rootless".into())
}

/// The rootless store of this process's user when it is not root, or, as root,
/// of the user the set-up prepares for rootless podman (None when that user does
/// not exist). The rootless defaults are those of containers-storage.conf(5): the
/// user's storage.conf replaces the system's, and the store is
/// `$XDG_DATA_HOME/containers/storage` unless that file names a graphroot.
pub fn rootless_storage() -> Option<RootlessStorage> {
    let (user, home, config_home, data_home) = if rootless_user() {
        let home = PathBuf::from(std::env::var_os("HOME")?);
        let xdg = |var: &str, default: &str| {
            std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| home.join(default))
        };
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
        (user, home.clone(), xdg("XDG_CONFIG_HOME", ".config"), xdg("XDG_DATA_HOME", ".local/share"))
    } else {
        let user = setup_rootless_user();
        let home = passwd_home(&std::fs::read_to_string("/etc/passwd").ok()?, &user)?;
        (user, home.clone(), home.join(".config"), home.join(".local/share"))
    };
    let user_config = config_home.join("containers/storage.conf");
    let config =
        [user_config.clone(), "/etc/containers/storage.conf".into(), "/usr/share/containers/storage.conf".into()]
            .into_iter()
            .find(|p| p.is_file());
    let conf = config.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).map(|t| parse_storage_conf(&t));
    let conf = conf.unwrap_or_default();
    // A graphroot in the system's file is root's store; only the user's own file
    // moves the rootless one.
    let graphroot = match (&conf.graphroot, config.as_ref() == Some(&user_config)) {
        (Some(g), true) if !g.is_empty() => PathBuf::from(g.replace("$HOME", &home.to_string_lossy())),
        _ => data_home.join("containers/storage"),
    };
    let overlay = overlay_verdict(on_overlayfs(&graphroot), &conf);
    let fuse_usable = if rootless_user() {
        std::fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").is_ok()
    } else {
        // Root cannot try the open as that user; the mode says whether others may.
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata("/dev/fuse").is_ok_and(|m| m.permissions().mode() & 0o006 == 0o006)
    };
    let fuse_installed = Path::new("/usr/bin/fuse-overlayfs").is_file();
    Some(RootlessStorage { user, graphroot, config, user_config, overlay, fuse_usable, fuse_installed })
}

/// The home directory of `user` in /etc/passwd text.
fn passwd_home(passwd: &str, user: &str) -> Option<PathBuf> {
    passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() >= 7 && f[0] == user).map(|f| f[5].into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One storage.conf text on a file system that is or is not overlayfs, and
    /// the verdict.
    fn check(on_overlayfs: bool, conf: &str, expect: Overlay) {
        assert_eq!(overlay_verdict(on_overlayfs, &parse_storage_conf(conf)), expect, "{conf}");
    }

    #[test]
    fn a_store_on_overlayfs_needs_a_mount_program() {
        use Overlay::*;
        let fuse = || MountProgram("/usr/bin/fuse-overlayfs".into());
        // ext4 and the like: nothing to do, whatever the file says.
        check(false, "", Native);
        check(false, "[storage]\ndriver = \"overlay\"\n", Native);
        // overlayfs without a file, or with the overlay driver and no mount program.
        check(true, "", Unsupported);
        check(true, "[storage]\ndriver = \"overlay\"\n", Unsupported);
        check(true, "[storage]\ndriver = \"overlay\"\n[storage.options.overlay]\n#mount_program = \"/usr/bin/fuse-overlayfs\"\n", Unsupported);
        check(true, "[storage.options.overlay]\nmount_program = \"\"\n", Unsupported);
        // A key of another table does not count.
        check(true, "[storage.options.thinpool]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n", Unsupported);
        // What scripts/setup.sh writes, and the older table.
        check(
            true,
            "# Written by podproof scripts/setup.sh.\n[storage]\ndriver = \"overlay\"\n\n[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n",
            fuse(),
        );
        check(
            true,
            "[storage]\ndriver=\"overlay\"\n[storage.options]\nmount_program = \"/usr/bin/fuse-overlayfs\" # fuse\n",
            fuse(),
        );
        check(true, "[ storage.options.overlay ]\n  mount_program = \"/usr/bin/fuse-overlayfs\"\n", fuse());
        // Another driver works there without one.
        check(true, "[storage]\ndriver = \"vfs\"\n", OtherDriver("vfs".into()));
    }

    #[test]
    fn the_file_names_a_rootless_graphroot() {
        let conf =
            parse_storage_conf("[storage]\ndriver = \"overlay\"\ngraphroot = \"/srv/store\"\nrunroot = \"/run/x\"\n");
        assert_eq!(conf.graphroot.as_deref(), Some("/srv/store"));
        assert_eq!(conf.driver.as_deref(), Some("overlay"));
        assert_eq!(
            passwd_home("root:x:0:0:root:/root:/bin/bash\npr:x:1000:1000::/home/pr:/bin/bash\n", "pr"),
            Some("/home/pr".into())
        );
        assert_eq!(passwd_home("root:x:0:0:root:/root:/bin/bash\n", "pr"), None);
    }

    #[test]
    fn this_host_sees_overlayfs_only_where_it_is() {
        // /proc is never overlayfs; a missing path is judged by its nearest parent.
        assert!(!on_overlayfs(Path::new("/proc")));
        assert_eq!(on_overlayfs(Path::new("/proc/no/such/dir")), on_overlayfs(Path::new("/proc")));
    }
}
