//! A local environment: apps played into podman and driven like a controller.
//!
//! An environment owns a run id, a podman network with DNS (so members reach
//! each other by name, and parallel runs never collide), a state directory,
//! and one pod per member. Every podman object it makes carries the labels
//! `podproof.dev/run=<id>` and `podproof.dev/app`, so teardown can sweep by
//! label and nothing is left behind even after a half-made `kube play`.

use crate::app::{App, Role};
use crate::error::{Error, Result};
use crate::podman::{self, ContainerState};
use crate::probe;
use crate::projection;
use crate::render::{
    self, podman as podman_render, Object, Options, PartSource, ProjectedPart, Projection, ProjectionSource, Rendered,
    RunContext,
};
use crate::state::{self, RunKind};
use crate::wait::{await_condition, Poll, WaitError};
use k8s_openapi::api::core::v1 as core;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where progress lines go (stderr for `up`, the test's log for `test`).
pub type Log<'a> = &'a (dyn Fn(&str) + Sync);

/// One member pod of the environment.
#[derive(Debug, Clone)]
pub struct Member {
    pub app: String,
    pub role: String,
    pub index: u32,
    /// The stable member name (`<app>-<role>-<index>`): hostname and DNS name.
    pub name: String,
    /// The podman pod name (the member name plus the run suffix).
    pub pod: String,
    pub host_network: bool,
    /// Container names as written in the spec.
    pub containers: Vec<String>,
    pub aliases: Vec<String>,
}

impl Member {
    /// podman's name for a container of this pod.
    pub fn container(&self, name: &str) -> String {
        format!("{}-{name}", self.pod)
    }

    pub fn podman_containers(&self) -> Vec<String> {
        self.containers.iter().map(|c| self.container(c)).collect()
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// How long containers get to stop (bounded by terminationGracePeriodSeconds).
    pub grace: Duration,
    pub ready_timeout: Duration,
    /// CrashLoopBackOff of the pod workers (Kubernetes' 10 s to 5 min unless
    /// podproof.yaml scales it).
    pub backoff: crate::kubelet::Backoff,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            grace: Duration::from_secs(2),
            ready_timeout: Duration::from_secs(120),
            backoff: crate::kubelet::Backoff::default(),
        }
    }
}

pub struct Env {
    pub run: RunContext,
    pub kind: RunKind,
    pub dir: PathBuf,
    pub network: String,
    pub apps: Vec<App>,
    pub members: Vec<Member>,
    pub settings: Settings,
    /// Pods this process has played and not removed, so that no podman call
    /// is spent asking what it already knows.
    played: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Volumes this process created; with `played`, all that a clean teardown removes.
    volumes: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// Set when something may have been made that is not tracked (a failed
    /// play); teardown then sweeps by label.
    untracked: std::sync::atomic::AtomicBool,
    network_ready: std::sync::atomic::AtomicBool,
    /// Per pod, the last states that found every container running, with the
    /// start time of each main process (see `states_fresh`).
    known: std::sync::Mutex<std::collections::BTreeMap<String, KnownStates>>,
    /// The pod workers, their status cache and the events timeline.
    pub kubelet: crate::kubelet::Kubelet,
}

type KnownStates = (Vec<ContainerState>, Vec<(i64, u64)>);

/// The start time of process `pid` (clock ticks since boot, field 22 of
/// /proc/PID/stat): with the pid it names one process, even if pids are reused.
fn start_time(pid: i64) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces, so count from its closing paren.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// What teardown removed and how long it took.
#[derive(Debug, Default, Clone)]
pub struct Teardown {
    pub pods: usize,
    pub elapsed: Duration,
}

impl Env {
    /// Makes the state directory of a new environment (no podman objects yet).
    pub fn new(apps: Vec<App>, id: &str, suffix: &str, kind: RunKind, settings: Settings) -> Result<Env> {
        let dir =
            state::create(id, kind).map_err(|e| Error::runtime(format!("cannot create state for run {id}: {e}")))?;
        crate::signals::track(id);
        let run = RunContext { id: id.to_string(), suffix: suffix.to_string() };
        let kubelet = crate::kubelet::Kubelet::new(id, Instant::now(), settings.backoff);
        let mut env = Env {
            kubelet,
            network: format!("podproof-{id}"),
            run,
            kind,
            dir,
            apps: Vec::new(),
            members: Vec::new(),
            settings,
            played: Default::default(),
            volumes: Default::default(),
            untracked: Default::default(),
            network_ready: Default::default(),
            known: Default::default(),
        };
        for app in apps {
            env.add_app(app);
        }
        Ok(env)
    }

    /// Adds an app's members (without starting them).
    pub fn add_app(&mut self, app: App) {
        // Its Secret values are hidden from every output from now on.
        for s in &app.secrets {
            for v in s.data.iter().flat_map(|d| d.values()) {
                crate::redact::add(&v.0);
            }
            for v in s.string_data.iter().flat_map(|d| d.values()) {
                crate::redact::add_str(v);
            }
        }
        for role in &app.roles {
            for i in 0..role.members {
                self.members.push(self.member_of(&app, role, i));
            }
        }
        self.apps.push(app);
    }

    pub fn member_of(&self, app: &App, role: &Role, index: u32) -> Member {
        let name = role.member_name(index);
        let spec = role.template.spec.clone().unwrap_or_default();
        let mut aliases = vec![name.clone()];
        if app.kubedirector.is_some() || role.has_events() {
            aliases.push(crate::lifecycle::fqdn(app, &name));
        }
        Member {
            app: app.name.clone(),
            role: role.name.clone(),
            index,
            pod: render::run_name(&name, Some(&self.run)),
            name,
            host_network: spec.host_network == Some(true),
            containers: spec.containers.iter().map(|c| c.name.clone()).collect(),
            aliases,
        }
    }

