//! What the pod workers ask of the container runtime, as one trait: the
//! kubelet's `kubecontainer.Runtime` and prober, cut down to the calls a pod
//! worker and a probe worker make. `Podman` is the real one (the podman
//! driver, and probes from inside the pod's network namespace); the workers'
//! unit tests give them a fake, as pod_workers_test.go does, so that their
//! decisions are tested without containers. The e2e tests run on podman.

use crate::podman::{self, ContainerState};
use crate::probe::{self, Target};
use k8s_openapi::api::core::v1 as core;
use std::time::Duration;

pub trait Runtime: Send + Sync {
    /// The states of these containers (by podman name).
    fn inspect(&self, containers: &[String]) -> Result<Vec<ContainerState>, String>;
    /// Starts an exited container again, in place, within `timeout`.
    fn start(&self, container: &str, timeout: Duration) -> Result<(), String>;
    /// Stops a container: its stop signal, then SIGKILL after `grace`.
    fn stop(&self, container: &str, grace: Duration) -> Result<(), String>;
    /// Stops a whole pod (its infra container too) within `grace`.
    fn stop_pod(&self, pod: &str, grace: Duration) -> Result<(), String>;
    /// Runs a probe once against `target`, within the probe's timeoutSeconds.
    fn probe(&self, probe: &core::Probe, target: &Target) -> probe::Outcome;
    /// Runs a lifecycle handler (postStart, preStop) within `timeout`.
    fn handler(&self, handler: &core::LifecycleHandler, target: &Target, timeout: Duration) -> Result<(), String>;
}

/// The runtime of every run: podman, and probes performed by podproof.
pub struct Podman;

impl Runtime for Podman {
    fn inspect(&self, containers: &[String]) -> Result<Vec<ContainerState>, String> {
        podman::inspect_containers(containers).map_err(|e| e.stderr.trim().to_string())
    }

    fn start(&self, container: &str, timeout: Duration) -> Result<(), String> {
        podman::container_start_until(container, timeout).map_err(|e| e.stderr.trim().to_string())
    }

    fn stop(&self, container: &str, grace: Duration) -> Result<(), String> {
        podman::container_stop(container, grace).map_err(|e| e.stderr.trim().to_string())
    }

    fn stop_pod(&self, pod: &str, grace: Duration) -> Result<(), String> {
        podman::pod_stop(&[pod.to_string()], grace).map_err(|e| e.stderr.trim().to_string())
    }

    fn probe(&self, p: &core::Probe, target: &Target) -> probe::Outcome {
        probe::probe_once(p, target)
    }

    fn handler(&self, h: &core::LifecycleHandler, target: &Target, timeout: Duration) -> Result<(), String> {
        probe::handler(h, target, timeout)
    }
}
