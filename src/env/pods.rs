//! The pods: play, init containers and native sidecars, hooks, starting
//! members with their pod workers, scaling, and stopping and removing pods.

use super::projections::project;
use super::{indent, write_private, Env, Log, Member};
use crate::error::{Error, Result};
use crate::kubelet::grace;
use crate::podman::{self, ContainerState};
use crate::probe;
use crate::render::{self, Object};
use crate::state::{self, RunKind};
use crate::wait::{await_condition, Poll};
use k8s_openapi::api::core::v1 as core;
use std::time::Duration;

impl Env {
    /// Renders, projects and plays one member; `timeout` bounds each of its
    /// init containers and sidecars. A failed play removes the half-made pod
    /// before returning the error.
    pub fn play(&self, m: &Member, timeout: Duration, log: Log) -> Result<()> {
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
        if !crate::host::limits_enforced() && strip_limits(&mut pod) {
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
        // A hostNetwork pod is played with `--network host` rather than no
        // network: without one, podman makes its `podman-default-kube-network`,
        // which carries no podproof label and would stay behind.
        let net = if m.host_network { "host" } else { self.network.as_str() };
        // podman 4.3 waits ~20 s for each init container it runs and then
        // sometimes fails to remove it, so podproof runs them itself.
        let (played, inits) = without_init_containers(&pod);
        if !inits.is_empty() {
            write_private(&file, pod_yaml(&played).as_bytes())?;
        }
        let aliases = if m.host_network { Vec::new() } else { self.dns_names(m, &pod) };
        // The address the pod was rendered with (its downward API may hold it).
        let ip = if m.host_network { None } else { self.addresses_of(m).map(|a| a.pod_ip) };
        let result = podman::kube_play(&file, net, ip.as_deref(), &aliases, inits.is_empty())
            .map_err(|e| Error::from(e).context(format!("cannot start pod {}", m.pod)))
            .and_then(|_| if inits.is_empty() { Ok(()) } else { self.start_with_inits(m, &inits, timeout, log) });
        if let Err(e) = result {
            // A failed play leaves a half-made pod behind: remove it now,
            // after the worker its sidecars may have started.
            self.kubelet.stop(&m.pod);
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

    /// Whether a member's pod gets a pod worker: it has a probe or a native sidecar.
    pub fn needs_worker(&self, m: &Member) -> bool {
        let spec = self.spec_of(m);
        crate::kubelet::worker::PodSpec::needs_worker(&spec) || spec.init_containers.iter().flatten().any(is_sidecar)
    }

    /// Whether podproof, not podman, restarts the member's exited containers.
    pub fn owns_restarts(&self, m: &Member) -> bool {
        self.kind == RunKind::Test && self.needs_worker(m)
    }

    /// Hands containers that started to the member's pod worker, starting the
    /// worker with the first of them (see `kubelet`).
    pub(super) fn spawn_worker(&self, m: &Member, states: &[ContainerState]) -> Result<()> {
        if self.kubelet.started(&m.pod, states) {
            return Ok(());
        }
        let mut spec = self.spec_of(m);
        expand_probe_commands(&mut spec);
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
            grace_cap: self.settings.grace,
            host_network: m.host_network,
        };
        self.kubelet.spawn(pod, states)
    }

    /// Starts a created pod: its network first, then each init container to
    /// completion in order (a failure fails the member, with its output), then
    /// the app containers. A restarted pod runs its init containers again, as
    /// a recreated pod does in Kubernetes. Each init container and each
    /// sidecar's start gets `timeout`.
    pub fn start_with_inits(&self, m: &Member, inits: &[core::Container], timeout: Duration, log: Log) -> Result<()> {
        podman::pod_start_infra(&m.pod)?;
        let labels = self.labels(Some(&m.app));
        let (pod, _) = self.render_member(m)?;
        let pod_sc = pod.spec.as_ref().and_then(|s| s.security_context.clone());
        let volumes = pod.spec.and_then(|s| s.volumes).unwrap_or_default();
        for c in inits {
            let (mut flags, image, command, envs) = run_flags(c, &volumes, pod_sc.as_ref())
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
                    timeout,
                );
                let _ = std::fs::remove_file(&env_file);
                started.map_err(|e| Error::from(e).context(format!("cannot start sidecar {} of {}", c.name, m.pod)))?;
                self.kubelet.timeline.normal(
                    &format!("{}/{}", m.pod, c.name),
                    "Started",
                    format!("Started sidecar {}", c.name),
                );
                self.wait_sidecar(m, c, timeout)?;
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
                timeout,
            );
            let _ = std::fs::remove_file(&env_file);
            let out = out?;
            if out.status != 0 {
                let output = format!("{}{}", out.stdout, out.stderr);
                return Err(Error::failed(format!(
                    "init container {} of {} exited with code {}",
                    c.name, m.pod, out.status
                ))
                .because(format!("output:\n{}", indent(output.trim_end()))));
            }
        }
        podman::pod_start(&m.pod)?;
        Ok(())
    }

