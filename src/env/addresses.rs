//! The run network's addresses: podproof decides each pod's IPv4 address
//! before it is played (`kube play --network <net>:ip=...`), so the downward
//! API's `status.podIP` is known when the pod is rendered, as the kubelet
//! knows it once the sandbox exists. The host's address is the network's
//! gateway, the host's side of the bridge. The table is kept in the run's
//! state directory (`addresses.json`), so every `up` process gives a pod the
//! address it has.

use super::{Env, Member};
use crate::error::{Error, Result};
use crate::podman;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// The run network's subnet and the addresses given out in it, by pod.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Table {
    /// The network's subnet (`10.89.1.0/24`) and gateway, once known.
    pub subnet: Option<(Ipv4Addr, u8)>,
    pub gateway: Option<Ipv4Addr>,
    pub pods: BTreeMap<String, Ipv4Addr>,
}

impl Table {
    /// The address of `pod`, given out now when it has none: the lowest one
    /// of the subnet that is neither the network's, its gateway, its
    /// broadcast address nor another pod's.
    pub fn assign(&mut self, pod: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.pods.get(pod) {
            return Some(*ip);
        }
        let (net, prefix) = self.subnet?;
        let size = 1u64 << (32 - u32::from(prefix.min(32)));
        let base = u64::from(u32::from(net));
        let taken: Vec<Ipv4Addr> = self.pods.values().copied().chain(self.gateway).collect();
        let ip =
            (1..size.saturating_sub(1)).map(|i| Ipv4Addr::from((base + i) as u32)).find(|ip| !taken.contains(ip))?;
        self.pods.insert(pod.to_string(), ip);
        Some(ip)
    }
}

/// Parses `10.89.1.0/24`.
pub fn parse_subnet(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 30)?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    Some((Ipv4Addr::from(u32::from(ip) & mask), prefix))
}

impl Env {
    fn addresses_file(&self) -> std::path::PathBuf {
        self.dir.join("addresses.json")
    }

    /// Reads the run network's subnet from podman into the table (once).
    pub(super) fn learn_subnet(&self) -> Result<()> {
        let mut t = self.addresses.lock().expect("addresses lock");
        if t.subnet.is_none() {
            if let Ok(bytes) = std::fs::read(self.addresses_file()) {
                if let Ok(saved) = serde_json::from_slice::<Table>(&bytes) {
                    *t = saved;
                }
            }
        }
        let (subnet, gateway) = podman::network_subnet(&self.network)?;
        let parsed = parse_subnet(&subnet).ok_or_else(|| {
            Error::runtime(format!("network {} has a subnet podproof cannot read: {subnet}", self.network))
        })?;
        // A network made anew (its subnet changed) keeps no old addresses.
        if t.subnet != Some(parsed) {
            t.pods.clear();
        }
        t.subnet = Some(parsed);
        t.gateway = gateway.parse().ok();
        Ok(())
    }

    /// The member's address and its host's, once the run network is known;
    /// `None` before it is (a render before the first start). A hostNetwork
    /// pod has the host's address, as a cluster reports it.
    pub fn addresses_of(&self, m: &Member) -> Option<crate::render::Addresses> {
        let mut t = self.addresses.lock().expect("addresses lock");
        let host = t.gateway?;
        let pod = if m.host_network { host } else { t.assign(&m.pod)? };
        let bytes = serde_json::to_vec_pretty(&*t).unwrap_or_default();
        let _ = crate::state::write_file(&self.addresses_file(), &bytes);
        Some(crate::render::Addresses { pod_ip: pod.to_string(), host_ip: host.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_the_network_its_gateway_and_the_broadcast() {
        let mut t =
            Table { subnet: parse_subnet("10.89.3.0/30"), gateway: "10.89.3.1".parse().ok(), ..Default::default() };
        assert_eq!(t.assign("a"), "10.89.3.2".parse().ok());
        assert_eq!(t.assign("a"), "10.89.3.2".parse().ok());
        assert_eq!(t.assign("b"), None, "a /30 has one address left after its gateway");
        let mut t =
            Table { subnet: parse_subnet("10.89.1.7/24"), gateway: "10.89.1.1".parse().ok(), ..Default::default() };
        assert_eq!(t.subnet, Some(("10.89.1.0".parse().unwrap(), 24)));
        assert_eq!(t.assign("x"), "10.89.1.2".parse().ok());
        assert_eq!(t.assign("y"), "10.89.1.3".parse().ok());
        assert_eq!(parse_subnet("fd00::/64"), None);
    }
}