    pub fn app(&self, name: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.name == name)
    }

    pub fn role_of(&self, m: &Member) -> Option<&Role> {
        self.app(&m.app)?.role(&m.role)
    }

    pub fn labels(&self, app: Option<&str>) -> BTreeMap<String, String> {
        let mut l = BTreeMap::new();
        l.insert(render::LABEL_RUN.to_string(), self.run.id.clone());
        if let Some(a) = app {
            l.insert(render::LABEL_APP.to_string(), a.to_string());
        }
        l
    }

    /// Creates the run's network unless it exists.
    pub fn ensure_network(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.network_ready.load(Ordering::SeqCst) {
            return Ok(());
        }
        // A new test run cannot have a network yet; the `up` environment may.
        if self.kind == RunKind::Test || !podman::network_exists(&self.network)? {
            podman::network_create(&self.network, &self.labels(None))?;
        }
        self.network_ready.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Creates a labelled named volume unless this run already has it.
    fn ensure_volume(&self, name: &str, app: &str) -> Result<()> {
        let mut vols = self.volumes.lock().expect("volumes lock");
        if vols.contains(name) {
            return Ok(());
        }
        // A new test run cannot have volumes yet; the `up` environment may.
        if self.kind == RunKind::Test || !podman::volume_exists(name)? {
            podman::volume_create(name, &self.labels(Some(app)))?;
        }
        vols.insert(name.to_string());
        Ok(())
    }

    /// Removes the volumes this process created.
    pub fn remove_volumes(&self) -> Result<()> {
        let mut vols = self.volumes.lock().expect("volumes lock");
        let names: Vec<String> = vols.iter().cloned().collect();
        podman::volume_rm(&names)?;
        vols.clear();
        Ok(())
    }

    /// Records a pod found running (an `up` environment made earlier).
    pub fn adopt(&self, m: &Member) {
        self.played.lock().expect("played lock").insert(m.pod.clone());
        self.network_ready.store(true, std::sync::atomic::Ordering::SeqCst);
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
            names.extend(self.service_aliases(&pod));
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

    /// Whether this process played the member's pod (and has not removed it).
    pub fn is_played(&self, m: &Member) -> bool {
        self.played.lock().expect("played lock").contains(&m.pod)
    }

    /// The members this process has not played yet.
    pub fn unplayed(&self) -> Vec<Member> {
        self.members.iter().filter(|m| !self.is_played(m)).cloned().collect()
    }

    /// Builds missing local images, then checks every image a member needs
    /// exists, so a bad image fails before any pod is made.
    pub fn prepare_images(&self, log: Log) -> Result<()> {
        const CONTEXT_LABEL: &str = "podproof.dev/context-sha256";
        for app in &self.apps {
            for img in &app.images {
                // The image is rebuilt when its context changed since it was built, so
                // the record's context digest always describes the image the test ran.
                let sha = crate::record::digest_path(&img.context).map_err(|e| {
                    Error::bad_input(
                        format!("cannot read the build context {}", crate::source::display(&img.context)),
                        vec![e.to_string()],
                    )
                })?;
                // An image that podproof built carries its context's digest: a different
                // one means the context changed, so it is built again. An image without
                // the label was made elsewhere (`make setup`, the user) and is used as it
                // is, as before; the record still names the image ID the test ran.
                let stale = match podman::image_label(&img.tag, CONTEXT_LABEL)? {
                    Some(built_from) => built_from != sha,
                    None => !podman::image_exists(&img.tag)?,
                };
                if stale {
                    log(&format!("building image {} from {}", img.tag, crate::source::display(&img.context)));
                    let mut labels = BTreeMap::new();
                    labels.insert("podproof.dev/built".to_string(), "true".to_string());
                    labels.insert(CONTEXT_LABEL.to_string(), sha);
                    podman::build(&img.tag, &img.context, &labels)
                        .map_err(|e| Error::from(e).context(format!("cannot build image {}", img.tag)))?;
                }
            }
        }
        Ok(())
    }

    /// Fails with a clear message naming every image that is not available.
    /// `up` checks before starting; tests check only when a play fails, since
    /// on the happy path each check is a podman call that parallel tests contend for.
    pub fn check_images(&self) -> Result<()> {
        let mut missing = Vec::new();
        for app in &self.apps {
            for role in &app.roles {
                let spec = role.template.spec.clone().unwrap_or_default();
                for c in spec.init_containers.iter().flatten().chain(spec.containers.iter()) {
                    let image = c.image.clone().unwrap_or_default();
                    if image.is_empty() {
                        missing.push(format!("container `{}` of `{}` has no image", c.name, role.name));
                    } else if !missing.iter().any(|m: &String| m.contains(&format!("`{image}`")))
                        && !podman::image_exists(&image)?
                    {
                        missing.push(format!(
                            "image `{image}` (container `{}` of {}/{}) is not available locally",
                            c.name, app.name, role.name
                        ));
                    }
                }
            }
        }
        if !missing.is_empty() {
            let mut e = Error::runtime("missing images: no registry is reachable, so images must be built locally");
            for m in missing {
                e = e.because(m);
            }
            return Err(
                e.because("build them with `podman build`, or list them under `images:` (Test) / `build:` (App)")
            );
        }
        Ok(())
    }

    fn render_options(&self) -> Options {
        Options {
            flavor: render::Flavor::Podman,
            volume_root: self.dir.join("volumes"),
            relative_to: None,
            reveal_secrets: true,
            run: Some(self.run.clone()),
        }
    }

    /// The pod of a member as it would be played now, with what it needs on the host.
    pub fn render_member(&self, m: &Member) -> Result<(core::Pod, Rendered)> {
        let app = self.app(&m.app).ok_or_else(|| Error::runtime(format!("unknown app {}", m.app)))?;
        let role = app.role(&m.role).ok_or_else(|| Error::runtime(format!("unknown role {}", m.role)))?;
        let mut out = Rendered::empty(&app.name);
        let pod = podman_render::member_pod(app, role, &m.name, &self.render_options(), &mut out).map_err(|e| {
            let located: Vec<String> = out.diagnostics.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect();
            Error::bad_input(
                format!("cannot render pod {}", m.name),
                if located.is_empty() { vec![e] } else { located },
            )
        })?;
        Ok((pod, out))
    }

    /// The file a member's played YAML is kept in.
    pub fn played_file(&self, m: &Member) -> PathBuf {
        self.dir.join("pods").join(format!("{}.yaml", m.pod))
    }

    /// Renders, projects and plays one member. A failed play removes the
    /// half-made pod before returning the error.
    pub fn play(&self, m: &Member, log: Log) -> Result<()> {
        let app = self.app(&m.app).ok_or_else(|| Error::runtime(format!("unknown app {}", m.app)))?;
        let (pod, out) = self.render_member(m)?;
        for p in &out.projections {
            project(app, p)
                .map_err(|e| Error::runtime(format!("cannot project volume {} of {}", p.volume, m.name)).because(e))?;
        }
        for d in &out.host_dirs {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::runtime(format!("cannot create host path {}: {e}", d.display())))?;
        }
        // A pod worker learns of exits from the run's event stream, so it runs before the pod does.
        if self.needs_worker(m) {
            self.kubelet.ensure_events()?;
        }
        // Claims become labelled named volumes before play, so they are swept with the run.
        let shared: Vec<String> = app
            .claims
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .map(|n| render::run_name(&n, Some(&self.run)))
            .collect();
        let mut claims: Vec<String> = out
            .objects
            .iter()
            .filter_map(|o| if let Object::Claim(c) = o { c.metadata.name.clone() } else { None })
            .collect();
        claims.extend(
            pod.spec
                .iter()
                .flat_map(|s| s.volumes.iter().flatten())
                .filter_map(|v| v.persistent_volume_claim.as_ref())
                .map(|c| c.claim_name.clone())
                .filter(|n| shared.contains(n)),
        );
        for name in claims {
            self.ensure_volume(&name, &app.name)?;
        }
        let mut pod = pod;
        if !podman::limits_enforced() && strip_limits(&mut pod) {
            log(&format!(
                "resource limits of {} are left out: rootless podman on cgroups v1 cannot enforce them",
                m.pod
            ));
        }
        // Exactly one party restarts containers: in a test run, the pod worker
        // of a pod with probes (with CrashLoopBackOff, and in place after a
        // failed liveness probe), so podman's own restart policy is turned off;
        // otherwise podman's policy, which kube play sets from restartPolicy.
        if self.owns_restarts(m) {
            if let Some(spec) = pod.spec.as_mut() {
                spec.restart_policy = Some("Never".into());
            }
        }
        let yaml = pod_yaml(&pod);
        let file = self.played_file(m);
        write_private(&file, yaml.as_bytes())?;
        log(&format!("playing {} ({}/{})", m.pod, m.role, m.index));
        let net = if m.host_network { None } else { Some(self.network.as_str()) };
        // podman 4.3 waits ~20 s for each init container it runs and then
        // sometimes fails to remove it, so podproof runs them itself.
        let (played, inits) = without_init_containers(&pod);
        if !inits.is_empty() {
            write_private(&file, pod_yaml(&played).as_bytes())?;
        }
        let mut aliases = m.aliases.clone();
        aliases.extend(self.service_aliases(&pod));
        let result = podman::kube_play(&file, net, &aliases, inits.is_empty())
            .map_err(|e| Error::from(e).context(format!("cannot start pod {}", m.pod)))
            .and_then(|_| if inits.is_empty() { Ok(()) } else { self.start_with_inits(m, &inits, log) });
        if let Err(e) = result {
            // A failed play leaves a half-made pod behind: remove it now.
            self.untracked.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = podman::pod_rm(std::slice::from_ref(&m.pod), Duration::ZERO);
            // The commonest cause gets the clearest message.
            self.check_images()?;
            return Err(e);
        }
        self.played.lock().expect("played lock").insert(m.pod.clone());
        self.kubelet.timeline.normal(&m.pod, "Started", format!("Started pod {} ({}/{})", m.pod, m.role, m.index));
        Ok(())
    }

    /// The pod spec of a member as written (probes, hooks and restartPolicy included).
    pub fn spec_of(&self, m: &Member) -> core::PodSpec {
        self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default()
    }

    /// Whether a member's pod gets a pod worker: it has a probe or a native sidecar.
    pub fn needs_worker(&self, m: &Member) -> bool {
        let spec = self.spec_of(m);
        crate::kubelet::worker::PodSpec::needs_worker(&spec) || spec.init_containers.iter().flatten().any(is_sidecar)
    }

    /// Whether podproof, not podman, restarts the member's exited containers.
    pub fn owns_restarts(&self, m: &Member) -> bool {
        self.kind == RunKind::Test && self.needs_worker(m)
    }

    /// Starts the pod worker of a running member (see `kubelet`).
    fn spawn_worker(&self, m: &Member, states: &[ContainerState]) -> Result<()> {
        let spec = self.spec_of(m);
        let pod = crate::kubelet::worker::PodSpec {
            pod: m.pod.clone(),
            containers: crate::kubelet::worker::PodSpec::container_specs(&spec, |c| m.container(c)),
            sidecars: {
                // Sidecars run beside the app with their probes and are restarted
                // when they exit, whatever the pod's restartPolicy.
                let sidecars: Vec<core::Container> =
                    spec.init_containers.iter().flatten().filter(|c| is_sidecar(c)).cloned().collect();
                let as_pod = core::PodSpec { containers: sidecars, ..Default::default() };
                crate::kubelet::worker::PodSpec::container_specs(&as_pod, |c| m.container(c))
            },
            policy: crate::kubelet::worker::Policy::parse(spec.restart_policy.as_deref()),
            owns_restarts: self.owns_restarts(m),
            grace: self.grace_of(m),
            host_network: m.host_network,
        };
        self.kubelet.spawn(pod, states)
    }

    /// Starts a created pod: its network first, then each init container to
    /// completion in order (a failure fails the member, with its output), then
    /// the app containers. A restarted pod runs its init containers again, as
    /// a recreated pod does in Kubernetes.
    pub fn start_with_inits(&self, m: &Member, inits: &[core::Container], log: Log) -> Result<()> {
        podman::pod_start_infra(&m.pod)?;
        let labels = self.labels(Some(&m.app));
        let (pod, _) = self.render_member(m)?;
        let volumes = pod.spec.and_then(|s| s.volumes).unwrap_or_default();
        for c in inits {
            let (mut flags, image, command, envs) = run_flags(c, &volumes)
                .map_err(|e| Error::runtime(format!("init container {} of {}: {e}", c.name, m.pod)))?;
            // Env values may be Secret values: they go to podman in a file only
            // this user can read, never on its command line, where `ps` and
            // error messages would show them.
            let env_file = self.dir.join("env").join(format!("{}-{}.env", m.pod, c.name));
            let (lines, multi): (Vec<_>, Vec<_>) = envs.into_iter().partition(|(_, v)| !v.contains('\n'));
            let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            write_private(&env_file, text.as_bytes())?;
            flags.push(format!("--env-file={}", env_file.display()));
            // An env file holds one line per variable; a multi-line value is
            // named on the command line and its value read from podman's own
            // environment, which only this user can read.
            for (k, _) in &multi {
                flags.push("--env".into());
                flags.push(k.clone());
            }
            if is_sidecar(c) {
                log(&format!("starting sidecar {} of {}", c.name, m.pod));
                let started = podman::run_in_pod_detached(
                    &m.pod,
                    &m.container(&c.name),
                    &flags,
                    &image,
                    &command,
                    &labels,
                    &multi,
                    self.settings.ready_timeout,
                );
                let _ = std::fs::remove_file(&env_file);
                started.map_err(|e| Error::from(e).context(format!("cannot start sidecar {} of {}", c.name, m.pod)))?;
                self.kubelet.timeline.normal(
                    &format!("{}/{}", m.pod, c.name),
                    "Started",
                    format!("Started sidecar {}", c.name),
                );
                self.wait_sidecar(m, c)?;
                continue;
            }
            log(&format!("running init container {} of {}", c.name, m.pod));
            let out = podman::run_in_pod(
                &m.pod,
                &format!("{}-{}", m.pod, c.name),
                &flags,
                &image,
                &command,
                &labels,
                &multi,
                self.settings.ready_timeout,
            );
            let _ = std::fs::remove_file(&env_file);
            let out = out?;
            if out.status != 0 {
                let output = format!("{}{}", out.stdout, out.stderr);
                return Err(Error::runtime(format!(
                    "init container {} of {} exited with code {}",
                    c.name, m.pod, out.status
                ))
                .because(format!("output:\n{}", indent(output.trim_end()))));
            }
        }
        podman::pod_start(&m.pod)?;
        Ok(())
    }

    /// Waits until a sidecar runs and, if it has a startup or readiness probe,
    /// passes it: only then does the next init container start, as in Kubernetes.
    fn wait_sidecar(&self, m: &Member, c: &core::Container) -> Result<()> {
        let name = m.container(&c.name);
        let spec = self.spec_of(m);
        let probes: Vec<core::Probe> = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|k| k.name == c.name)
            .flat_map(|k| [k.startup_probe.clone(), k.readiness_probe.clone()])
            .flatten()
            .collect();
        // Named ports come from the spec as written (the played pod drops bare containerPorts).
        let ports: Vec<core::ContainerPort> = spec
            .init_containers
            .iter()
            .flatten()
            .filter(|k| k.name == c.name)
            .flat_map(|k| k.ports.clone().unwrap_or_default())
            .collect();
        await_condition(self.settings.ready_timeout, Duration::from_millis(100), || {
            let states = match podman::inspect_containers(std::slice::from_ref(&name)) {
                Ok(s) => s,
                Err(e) => return Poll::Fail(e.stderr),
            };
            let Some(st) = states.first() else { return Poll::Pending(Some("not created yet".into())) };
            if !st.running {
                return Poll::Fail(format!("sidecar {name} exited with code {}", st.exit_code));
            }
            let t = probe::Target {
                container: name.clone(),
                netns_pid: if m.host_network { 0 } else { st.pid },
                ip: if m.host_network { String::new() } else { st.ip.clone() },
                ports: ports.clone(),
            };
            for p in &probes {
                if let Err(e) = probe::probe_once(p, &t) {
                    return Poll::Pending(Some(format!("sidecar {name}: probe not passing: {e}")));
                }
            }
            Poll::Ready(())
        })
        .map_err(|e| self.wait_error(m, &format!("sidecar {name} to be ready"), e))
    }

    /// The init containers of a member, as rendered for play.
    pub fn init_containers(&self, m: &Member) -> Result<Vec<core::Container>> {
        let (pod, _) = self.render_member(m)?;
        Ok(without_init_containers(&pod).1)
    }

    /// Plays every member not running yet, waits until all are ready, then
    /// runs lifecycle events (KubeDirector roles). Returns one line per event.
    pub fn start(&self, members: &[Member], log: Log) -> Result<Vec<String>> {
        let existing: Vec<Member> = self
            .members
            .iter()
            .filter(|m| self.is_played(m) && !members.iter().any(|n| n.pod == m.pod))
            .cloned()
            .collect();
        self.start_pods(members, log)?;
        crate::lifecycle::on_start(self, members, &existing, log)
    }

    pub fn start_pods(&self, members: &[Member], log: Log) -> Result<()> {
        self.ensure_network()?;
        let results: Vec<Result<()>> = crate::kubelet::fan_out(members, |m| self.play(m, log))
            .into_iter()
            .map(|r| r.unwrap_or_else(|_| Err(Error::runtime("play thread panicked"))))
            .collect();
        for r in results {
            r?;
        }
        let results: Vec<Result<()>> =
            crate::kubelet::fan_out(members, |m| self.post_start(m).and_then(|_| self.wait_ready(m, log)))
                .into_iter()
                .map(|r| r.unwrap_or_else(|_| Err(Error::runtime("readiness thread panicked"))))
                .collect();
        let errors: Vec<Error> = results.into_iter().filter_map(|r| r.err()).collect();
        match errors.len() {
            0 => {
                self.pin_bridge(members, log);
                // Ready is not reachable until the names resolve: apps that
                // talk through member or Service names need them at once.
                for m in members {
                    self.ensure_dns(m, log);
                }
                Ok(())
            }
            1 => Err(errors.into_iter().next().expect("one error")),
            n => {
                let mut e = Error::runtime(format!("{n} members failed to start"));
                for err in errors {
                    e = e.because(err.to_string().trim_start_matches("error: ").to_string());
                }
                Err(e)
            }
        }
    }

    /// Pins the MAC of the run network's bridge (see `bridge`), so that the
    /// pods just started do not change the gateway's address under the others.
    /// The bridge is made when the first pod joins the network and removed when
    /// the last leaves, so this is checked after every start; the check reads
    /// sysfs and the states the readiness poll just cached, with no podman call.
    fn pin_bridge(&self, members: &[Member], log: Log) {
        if podman::rootless_user() {
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

    pub fn states(&self, m: &Member) -> Result<Vec<ContainerState>> {
        let states = podman::inspect_containers(&m.podman_containers())?;
        // Only a pod with every container running is worth remembering, and
        // only then are the start times read.
        let all_running = states.len() == m.containers.len() && states.iter().all(|s| s.running && s.pid > 0);
        let seen: Option<Vec<(i64, u64)>> =
            all_running.then(|| states.iter().map(|s| Some((s.pid, start_time(s.pid)?))).collect()).flatten();
        let mut known = self.known.lock().expect("known lock");
        match seen {
            Some(seen) => known.insert(m.pod.clone(), (states.clone(), seen)),
            None => known.remove(&m.pod),
        };
        Ok(states)
    }

    /// The states of a member's containers without asking podman, when the
    /// last inspection found them all running and each main process is still
    /// the same one (same pid and start time): then nothing has changed that
    /// an `http` step needs (the pod's network namespace and IP).
    pub fn states_fresh(&self, m: &Member) -> Result<Vec<ContainerState>> {
        let cached = self.known.lock().expect("known lock").get(&m.pod).cloned();
        if let Some((states, seen)) = cached {
            if seen.iter().all(|(pid, t)| start_time(*pid) == Some(*t)) {
                return Ok(states);
            }
        }
        self.states(m)
    }

    /// A probe target for container `c` of member `m`.
    pub fn target(&self, m: &Member, c: &str, states: &[ContainerState]) -> probe::Target {
        let spec = self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default();
        let ports = spec.containers.iter().find(|k| k.name == c).and_then(|k| k.ports.clone()).unwrap_or_default();
        let running = states.iter().find(|s| s.running && s.pid > 0);
        probe::Target {
            container: m.container(c),
            netns_pid: if m.host_network { 0 } else { running.map(|s| s.pid).unwrap_or(0) },
            ip: if m.host_network { String::new() } else { running.map(|s| s.ip.clone()).unwrap_or_default() },
            ports,
        }
    }

    /// Runs postStart hooks; a failing hook fails the member, as in Kubernetes.
    pub fn post_start(&self, m: &Member) -> Result<()> {
        let spec = self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default();
        for c in &spec.containers {
            let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else { continue };
            let states = self.wait_running(m, &c.name)?;
            let t = self.target(m, &c.name, &states);
            probe::handler(h, &t, Duration::from_secs(30)).map_err(|e| {
                Error::runtime(format!("postStart hook of {}/{} failed", m.pod, c.name))
                    .because(e)
                    .because(self.logs_of(m))
            })?;
        }
        Ok(())
    }

    fn wait_running(&self, m: &Member, container: &str) -> Result<Vec<ContainerState>> {
        let name = m.container(container);
        let r = await_condition(self.settings.ready_timeout, Duration::from_millis(100), || match self.states(m) {
            Ok(states) => match states.iter().find(|s| s.name == name) {
                Some(s) if s.running => Poll::Ready(states),
                Some(s) if s.status == "exited" => Poll::Fail(format!("container exited with code {}", s.exit_code)),
                _ => Poll::Pending(Some("not running yet".to_string())),
            },
            Err(e) => Poll::Fail(e.to_string()),
        });
        r.map_err(|e| self.wait_error(m, &format!("container {name} to run"), e))
    }

    fn wait_error(&self, m: &Member, what: &str, e: WaitError<String>) -> Error {
        match e {
            WaitError::Interrupted => Error::runtime(format!("interrupted while waiting for {what}")),
            WaitError::Timeout(last) => {
                let mut err =
                    Error::runtime(format!("timed out after {:?} waiting for {what}", self.settings.ready_timeout));
                if let Some(l) = last {
                    err = err.because(l);
                }
                err.because(self.logs_of(m))
            }
            WaitError::Failed(reason) => Error::runtime(format!("{} failed while waiting for {what}", m.pod))
                .because(reason)
                .because(self.logs_of(m)),
        }
    }

    /// One look at a member's readiness.
    pub fn ready_poll(&self, m: &Member) -> Poll<(), String> {
        let mut cache = None;
        self.ready_poll_cached(m, &mut cache)
    }

    /// `ready_poll` that reuses the container states of an earlier poll when
    /// given them (`Some`); `None` inspects and fills the cache.
    fn ready_poll_cached(&self, m: &Member, cache: &mut Option<Vec<ContainerState>>) -> Poll<(), String> {
        match self.running_poll(m, cache) {
            Poll::Ready(()) => {}
            other => return other,
        }
        let spec = self.spec_of(m);
        let Some(states) = cache.take() else { return Poll::Pending(None) };
        for c in &spec.containers {
            for p in [&c.startup_probe, &c.readiness_probe].into_iter().flatten() {
                let t = self.target(m, &c.name, &states);
                if let Err(e) = probe::probe_once(p, &t) {
                    // Running containers only need probing again; keep their states.
                    *cache = Some(states);
                    return Poll::Pending(Some(format!("{}: probe not passing: {e}", m.container(&c.name))));
                }
            }
        }
        Poll::Ready(())
    }

    /// One look at whether a member's containers run; on Ready the states stay in `cache`.
    fn running_poll(&self, m: &Member, cache: &mut Option<Vec<ContainerState>>) -> Poll<(), String> {
        let Some(role) = self.role_of(m) else { return Poll::Fail(format!("unknown role {}", m.role)) };
        let spec = role.template.spec.clone().unwrap_or_default();
        let always = spec.restart_policy.as_deref().unwrap_or("Always") == "Always";
        let states = match cache.take() {
            Some(s) => s,
            None => match self.states(m) {
                Ok(s) => s,
                Err(e) => return Poll::Fail(e.to_string()),
            },
        };
        for c in &spec.containers {
            let name = m.container(&c.name);
            let Some(st) = states.iter().find(|s| s.name == name) else {
                return Poll::Pending(Some(format!("container {name} does not exist yet")));
            };
            if st.restarts > 0 {
                return Poll::Fail(format!(
                    "container {name} restarted {} times (crash loop); last exit code {}",
                    st.restarts, st.exit_code
                ));
            }
            if !st.running {
                if st.status == "exited" || st.status == "stopped" {
                    if !always && st.exit_code == 0 {
                        continue;
                    }
                    return Poll::Fail(format!("container {name} exited with code {}", st.exit_code));
                }
                return Poll::Pending(Some(format!("container {name} is {}", st.status)));
            }
        }
        *cache = Some(states);
        Poll::Ready(())
    }

    /// Waits until a member is ready (see `ready_poll`); a container that exits
    /// or crash-loops fails at once, with its last logs.
    pub fn wait_ready(&self, m: &Member, log: Log) -> Result<()> {
        let start = Instant::now();
        if self.needs_worker(m) {
            return self.wait_ready_worker(m, start, log);
        }
        // Probes run every 50 ms; containers are inspected again every tenth poll,
        // so a crash is still noticed within half a second.
        let mut cache = None;
        let mut n = 0u32;
        await_condition(self.settings.ready_timeout, Duration::from_millis(50), || {
            n += 1;
            if n.is_multiple_of(10) {
                cache = None;
            }
            self.ready_poll_cached(m, &mut cache)
        })
        .map_err(|e| self.wait_error(m, &format!("{} to be ready", m.pod), e))?;
        log(&format!("{} ready in {:.1}s", m.pod, start.elapsed().as_secs_f64()));
        Ok(())
    }

    /// Waits for a member with a pod worker: its containers running, then
    /// every container Ready in the status cache the worker keeps (probes on
    /// their own timing). A container that exits and is not restarted fails
    /// at once; one in CrashLoopBackOff is waited for until the timeout.
    fn wait_ready_worker(&self, m: &Member, start: Instant, log: Log) -> Result<()> {
        // Every container started once (it may have exited since: the worker
        // applies the restartPolicy to that, with backoff).
        let states = await_condition(self.settings.ready_timeout, Duration::from_millis(50), || match self.states(m) {
            Ok(states) => {
                let ran =
                    |c: &String| states.iter().any(|s| s.name == m.container(c) && (s.running || s.status == "exited"));
                if m.containers.iter().all(ran) {
                    Poll::Ready(states)
                } else {
                    Poll::Pending(Some("containers not started yet".to_string()))
                }
            }
            Err(e) => Poll::Fail(e.to_string()),
        })
        .map_err(|e| self.wait_error(m, &format!("{} to run", m.pod), e))?;
        self.spawn_worker(m, &states)?;
        await_condition(self.settings.ready_timeout, Duration::from_millis(50), || {
            let Some(st) = self.kubelet.status.of(&m.pod) else { return Poll::Fail("its pod worker stopped".into()) };
            for (name, c) in &st {
                if c.terminated {
                    return Poll::Fail(format!(
                        "container {} exited with code {} and its restartPolicy does not restart it",
                        m.container(name),
                        c.exit_code.unwrap_or(-1)
                    ));
                }
                if !c.ready {
                    let why = match (&c.waiting, &c.last_failure) {
                        (Some(w), _) => format!("{w} (restarts {})", c.restarts),
                        (None, Some(f)) => f.clone(),
                        (None, None) if !c.started => "startup probe not passed yet".into(),
                        (None, None) => "not ready yet".into(),
                    };
                    return Poll::Pending(Some(format!("{}: {why}", m.container(name))));
                }
            }
            Poll::Ready(())
        })
        .map_err(|e| self.wait_error(m, &format!("{} to be ready", m.pod), e))?;
        log(&format!("{} ready in {:.1}s", m.pod, start.elapsed().as_secs_f64()));
        Ok(())
    }

    /// Scales a role to `n` members, with KubeDirector's events: new members
    /// are configured and existing ones get addnodes; on shrink every member
    /// gets delnodes before the highest-index members are removed. Unchanged
    /// members are not touched. Per-member volumes of removed members stay,
    /// as a StatefulSet's claims do.
    pub fn scale(&mut self, app_name: &str, role_name: &str, n: u32, log: Log) -> Result<Vec<String>> {
        let app_i = self
            .apps
            .iter()
            .position(|a| a.name == app_name)
            .ok_or_else(|| Error::runtime(format!("no app `{app_name}`")))?;
        let role_i = self.apps[app_i].roles.iter().position(|r| r.name == role_name).ok_or_else(|| {
            let roles: Vec<_> = self.apps[app_i].roles.iter().map(|r| r.name.as_str()).collect();
            Error::bad_input(
                format!("no role `{role_name}` in app `{app_name}`"),
                vec![format!("roles: {}", roles.join(", "))],
            )
        })?;
        let current = self.apps[app_i].roles[role_i].members;
        self.apps[app_i].roles[role_i]
            .check_members(n)
            .map_err(|e| Error::bad_input(format!("cannot scale {app_name}/{role_name}"), vec![e]))?;
        if n == current {
            return Ok(vec![format!("{role_name} already has {n} members")]);
        }
        let app = self.apps[app_i].clone();
        if n > current {
            let mut grown = app.clone();
            grown.roles[role_i].members = n;
            let new: Vec<Member> = (current..n).map(|i| self.member_of(&grown, &grown.roles[role_i], i)).collect();
            self.apps[app_i] = grown;
            self.members.extend(new.iter().cloned());
            log(&format!("scaling {app_name}/{role_name}: {current} -> {n}"));
            return self.start(&new, log);
        }
        let leaving: Vec<Member> =
            self.members.iter().filter(|m| m.app == app_name && m.role == role_name && m.index >= n).cloned().collect();
        let staying: Vec<Member> =
            self.members.iter().filter(|m| m.app == app_name && m.role == role_name && m.index < n).cloned().collect();
        log(&format!("scaling {app_name}/{role_name}: {current} -> {n}"));
        let lines = crate::lifecycle::on_shrink(self, &leaving, &staying, log)?;
        self.remove_members(&leaving, log)?;
        self.members.retain(|m| !(m.app == app_name && m.role == role_name && m.index >= n));
        self.apps[app_i].roles[role_i].members = n;
        Ok(lines)
    }

    /// The last 50 log lines of each container of a member.
    pub fn logs_of(&self, m: &Member) -> String {
        let mut out = String::new();
        for c in &m.containers {
            let name = m.container(c);
            match podman::logs(&name, Some(50)) {
                Ok(l) if l.trim().is_empty() => out.push_str(&format!("logs of {name}: (empty)\n")),
                Ok(l) => out.push_str(&format!("logs of {name}:\n{}\n", indent(l.trim_end()))),
                Err(e) => out.push_str(&format!("logs of {name}: unavailable ({})\n", e.stderr.trim())),
            }
        }
        out.trim_end().to_string()
    }

    /// Runs preStop hooks of the running containers of `members`, each within the grace period.
    pub fn pre_stop(&self, members: &[Member], log: Log) {
        std::thread::scope(|s| {
            for m in members {
                let spec = self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default();
                for c in
                    spec.containers.iter().filter(|c| c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).is_some())
                {
                    let c = c.clone();
                    s.spawn(move || {
                        // A signal does not cancel a preStop hook: it is part of the stop.
                        let _cleanup = podman::cleanup_scope();
                        let Ok(states) = self.states(m) else { return };
                        if !states.iter().any(|st| st.name == m.container(&c.name) && st.running) {
                            return;
                        }
                        let t = self.target(m, &c.name, &states);
                        let h = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).expect("filtered above");
                        if let Err(e) = probe::handler(h, &t, self.grace_of(m)) {
                            log(&format!("preStop hook of {}/{} failed: {e}", m.pod, c.name));
                        }
                    });
                }
            }
        });
    }

    /// The stop timeout: the configured grace, bounded by terminationGracePeriodSeconds.
    pub fn grace_of(&self, m: &Member) -> Duration {
        let tgps =
            self.role_of(m).and_then(|r| r.template.spec.as_ref()?.termination_grace_period_seconds).unwrap_or(30);
        self.settings.grace.min(Duration::from_secs(tgps.max(0) as u64))
    }

    /// Stops and removes members' pods. Stopping first matters: removing a
    /// pod whose processes were just killed makes podman 4.3 wait about 3 s
    /// for the pod's cgroup, while removing a stopped pod takes ~0.1 s.
    pub fn remove_members(&self, members: &[Member], log: Log) -> Result<()> {
        if members.is_empty() {
            return Ok(());
        }
        // The workers stop first, so that the stop is not taken for a crash.
        for m in members {
            self.kubelet.stop(&m.pod);
            if self.is_played(m) {
                self.kubelet.timeline.normal(&m.pod, "Killing", format!("Stopping pod {}", m.pod));
            }
        }
        self.pre_stop(members, log);
        // One stop call per pod, all at once: `podman pod stop a b c` stops
        // them one after another, each waiting out its grace period.
        let stops: Vec<std::result::Result<(), podman::PodmanError>> = std::thread::scope(|s| {
            let hs: Vec<_> = members
                .iter()
                .map(|m| {
                    s.spawn(move || {
                        // Sidecars stop after the main containers, as in Kubernetes.
                        if self.spec_of(m).init_containers.iter().flatten().any(is_sidecar) {
                            for c in m.podman_containers() {
                                let _ = podman::container_stop(&c, self.grace_of(m));
                            }
                        }
                        podman::pod_stop(std::slice::from_ref(&m.pod), self.grace_of(m))
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(podman::panicked("pod stop")))).collect()
        });
        let pods: Vec<String> = members.iter().map(|m| m.pod.clone()).collect();
        let rm = podman::pod_rm(&pods, Duration::ZERO);
        if rm.is_ok() {
            let mut played = self.played.lock().expect("played lock");
            for p in &pods {
                played.remove(p);
            }
        }
        for m in members {
            let _ = state::remove_inside(&self.dir, &self.dir.join("volumes").join(&m.pod));
        }
        // A pod that is already gone makes `stop` fail; `rm -f` is what must succeed.
        rm?;
        if stops.iter().all(|r| r.is_err()) {
            if let Some(Err(e)) = stops.into_iter().next() {
                log(&format!("stopping pods: {}", e.stderr.trim()));
            }
        }
        Ok(())
    }

    /// Removes everything of this run: pods (after preStop), volumes, the
    /// network and the state directory. A final sweep by label catches
    /// anything a failed or interrupted step left.
    pub fn teardown(&self, log: Log) -> Result<Teardown> {
        use std::sync::atomic::Ordering;
        let start = Instant::now();
        // No pod worker may restart what teardown stops; the event stream goes with them.
        self.kubelet.stop_all();
        let known: Vec<Member> = self.members.iter().filter(|m| self.is_played(m)).cloned().collect();
        let first = self.remove_members(&known, log).and_then(|_| self.remove_volumes());
        let net = if self.network_ready.load(Ordering::SeqCst) {
            podman::network_rm(&self.network).map_err(Error::from)
        } else {
            Ok(())
        };
        // What this process made is gone; a sweep by label catches what a failed
        // or interrupted step may have left. It costs four podman calls that
        // contend with parallel tests, so it runs only when needed.
        let filter = format!("{}={}", render::LABEL_RUN, self.run.id);
        let needs_sweep = first.is_err()
            || net.is_err()
            || self.untracked.load(Ordering::SeqCst)
            || crate::signals::interrupted()
            || self.kind == RunKind::Up;
        let result = if needs_sweep {
            podman::remove_labelled(&filter, Duration::ZERO).map(|_| ()).map_err(Error::from)
        } else {
            Ok(())
        };
        // A run whose teardown failed keeps its record, so `clean` finds it.
        if result.is_ok() {
            let _ = state::remove(&self.run.id);
            crate::signals::untrack(&self.run.id);
        } else {
            let _ = state::create(&self.run.id, self.kind);
        }
        result?;
        Ok(Teardown { pods: known.len(), elapsed: start.elapsed() })
    }
}

/// An environment that is torn down when the guard is dropped, also when a
/// panic unwinds through the code that uses it: a bug in a step must not
/// leave pods behind. `finish` tears down with a log and returns the result;
/// `keep` hands the environment over (a kept failing test) without teardown.
pub struct TeardownGuard {
    env: Env,
    armed: bool,
}

impl TeardownGuard {
    pub fn new(env: Env) -> TeardownGuard {
        TeardownGuard { env, armed: true }
    }

    /// Tears down now.
    pub fn finish(mut self, log: Log) -> Result<Teardown> {
        self.armed = false;
        self.env.teardown(log)
    }

    /// Leaves everything running.
    pub fn keep(mut self) {
        self.armed = false;
        crate::signals::untrack(&self.env.run.id);
    }
}

impl std::ops::Deref for TeardownGuard {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl std::ops::DerefMut for TeardownGuard {
    fn deref_mut(&mut self) -> &mut Env {
        &mut self.env
    }
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        if self.armed {
            if std::thread::panicking() {
                crate::errln!("run {}: tearing down after a panic", self.env.run.id);
            }
            if let Err(e) = self.env.teardown(&|_| {}) {
                crate::errln!("run {}: teardown failed: {e}; `podproof clean` removes what is left", self.env.run.id);
            }
        }
    }
}

/// The headless service KubeDirector makes for a cluster's members.
pub fn kd_service(cluster: &str) -> String {
    format!("kdhs-{cluster}")
}

/// Whether an init container is a native sidecar (`restartPolicy: Always`, Kubernetes 1.29+).
pub fn is_sidecar(c: &core::Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// Splits the init containers off a pod.
fn without_init_containers(pod: &core::Pod) -> (core::Pod, Vec<core::Container>) {
    let mut p = pod.clone();
    let inits = p.spec.as_mut().and_then(|s| s.init_containers.take()).unwrap_or_default();
    (p, inits)
}

/// `podman run` flags for a container spec rendered in the podman flavour
/// (whose volumes are all host paths or named volumes by then).
/// The env variables come back apart from the flags, as (name, value).
type RunFlags = (Vec<String>, String, Vec<String>, Vec<(String, String)>);

fn run_flags(c: &core::Container, volumes: &[core::Volume]) -> std::result::Result<RunFlags, String> {
    let image = c.image.clone().ok_or("no image")?;
    let mut flags = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let v =
            volumes.iter().find(|v| v.name == vm.name).ok_or_else(|| format!("volume `{}` is not defined", vm.name))?;
        let source = if let Some(h) = &v.host_path {
            h.path.clone()
        } else if let Some(c) = &v.persistent_volume_claim {
            c.claim_name.clone()
        } else {
            return Err(format!("volume `{}` has a type podproof cannot mount into an init container", vm.name));
        };
        let ro = if vm.read_only == Some(true) { ":ro" } else { "" };
        flags.push("--volume".into());
        flags.push(format!("{source}:{}{ro}", vm.mount_path));
    }
    if let Some(cmd) = &c.command {
        flags.push(format!("--entrypoint={}", serde_json::to_string(cmd).expect("strings serialize")));
    }
    let envs: Vec<(String, String)> =
        c.env.iter().flatten().map(|e| (e.name.clone(), e.value.clone().unwrap_or_default())).collect();
    if let Some(w) = &c.working_dir {
        flags.push(format!("--workdir={w}"));
    }
    if let Some(sc) = &c.security_context {
        if let Some(u) = sc.run_as_user {
            flags.push(format!("--user={u}"));
        }
        if sc.privileged == Some(true) {
            flags.push("--privileged".into());
        }
        for cap in sc.capabilities.iter().flat_map(|c| c.add.iter().flatten()) {
            flags.push(format!("--cap-add={cap}"));
        }
        for cap in sc.capabilities.iter().flat_map(|c| c.drop.iter().flatten()) {
            flags.push(format!("--cap-drop={cap}"));
        }
    }
    Ok((flags, image, c.args.clone().unwrap_or_default(), envs))
}

/// Removes every container's resource requests and limits; true if any were set.
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

fn strip_limits(pod: &mut core::Pod) -> bool {
    let mut any = false;
    for spec in pod.spec.iter_mut() {
        let inits = spec.init_containers.iter_mut().flatten();
        for c in spec.containers.iter_mut().chain(inits) {
            any |= c.resources.take().is_some();
        }
    }
    any
}

pub fn pod_yaml(pod: &core::Pod) -> String {
    crate::yaml::quote_yaml11(&serde_yaml::to_string(pod).expect("pods serialize"))
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    std::io::Write::write_all(&mut f, bytes)?;
    Ok(())
}

/// The files a projection shows, from the app's current ConfigMaps/Secrets.
pub fn payload(app: &App, p: &Projection) -> std::result::Result<Option<projection::Payload>, String> {
    let parts = match &p.source {
        ProjectionSource::Empty => return Ok(None),
        ProjectionSource::ConfigMap(name) => vec![ProjectedPart {
            source: PartSource::ConfigMap(name.clone()),
            items: p.items.clone(),
            optional: p.optional,
        }],
        ProjectionSource::Secret(name) => {
            vec![ProjectedPart {
                source: PartSource::Secret(name.clone()),
                items: p.items.clone(),
                optional: p.optional,
            }]
        }
        ProjectionSource::Projected(parts) => parts.clone(),
    };
    let mut payload = projection::Payload::new();
    for part in &parts {
        part_files(app, part, p.default_mode, &mut payload)?;
    }
    Ok(Some(payload))
}

/// Adds the files of one source of a projection to `payload`.
fn part_files(
    app: &App,
    part: &ProjectedPart,
    default_mode: i32,
    payload: &mut projection::Payload,
) -> std::result::Result<(), String> {
    let data: BTreeMap<String, Vec<u8>> = match &part.source {
        PartSource::ConfigMap(name) => match app.config_map(name) {
            Some(cm) => {
                let mut d: BTreeMap<String, Vec<u8>> =
                    cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone().into_bytes())).collect();
                d.extend(cm.binary_data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())));
                d
            }
            None => BTreeMap::new(),
        },
        PartSource::Secret(name) => match app.secret(name) {
            Some(s) => s.data.iter().flatten().map(|(k, v)| (k.clone(), v.0.clone())).collect(),
            None => BTreeMap::new(),
        },
        PartSource::Files(files) => {
            for (path, (bytes, mode)) in files {
                payload.insert(
                    path.clone(),
                    projection::File { bytes: bytes.clone(), mode: mode.unwrap_or(default_mode) as u32 },
                );
            }
            return Ok(());
        }
    };
    if part.items.is_empty() {
        for (k, v) in data {
            payload.insert(k, projection::File { bytes: v, mode: default_mode as u32 });
        }
    } else {
        for (key, path, mode) in &part.items {
            match data.get(key) {
                Some(v) => {
                    payload.insert(
                        path.clone(),
                        projection::File { bytes: v.clone(), mode: mode.unwrap_or(default_mode) as u32 },
                    );
                }
                None if part.optional => {}
                None => return Err(format!("key `{key}` listed in items is not in the object")),
            }
        }
    }
    Ok(())
}

/// Writes one projection (or makes an emptyDir) on the host.
pub fn project(app: &App, p: &Projection) -> std::result::Result<bool, String> {
    match payload(app, p)? {
        None => {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(&p.host_dir).map_err(|e| e.to_string())?;
            std::fs::set_permissions(&p.host_dir, std::fs::Permissions::from_mode(0o777)).map_err(|e| e.to_string())?;
            Ok(true)
        }
        Some(payload) => projection::write(&p.host_dir, &payload).map_err(|e| e.to_string()),
    }
}