    /// Waits until a sidecar has started as the kubelet counts it: it ran, its
    /// postStart hook passed, and then its pod worker (started here with the
    /// pod's first sidecar) saw it running and past its startupProbe, with
    /// that probe's timing and thresholds. Only then does the next init
    /// container start, as in kubernetes/kubernetes
    /// `computeInitContainerActions`: a failed startupProbe restarts the
    /// sidecar (with backoff), and its readinessProbe does not hold up the next
    /// container, it counts in the pod's readiness.
    fn wait_sidecar(&self, m: &Member, c: &core::Container, timeout: Duration) -> Result<()> {
        let name = m.container(&c.name);
        let states = await_condition(timeout, Duration::from_millis(50), || {
            match podman::inspect_containers(std::slice::from_ref(&name)) {
                Ok(s) if s.first().is_some_and(|s| s.running || s.status == "exited") => Poll::Ready(s),
                Ok(_) => Poll::Pending(Some("not running yet".into())),
                Err(e) => Poll::Fail(e.stderr),
            }
        })
        .map_err(|e| self.wait_error(m, &format!("sidecar {name} to run"), timeout, e))?;
        // postStart blocks the sidecar's start; a sidecar that exited already
        // is the worker's to restart, and the worker runs the hook then. The
        // hook comes from the spec as written: the played container has none.
        let written = self.spec_of(m).init_containers.unwrap_or_default().into_iter().find(|k| k.name == c.name);
        let hook = written.and_then(|k| k.lifecycle?.post_start);
        if let Some(h) = hook.filter(|_| states.iter().any(|s| s.running)) {
            let t = self.target(m, &c.name, &states);
            probe::handler(&h, &t, Duration::from_secs(30)).map_err(|e| {
                Error::failed(format!("postStart hook of {}/{} failed", m.pod, c.name))
                    .because(e)
                    .because(self.logs_of(m))
            })?;
        }
        self.spawn_worker(m, &states)?;
        await_condition(timeout, Duration::from_millis(50), || {
            let Some(st) = self.kubelet.status.of(&m.pod) else { return Poll::Fail("its pod worker stopped".into()) };
            let Some(s) = st.get(&c.name) else { return Poll::Fail("its pod worker does not know it".into()) };
            if s.running && s.started {
                return Poll::Ready(());
            }
            let why = match (&s.waiting, &s.last_failure) {
                (Some(w), _) => format!("{w} (restarts {})", s.restarts),
                (None, Some(f)) => format!("{f} (restarts {})", s.restarts),
                (None, None) if s.running => "startup probe not passed yet".into(),
                (None, None) => format!("not running (restarts {})", s.restarts),
            };
            Poll::Pending(Some(format!("sidecar {name}: {why}")))
        })
        .map_err(|e| self.wait_error(m, &format!("sidecar {name} to start"), timeout, e))
    }

    /// The init containers of a member, as rendered for play.
    pub fn init_containers(&self, m: &Member) -> Result<Vec<core::Container>> {
        let (pod, _) = self.render_member(m)?;
        Ok(without_init_containers(&pod).1)
    }

    /// Plays every member not running yet, waits until all are ready, then
    /// runs the lifecycle hooks (KubeDirector roles). Returns one line per event.
    /// `timeout` bounds each wait of the start (see `start_pods`).
    pub fn start(&self, members: &[Member], timeout: Duration, log: Log) -> Result<Vec<String>> {
        let existing: Vec<Member> = self
            .members
            .iter()
            .filter(|m| self.is_played(m) && !members.iter().any(|n| n.pod == m.pod))
            .cloned()
            .collect();
        self.start_pods(members, timeout, log)?;
        self.lifecycle.on_start(self, members, &existing, log)
    }

