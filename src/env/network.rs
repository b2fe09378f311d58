//! The run's network and DNS: the network itself, the names a member
//! answers to (its own, its Services', KubeDirector's), the check that they
//! resolve, and the pinned bridge MAC.

use super::{Env, Log, Member};
use crate::app::App;
use crate::error::Result;
use crate::podman;
use crate::render;
use crate::state::RunKind;
use k8s_openapi::api::core::v1 as core;
use std::time::Duration;

impl Env {
    /// Creates the run's network unless it exists.
    pub fn ensure_network(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.network_ready.load(Ordering::SeqCst) {
            // An `up` that adopted running pods knows the network exists,
            // not yet its subnet.
            if self.addresses.lock().expect("addresses lock").subnet.is_none() {
                self.learn_subnet()?;
            }
            return Ok(());
        }
        // A new test run cannot have a network yet; the `up` environment may.
        if self.kind == RunKind::Test || !podman::network_exists(&self.network)? {
            podman::network_create(&self.network, &self.labels(None))?;
        }
        self.network_ready.store(true, Ordering::SeqCst);
        // Pods get their addresses before they are rendered for the play.
        self.learn_subnet()?;
        Ok(())
    }

    /// The pod spec as its definition declares it (a rendered pod has lost its
    /// container ports), found through the pod's app and role labels.
    fn declared_spec(&self, pod: &core::Pod) -> core::PodSpec {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let declared = (labels.get(render::LABEL_APP).and_then(|a| self.app(a)))
            .and_then(|a| a.role(labels.get(render::LABEL_ROLE)?))
            .and_then(|r| r.template.spec.clone());
        declared.or_else(|| pod.spec.clone()).unwrap_or_default()
    }

