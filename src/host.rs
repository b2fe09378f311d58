//! Facts about the host that decide what podman can do here, read from the
//! process and the kernel without asking podman: who runs podproof and which
//! cgroup hierarchy is mounted. The fidelity ledger needs them as much as the
//! podman driver does.

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