    /// Whether a member belongs to an OrderedReady StatefulSet.
    fn is_ordered(&self, m: &Member) -> bool {
        self.role_of(m).and_then(|r| r.workload.as_ref()).is_some_and(|w| w.ordered)
    }

    /// Plays members and waits until each is ready: in parallel, except the
    /// members of OrderedReady StatefulSets, which start one index at a
    /// time, each once the ones before it are ready (the StatefulSet
    /// controller's default). `timeout` is the step's, and bounds each wait
    /// (an init container, a container to run, readiness), not their sum.
    pub fn start_pods(&self, members: &[Member], timeout: Duration, log: Log) -> Result<()> {
        let (ordered, parallel): (Vec<Member>, Vec<Member>) = members.iter().cloned().partition(|m| self.is_ordered(m));
        if ordered.is_empty() {
            return self.start_together(members, timeout, log);
        }
        if !parallel.is_empty() {
            self.start_together(&parallel, timeout, log)?;
        }
        let mut indexes: Vec<u32> = ordered.iter().map(|m| m.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        for i in indexes {
            let wave: Vec<Member> = ordered.iter().filter(|m| m.index == i).cloned().collect();
            self.start_together(&wave, timeout, log)?;
        }
        Ok(())
    }

    /// Plays members in parallel and waits until each is ready.
    fn start_together(&self, members: &[Member], timeout: Duration, log: Log) -> Result<()> {
        self.ensure_network()?;
        let results: Vec<Result<()>> = crate::kubelet::fan_out(members, |m| self.play(m, timeout, log))
            .into_iter()
            .map(|r| r.unwrap_or_else(|_| Err(Error::runtime("play thread panicked"))))
            .collect();
        for r in results {
            r?;
        }
        let results: Vec<Result<()>> = crate::kubelet::fan_out(members, |m| {
            self.post_start(m, timeout).and_then(|_| self.wait_ready(m, timeout, log))
        })
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
                // The app's fault unless the environment's failed one of them.
                let env = errors.iter().any(|e| e.exit_code() == crate::error::exit::ENVIRONMENT);
                let headline = format!("{n} members failed to start");
                let mut e = if env { Error::runtime(headline) } else { Error::failed(headline) };
                for err in errors {
                    e = e.because(err.to_string().trim_start_matches("error: ").to_string());
                }
                Err(e)
            }
        }
    }

    /// Runs postStart hooks; a failing hook fails the member, as in Kubernetes.
    /// `timeout` bounds the wait for each container to run.
    pub fn post_start(&self, m: &Member, timeout: Duration) -> Result<()> {
        let spec = self.role_of(m).and_then(|r| r.template.spec.clone()).unwrap_or_default();
        for c in &spec.containers {
            let Some(h) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else { continue };
            let states = self.wait_running(m, &c.name, timeout)?;
            let t = self.target(m, &c.name, &states);
            probe::handler(h, &t, Duration::from_secs(30)).map_err(|e| {
                Error::failed(format!("postStart hook of {}/{} failed", m.pod, c.name))
                    .because(e)
                    .because(self.logs_of(m))
            })?;
        }
        Ok(())
    }

    /// Scales a role to `n` members, with KubeDirector's events: new members
    /// are configured and existing ones get addnodes; on shrink every member
    /// gets delnodes before the highest-index members are removed. Unchanged
    /// members are not touched. Per-member volumes of removed members stay,
    /// as a StatefulSet's claims do. New members start within `timeout` (see `start_pods`).
    pub fn scale(
        &mut self,
        app_name: &str,
        role_name: &str,
        n: u32,
        timeout: Duration,
        log: Log,
    ) -> Result<Vec<String>> {
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
            return self.start(&new, timeout, log);
        }
        let leaving: Vec<Member> =
            self.members.iter().filter(|m| m.app == app_name && m.role == role_name && m.index >= n).cloned().collect();
        let staying: Vec<Member> =
            self.members.iter().filter(|m| m.app == app_name && m.role == role_name && m.index < n).cloned().collect();
        log(&format!("scaling {app_name}/{role_name}: {current} -> {n}"));
        let lines = self.lifecycle.on_shrink(self, &leaving, &staying, log)?;
        if leaving.iter().any(|m| self.is_ordered(m)) {
            // OrderedReady: one at a time, from the highest index.
            let mut leaving = leaving.clone();
            leaving.sort_by_key(|m| std::cmp::Reverse(m.index));
            for m in &leaving {
                self.remove_members(std::slice::from_ref(m), log)?;
            }
        } else {
            self.remove_members(&leaving, log)?;
        }
        self.members.retain(|m| !(m.app == app_name && m.role == role_name && m.index >= n));
        self.apps[app_i].roles[role_i].members = n;
        Ok(lines)
    }

    /// Runs the preStop hooks of the running containers of `members`, native
    /// sidecars included, all at once, each within its pod's grace period: the
    /// kubelet runs every container's hook when the pod's termination starts,
    /// and only then holds the sidecars back until the main containers exited.
    pub fn pre_stop(&self, members: &[Member], log: Log) {
        let specs: Vec<crate::kubelet::stop::StopSpec> =
            members.iter().map(|m| super::stop_spec(m, &self.spec_of(m))).collect();
        crate::kubelet::stop::pre_stop(&specs, self.settings.grace, log);
    }

    /// The stop timeout: the configured grace, bounded by terminationGracePeriodSeconds.
    pub fn grace_of(&self, m: &Member) -> Duration {
        let tgps =
            self.role_of(m).and_then(|r| r.template.spec.as_ref()?.termination_grace_period_seconds).unwrap_or(30);
        self.settings.grace.min(Duration::from_secs(tgps.max(0) as u64))
    }

    /// Stops and removes members' pods, each within its whole grace period,
    /// as a stop that a test can observe must (a `down` step, scale-down,
    /// `restart`, a changed pod replaced). Stopping first matters: removing a
    /// pod whose processes were just killed makes podman 4.3 wait about 3 s
    /// for the pod's cgroup, while removing a stopped pod takes ~0.1 s.
    pub fn remove_members(&self, members: &[Member], log: Log) -> Result<()> {
        self.stop_and_remove(members, false, log).map(|_| ())
    }

    /// Stops and removes members' pods for good (test teardown, `podproof
    /// down`): a pod whose every running container ignores its stop signal
    /// (see `kubelet::grace`) is killed at once instead of waiting out a
    /// grace period that cannot end early. Returns those containers; each is
    /// also a `StopSignalIgnored` event on the timeline.
    pub fn finish_members(&self, members: &[Member], log: Log) -> Result<Vec<grace::Ignored>> {
        self.stop_and_remove(members, true, log)
    }

    fn stop_and_remove(&self, members: &[Member], last: bool, log: Log) -> Result<Vec<grace::Ignored>> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        for m in members.iter().filter(|m| self.is_played(m)) {
            self.kubelet.timeline.normal(&m.pod, "Killing", format!("Stopping pod {}", m.pod));
        }
        let ignored = std::sync::Mutex::new(Vec::new());
        // One termination per pod, all at once: `podman pod stop a b c` stops
        // them one after another, each waiting out its grace period. A pod
        // with a worker is terminated by it, so that nothing is restarted
        // and no stop is taken for a crash meanwhile.
        let stops: Vec<std::result::Result<(), String>> = std::thread::scope(|s| {
            let hs: Vec<_> = members
                .iter()
                .map(|m| {
                    let ignored = &ignored;
                    s.spawn(move || {
                        let mut grace = self.grace_of(m);
                        if last && !grace.is_zero() {
                            let found = self.ignoring(m);
                            if !found.is_empty() {
                                grace = Duration::ZERO;
                                ignored.lock().expect("ignored lock").extend(found);
                            }
                        }
                        let spec = self.spec_of(m);
                        // Sidecars stop after the main containers, as in Kubernetes.
                        let containers = if spec.init_containers.iter().flatten().any(is_sidecar) {
                            m.podman_containers()
                        } else {
                            Vec::new()
                        };
                        let t = crate::kubelet::stop::Termination {
                            spec: super::stop_spec(m, &spec),
                            hook_grace: self.settings.grace,
                            grace,
                            containers,
                        };
                        self.kubelet.terminate(t, log)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("pod stop panicked".into()))).collect()
        });
        let ignored = ignored.into_inner().expect("ignored lock");
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
                log(&format!("stopping pods: {e}"));
            }
        }
        Ok(ignored)
    }

    /// The containers of `m` that ignore their stop signal, when all of its
    /// running containers do and none has a preStop hook; each goes on the
    /// timeline.
    fn ignoring(&self, m: &Member) -> Vec<grace::Ignored> {
        let spec = self.spec_of(m);
        let hooked: Vec<String> = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .filter(|c| c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()).is_some())
            .map(|c| m.container(&c.name))
            .collect();
        // A pod of main containers only is known from its last inspection
        // (checked against /proc), which costs no podman call; sidecars were
        // started apart, and the pod's listing finds them.
        let states = if spec.init_containers.iter().flatten().any(is_sidecar) {
            podman::pod_containers(&m.pod).ok()
        } else {
            self.states_fresh(m).ok()
        };
        let Some(states) = states else { return Vec::new() };
        let pod = grace::PodRef {
            app: &m.app,
            role: &m.role,
            pod: &m.pod,
            grace_seconds: spec.termination_grace_period_seconds,
        };
        let found = grace::ignoring(&pod, &states, &hooked);
        for i in &found {
            self.kubelet.timeline.warning(&format!("{}/{}", m.pod, i.container), "StopSignalIgnored", i.message());
        }
        found
    }
}

