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
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that freeifaddrs releases below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(format!("getifaddrs: {}", std::io::Error::last_os_error()));
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, still alive.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr of the family it names.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                if Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)) == addr {
                    // SAFETY: ifa_name is a NUL-terminated string owned by the list.
                    let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
                    found = Some(name.to_string_lossy().into_owned());
                    break;
                }
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(found)
}

fn set_mac(name: &str, mac: [u8; 6]) -> std::io::Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad interface name"));
    }
    // SAFETY: a plain datagram socket, closed below; it only carries the ioctl.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    // SAFETY: SIOCSIFHWADDR reads the ifru_hwaddr member of the union.
    unsafe {
        ifr.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in ifr.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
            *d = s as libc::c_char;
        }
    }
    // SAFETY: `fd` is open and `ifr` outlives the call.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCSIFHWADDR, &ifr) };
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is ours and closed once.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return Err(err);
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
