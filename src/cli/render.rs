//! `podproof render`: print the Pod manifests of apps.

use crate::app;
use crate::error::{Error, Result};
use crate::render::{self, Flavor, Options};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  podproof render fixtures/apps/prometheus/app.yaml\n  podproof render --ledger fixtures/apps/kube-prom   # what a local run does not honour, and where\n  helm template ./chart | podproof render -\n  podproof render --flavor cluster -o out/ fixtures/apps/kd-centos/"
)]
pub struct Args {
    /// App definitions: App files, manifests (`-` for stdin), or a KubeDirectorApp with its KubeDirectorCluster; a directory means the files in it
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// podman: what `podman kube play` runs; cluster: what promotion ships
    #[arg(long, default_value = "podman", value_parser = ["podman", "cluster"])]
    pub flavor: String,
    /// Write one file per app (`<app>.yaml`) into DIR instead of stdout
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write resolved relative hostPaths relative to DIR (as ./...), for files played from DIR
    #[arg(long, value_name = "DIR")]
    pub relative_to: Option<PathBuf>,
    /// Allow a hostPath outside the project or at a sensitive host path (repeatable; see docs/security.md)
    #[arg(long = "allow-host-path", value_name = "PATH")]
    pub allow_host_path: Vec<PathBuf>,
    #[command(flatten)]
    pub fidelity: super::LedgerArgs,
}

pub fn run(a: Args) -> Result<i32> {
    super::allow_host_paths(&a.allow_host_path)?;
    let (apps, warnings) = app::load(&a.apps).into_result()?;
    super::print_warnings(&warnings);
    crate::fidelity::announce(
        &crate::app::ledger::of_apps(&apps),
        a.fidelity.ledger,
        a.fidelity.strict,
        "`podproof render --ledger` lists them",
    )?;
    let flavor: Flavor = a.flavor.parse().map_err(Error::Usage)?;
    let opts =
        Options { flavor, relative_to: a.relative_to.as_deref().map(crate::source::absolute), ..Options::default() };
    let mut outputs = Vec::new();
    for app in &apps {
        let r = render::render(app, &opts);
        if r.diagnostics.iter().any(|d| d.is_error()) {
            return Err(Error::from_diagnostics(format!("cannot render app `{}`", app.name), &r.diagnostics));
        }
        super::print_warnings(&r.diagnostics);
        outputs.push((app.name.clone(), r.to_yaml()));
    }
    match &a.out {
        None => {
            let all: String = outputs.into_iter().map(|(_, y)| y).collect();
            out!("{all}");
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::runtime(format!("cannot create {}: {e}", dir.display())))?;
            for (name, y) in outputs {
                let p = crate::state::write_file_in(dir, &format!("{name}.yaml"), y.as_bytes()).map_err(|e| {
                    Error::runtime(format!("cannot write {}: {e}", dir.join(format!("{name}.yaml")).display()))
                })?;
                errln!("wrote {}", p.display());
            }
        }
    }
    Ok(0)
}