/// Expands `$(VAR)` in the exec probes' commands with each container's
/// literal env values, as the kubelet's prober does; hooks' commands are run
/// as written, as the kubelet runs them.
fn expand_probe_commands(spec: &mut core::PodSpec) {
    let all = spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten());
    for c in all {
        let env = c.env.clone().unwrap_or_default();
        for p in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
            if let Some(cmd) = p.exec.as_mut().and_then(|e| e.command.as_mut()) {
                *cmd = render::env::expand_static(cmd, &env);
            }
        }
    }
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

fn run_flags(
    c: &core::Container,
    volumes: &[core::Volume],
    pod_sc: Option<&core::PodSecurityContext>,
) -> std::result::Result<RunFlags, String> {
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
    // The container's own user and group win over the pod's, as in the kubelet.
    let sc = c.security_context.clone().unwrap_or_default();
    let user = sc.run_as_user.or(pod_sc.and_then(|p| p.run_as_user));
    let group = sc.run_as_group.or(pod_sc.and_then(|p| p.run_as_group));
    match (user, group) {
        (Some(u), Some(g)) => flags.push(format!("--user={u}:{g}")),
        (Some(u), None) => flags.push(format!("--user={u}")),
        // A group alone keeps the image's user: podman takes `USER:GROUP` only.
        (None, Some(_)) | (None, None) => {}
    }
    // The played pod's supplementalGroups hold fsGroup and the primary group
    // too by now (`render::podman::as_cluster_runtime`).
    for g in pod_sc.and_then(|p| p.supplemental_groups.clone()).unwrap_or_default() {
        flags.push(format!("--group-add={g}"));
    }
    if let Some(sc) = &c.security_context {
        if sc.privileged == Some(true) {
            flags.push("--privileged".into());
        }
        if sc.read_only_root_filesystem == Some(true) {
            // As in a cluster: no tmpfs on /tmp, /run and /var/tmp either.
            flags.push("--read-only".into());
            flags.push("--read-only-tmpfs=false".into());
        }
        if sc.allow_privilege_escalation == Some(false) {
            flags.push("--security-opt=no-new-privileges".into());
        }
        for cap in sc.capabilities.iter().flat_map(|c| c.add.iter().flatten()) {
            flags.push(format!("--cap-add={cap}"));
        }
        for cap in sc.capabilities.iter().flat_map(|c| c.drop.iter().flatten()) {
            flags.push(format!("--cap-drop={cap}"));
        }
    }
    // Limits as `kube play` applies them (and only where podman can enforce
    // them, as `strip_limits` decides for the played pod): limits.memory,
    // limits.cpu as a quota, requests.memory as a reservation.
    if crate::host::limits_enforced() {
        let r = c.resources.as_ref();
        let get = |m: Option<
            &std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
        >,
                   k: &str| m.and_then(|m| m.get(k)).and_then(|q| crate::quantity::parse(&q.0));
        if let Some(bytes) = get(r.and_then(|r| r.limits.as_ref()), "memory") {
            flags.push(format!("--memory={}", bytes.round() as u64));
        }
        if let Some(cpus) = get(r.and_then(|r| r.limits.as_ref()), "cpu") {
            flags.push(format!("--cpus={cpus}"));
        }
        if let Some(bytes) = get(r.and_then(|r| r.requests.as_ref()), "memory") {
            flags.push(format!("--memory-reservation={}", bytes.round() as u64));
        }
    }
    Ok((flags, image, c.args.clone().unwrap_or_default(), envs))
}

/// Removes every container's resource requests and limits; true if any were set.
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
