//! The run network's Linux bridge on the host: its MAC address is pinned.
//!
//! A Linux bridge whose address was never set takes the lowest MAC of its
//! ports, so it changes whenever a pod's veth joins or leaves. netavark before
//! 1.9 leaves it that way ("bridge: force static mac on bridge interface" in
//! its 1.9 release notes). The other pods keep the old MAC of the gateway in
//! their ARP caches, so their packets to the gateway (aardvark-dns among them)
//! are dropped until that entry expires, 15 to 45 s later. Seen here on podman
//! 4.3 / netavark 1.4: after `restart` recreated one KubeDirector member, DNS
//! queries from the other member to the gateway timed out for about 20 s; with
//! the bridge's MAC pinned they were answered at once, two restarts in a row.
//!
//! Pinning writes the bridge's current address back to it (SIOCSIFHWADDR),
//! which makes the kernel treat it as set (`addr_assign_type` 3) and keep it.
//! netavark 1.9 and later pin it themselves, so there it is already set and
//! nothing is done. It needs root: a rootless pod's bridge lives in rootless
//! podman's own network namespace, which is not entered here.

use std::net::Ipv4Addr;

/// `NET_ADDR_SET`: the address was set explicitly and no port changes it.
const NET_ADDR_SET: &str = "3";

/// Pins the MAC of the bridge that holds `gateway`, unless it is already
/// pinned. Returns what was done, for the log; errors are returned as text,
/// since a bridge left dynamic only costs time, never correctness.
pub fn pin_mac(gateway: Ipv4Addr) -> Result<Option<String>, String> {
    let Some(name) = interface_with(gateway)? else { return Ok(None) };
    let sys = std::path::Path::new("/sys/class/net").join(&name);
    let assigned = std::fs::read_to_string(sys.join("addr_assign_type")).map_err(|e| format!("{name}: {e}"))?;
    if assigned.trim() == NET_ADDR_SET {
        return Ok(None);
    }
    let text = std::fs::read_to_string(sys.join("address")).map_err(|e| format!("{name}: {e}"))?;
    let mac = parse_mac(text.trim()).ok_or_else(|| format!("{name}: unexpected address {:?}", text.trim()))?;
    set_mac(&name, mac).map_err(|e| format!("cannot pin the MAC of bridge {name}: {e}"))?;
    Ok(Some(format!("pinned the MAC of bridge {name} ({}), so pods joining or leaving do not change it", text.trim())))
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in &mut out {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The name of the host interface that has `addr`, if any.
fn interface_with(addr: Ipv4Addr) -> Result<Option<String>, String> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| format!("getifaddrs: {e}"))?;
    for ifa in addrs {
        let v4 = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()).map(|sin| sin.ip());
        if v4 == Some(addr) {
            return Ok(Some(ifa.interface_name));
        }
    }
    Ok(None)
}

/// Sets an interface's hardware address (SIOCSIFHWADDR). No well-kept crate
/// wraps this ioctl safely (nix and rustix offer only unsafe ioctl calls, and
/// a netlink crate is far larger than this one call), so its one unsafe block
/// is here; the socket that carries it is std's.
fn set_mac(name: &str, mac: [u8; 6]) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad interface name"));
    }
    // A plain datagram socket, closed when dropped; it only carries the ioctl.
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    // SAFETY: ifreq is plain data, for which all zeroes is a valid value;
    // SIOCSIFHWADDR reads its name and the ifru_hwaddr member of its union,
    // both written here; the socket is open and `ifr` outlives the call.
    let rc = unsafe {
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
            *d = *s as libc::c_char;
        }
        ifr.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in ifr.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
            *d = s as libc::c_char;
        }
        libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFHWADDR, &ifr)
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<[u8; 6]>) {
        assert_eq!(parse_mac(input), expect, "{input}");
    }

    #[test]
    fn macs() {
        check("4a:12:bb:a4:b3:93", Some([0x4a, 0x12, 0xbb, 0xa4, 0xb3, 0x93]));
        check("4a:12:bb:a4:b3", None);
        check("4a:12:bb:a4:b3:93:00", None);
        check("zz:12:bb:a4:b3:93", None);
        check("", None);
    }

    #[test]
    fn an_address_no_interface_has_is_not_found() {
        assert_eq!(interface_with(Ipv4Addr::new(203, 0, 113, 254)), Ok(None));
    }
}