    /// DNS names of the Services (of any app in the run) whose selector picks
    /// this pod: on the run's network they resolve to the pods they select,
    /// like a headless Service, so apps that talk through Services work.
    pub fn service_aliases(&self, pod: &core::Pod) -> Vec<String> {
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        let mut out = Vec::new();
        for svc in self.apps.iter().flat_map(|a| a.services.iter()) {
            let Some(name) = svc.metadata.name.as_deref() else { continue };
            let selector = svc.spec.as_ref().and_then(|s| s.selector.clone()).unwrap_or_default();
            if selector.is_empty() || !selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
                continue;
            }
            // Kubernetes makes a pod an endpoint of a port only when it can find
            // the port's named targetPort among the pod's container ports (the
            // EndpointSlice controller's FindPort): a pod matching the selector
            // without it, such as a chart's test pod, is no endpoint at all.
            if !serves_a_port(svc, &self.declared_spec(pod)) {
                continue;
            }
            let ns = svc.metadata.namespace.as_deref().unwrap_or("default");
            for n in [
                name.to_string(),
                format!("{name}.{ns}"),
                format!("{name}.{ns}.svc"),
                format!("{name}.{ns}.svc.cluster.local"),
            ] {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// The names a cluster's DNS gives the pod itself: with a subdomain
    /// (a StatefulSet's `serviceName`, or the pod's own `subdomain`) that a
    /// headless Service of that name in its namespace selects,
    /// `<hostname>.<subdomain>` and its longer forms down to
    /// `<hostname>.<subdomain>.<ns>.svc.cluster.local`; and the pod's A
    /// record `<a-b-c-d>.<ns>.pod.cluster.local` (CoreDNS `pods insecure`),
    /// also as `<a-b-c-d>.<ns>.pod`, the form a pod's search list completes.
    /// aardvark-dns has no search list, so each form is a name of its own.
    pub fn pod_aliases(&self, m: &Member, pod: &core::Pod) -> Vec<String> {
        let Some(role) = self.role_of(m) else { return Vec::new() };
        let ns = role.namespace();
        let mut out = Vec::new();
        let (host, subdomain) = role.host_names(&m.name);
        let labels = pod.metadata.labels.clone().unwrap_or_default();
        if let Some(sd) = subdomain {
            let headless = self.apps.iter().flat_map(|a| a.services.iter()).any(|svc| {
                let spec = svc.spec.clone().unwrap_or_default();
                let selector = spec.selector.unwrap_or_default();
                svc.metadata.name.as_deref() == Some(sd.as_str())
                    && svc.metadata.namespace.as_deref().unwrap_or("default") == ns
                    && spec.cluster_ip.as_deref() == Some("None")
                    && !selector.is_empty()
                    && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
            });
            if headless {
                let base = format!("{host}.{sd}");
                out.extend([
                    base.clone(),
                    format!("{base}.{ns}"),
                    format!("{base}.{ns}.svc"),
                    format!("{base}.{ns}.svc.cluster.local"),
                ]);
            }
        }
        if let Some(a) = self.addresses_of(m).filter(|_| !m.host_network) {
            let dashed = a.pod_ip.replace('.', "-");
            out.push(format!("{dashed}.{ns}.pod"));
            out.push(format!("{dashed}.{ns}.pod.cluster.local"));
        }
        out
    }

    /// Every name the member answers to on the run network: its own (and
    /// KubeDirector's), its Services', and the pod's own DNS names.
    pub fn dns_names(&self, m: &Member, pod: &core::Pod) -> Vec<String> {
        let mut names: Vec<String> = m.aliases.clone();
        for n in self.service_aliases(pod).into_iter().chain(self.pod_aliases(m, pod)) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names
    }

    /// Makes sure the member's names (its `.dns.podman` name and the Services
    /// that select it) resolve to its address on the run's network, asked
    /// from every other played member's namespace. aardvark-dns (podman 4.3)
    /// sometimes misses an update when several networks change at once and
    /// keeps answering NXDOMAIN for a new or recreated pod; a SIGHUP makes it
    /// reread its configuration. The states come from the readiness poll just
    /// before, so this costs no podman call when all is well.
    pub fn ensure_dns(&self, m: &Member, log: Log) {
        if m.host_network {
            return;
        }
        // Only other pods look these names up (a pod finds itself through its
        // hostname in /etc/hosts): alone on the network, there is nothing to wait for.
        let others: Vec<&Member> =
            self.members.iter().filter(|o| o.pod != m.pod && !o.host_network && self.is_played(o)).collect();
        if others.is_empty() {
            return;
        }
        let Ok(states) = self.states_fresh(m) else { return };
        let Some(st) = states.iter().find(|s| s.running && !s.ip.is_empty()) else { return };
        let (Ok(ip), Ok(gw)) = (st.ip.parse::<std::net::Ipv4Addr>(), st.gateway.parse::<std::net::Ipv4Addr>()) else {
            return;
        };
        let mut names = vec![format!("{}.dns.podman", m.name)];
        if let Ok((pod, _)) = self.render_member(m) {
            names.extend(self.dns_names(m, &pod).into_iter().filter(|n| !m.aliases.contains(n)));
        }
        // Ask from every other member's namespace too: aardvark answers per client.
        let mut pids = vec![st.pid];
        for o in others {
            if let Some(p) = self.states_fresh(o).ok().and_then(|s| s.into_iter().find(|s| s.running).map(|s| s.pid)) {
                pids.push(p);
            }
        }
        let resolves = || {
            pids.iter().all(|pid| {
                names.iter().all(|name| {
                    crate::netns::dns_a(*pid, gw, name, Duration::from_millis(300))
                        .map(|a| a.contains(&ip))
                        .unwrap_or(false)
                })
            })
        };
        // Under heavy network churn aardvark-dns can stay deaf for seconds.
        for attempt in 0..75 {
            if resolves() || crate::signals::interrupted() {
                return;
            }
            if attempt % 10 == 9 {
                log(&format!("{} does not resolve yet: asking aardvark-dns to reload", m.name));
                podman::reload_aardvark();
            }
            crate::wait::pause(Duration::from_millis(200));
        }
        log(&format!("warning: {} still does not resolve on {}", m.name, self.network));
    }

    /// Pins the MAC of the run network's bridge (see `bridge`), so that the
    /// pods just started do not change the gateway's address under the others.
    /// The bridge is made when the first pod joins the network and removed when
    /// the last leaves, so this is checked after every start; the check reads
    /// sysfs and the states the readiness poll just cached, with no podman call.
    pub(super) fn pin_bridge(&self, members: &[Member], log: Log) {
        if crate::host::rootless_user() {
            return;
        }
        let gateway = members.iter().filter(|m| !m.host_network).find_map(|m| {
            let states = self.states_fresh(m).ok()?;
            states.iter().find_map(|s| s.gateway.parse::<std::net::Ipv4Addr>().ok())
        });
        if let Some(gw) = gateway {
            if let Err(e) = crate::bridge::pin_mac(gw) {
                log(&format!("{e} (pods may lose the gateway for seconds when others join or leave)"));
            }
        }
    }
}

/// The headless service KubeDirector makes for a cluster's members.
pub fn kd_service(cluster: &str) -> String {
    format!("kdhs-{cluster}")
}

/// The cluster's DNS domain for members of `app` (KubeDirector's headless service).
pub fn domain(app: &App) -> String {
    let cluster = app.kubedirector.as_ref().map(|k| k.cluster_name.clone()).unwrap_or_else(|| app.name.clone());
    format!("{}.default.svc.cluster.local", kd_service(&cluster))
}

pub fn fqdn(app: &App, member: &str) -> String {
    format!("{member}.{}", domain(app))
}

/// Whether the pod serves one of the Service's ports: a port without a named
/// targetPort always resolves; a named one resolves to a container port of that name.
fn serves_a_port(svc: &core::Service, spec: &core::PodSpec) -> bool {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let ports = svc.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let named: Vec<&str> =
        spec.containers.iter().flat_map(|c| c.ports.iter().flatten()).filter_map(|p| p.name.as_deref()).collect();
    ports.is_empty()
        || ports.iter().any(|p| match &p.target_port {
            Some(IntOrString::String(n)) => named.contains(&n.as_str()),
            _ => true,
        })
}
