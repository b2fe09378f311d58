//! `podproof promote`: write cluster manifests of apps whose exact bytes were linted and tested.

use crate::app;
use crate::error::{Error, Result};
use crate::promote::{self, Check, File, Mapping};
use crate::render::{cluster, Object, Options};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  podproof promote fixtures/apps/prometheus --out deploy/prom
  podproof promote fixtures/apps/xcat --out deploy/xcat --hostpath-to-pvc
  podproof promote app/ --out deploy/app --image-map localhost/app:1=registry.example.com/app:1
  podproof promote fixtures/apps/nginx --out deploy/web --format kustomize --apply --context staging

Preconditions: lint (no error with --target cluster), tested (the newest test record of these exact bytes passed) and snapshots (no pending .snap.new); --force bypasses them and records that in the output.
Exit status: 0 promoted, 1 a precondition failed or the apply failed, 2 bad input or usage.")]
pub struct Args {
    /// App definitions: App files, manifests, or a KubeDirectorApp with its KubeDirectorCluster; a directory means the files in it
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// Where to write the manifests (a new directory, or one an earlier promotion wrote)
    #[arg(short = 'o', long = "out", value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// plain: one file per object; kustomize: the same plus a kustomization.yaml
    #[arg(long, default_value = "plain", value_parser = ["plain", "kustomize"])]
    pub format: String,
    /// Promote although preconditions failed (loudly, and recorded on every object)
    #[arg(long)]
    pub force: bool,
    /// Rewrite images: an exact image, a repository (keeps the tag), or a prefix ending in `/` (repeatable; wins over podproof.yaml's promote.imageMap and its `images:` read backwards)
    #[arg(long = "image-map", value_name = "FROM=TO")]
    pub image_map: Vec<String>,
    /// Replace a relative hostPath (as written) with an absolute one on the nodes (repeatable)
    #[arg(long = "hostpath-map", value_name = "REL=ABS")]
    pub hostpath_map: Vec<String>,
    /// Turn every relative hostPath volume into a per-member PersistentVolumeClaim
    #[arg(long)]
    pub hostpath_to_pvc: bool,
    /// The size of the claims --hostpath-to-pvc makes
    #[arg(long, value_name = "SIZE", default_value = "1Gi")]
    pub hostpath_pvc_size: String,
    /// The configmap-reload image that performs `http` reload policies
    #[arg(long, value_name = "IMAGE", default_value = cluster::RELOAD_SIDECAR_IMAGE)]
    pub reload_sidecar_image: String,
    /// The busybox image of the sidecar that performs `signal` reload policies
    #[arg(long, value_name = "IMAGE", default_value = cluster::SIGNAL_SIDECAR_IMAGE)]
    pub signal_sidecar_image: String,
    /// How `signal` reload policies work in the cluster: a signalling sidecar, or a restart by stakater Reloader
    #[arg(long, value_name = "HOW", default_value = "sidecar", value_parser = ["sidecar", "reloader"])]
    pub signal_reload: String,
    /// Apply the output with kubectl: a server-side dry run, then the apply
    #[arg(long, requires = "context")]
    pub apply: bool,
    /// The kubectl context to apply to
    #[arg(long, value_name = "CTX", requires = "apply")]
    pub context: Option<String>,
}

fn mappings(flag: &str, values: &[String]) -> Result<Vec<Mapping>> {
    values.iter().map(|v| v.parse::<Mapping>().map_err(|e| Error::Usage(format!("--{flag} {e}")))).collect()
}

/// The promotion settings from the flags and podproof.yaml (through lint's
/// settings, so that lint and promotion map images alike).
fn options(a: &Args, lint_config: &crate::lint::Config) -> Result<promote::Options> {
    // podproof.yaml's map (`promote::promotion_map`), then the flags: for the
    // same FROM the last one wins.
    let mut images: BTreeMap<String, String> =
        lint_config.image_map.iter().map(|m| (m.from.clone(), m.to.clone())).collect();
    images.extend(mappings("image-map", &a.image_map)?.into_iter().map(|m| (m.from, m.to)));
    let image_map: Vec<Mapping> = images.into_iter().map(|(from, to)| Mapping { from, to }).collect();
    if let Some(m) = image_map.iter().find(|m| m.from.ends_with('/') != m.to.ends_with('/')) {
        return Err(Error::Usage(format!(
            "image map {}={} (--image-map or an imageMap): a prefix maps to a prefix, so both sides must end with `/` (or neither)",
            m.from, m.to
        )));
    }
    let hostpath_map = mappings("hostpath-map", &a.hostpath_map)?;
    if let Some(m) = hostpath_map.iter().find(|m| m.from.starts_with('/') || !m.to.starts_with('/')) {
        return Err(Error::Usage(format!(
            "--hostpath-map {}={}: expected a relative hostPath as written, mapped to an absolute path",
            m.from, m.to
        )));
    }
    let size = Quantity(a.hostpath_pvc_size.clone());
    if crate::quantity::parse(&size.0).is_none() {
        return Err(Error::Usage(format!("--hostpath-pvc-size `{}`: expected a quantity such as 1Gi", size.0)));
    }
    let reload = cluster::Reload {
        sidecar_image: a.reload_sidecar_image.clone(),
        signal_image: a.signal_sidecar_image.clone(),
        signal: a.signal_reload.parse().map_err(Error::Usage)?,
    };
    Ok(promote::Options { image_map, hostpath_map, hostpath_to_pvc: a.hostpath_to_pvc.then_some(size), reload })
}

/// Reports the preconditions; returns the failed ones (with `--force`) or the refusal.
fn gate(checks: &[Check], force: bool) -> Result<Vec<&Check>> {
    for c in checks.iter().filter(|c| c.passed()) {
        errln!("precondition {}: ok ({})", c.name, c.summary);
    }
    let failed: Vec<&Check> = checks.iter().filter(|c| !c.passed()).collect();
    let names = failed.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    let reasons = failed.iter().flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.name)));
    if failed.is_empty() {
        return Ok(failed);
    }
    if !force {
        let mut causes: Vec<String> = reasons.collect();
        causes.push("fix these, or bypass them with --force (which is recorded in the output)".into());
        return Err(Error::Failed { headline: format!("refusing to promote: precondition failed ({names})"), causes });
    }
    errln!(
        "WARNING: --force: promoting although preconditions failed ({names}); every object is annotated {}",
        promote::FORCED
    );
    for r in reasons {
        errln!("WARNING:   {r}");
    }
    Ok(failed)
}

pub fn run(a: Args) -> Result<i32> {
    if a.apps.iter().any(|p| p == "-") {
        return Err(Error::Usage(
            "podproof promote reads app files, not stdin: a test record names the files that were tested".into(),
        ));
    }
    promote::check_out(&a.out)?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let (root, config) = crate::config::load(&cwd)?;
    let settings = crate::lint::config::settings(&cwd, None)?;
    for w in &settings.warnings {
        errln!("warning: {w}");
    }
    let lint_config = settings.config;
    let opts = options(&a, &lint_config)?;

    let (apps, warnings) = app::load(&a.apps).into_result()?;
    super::print_warnings(&warnings);
    let render_opts = Options { flavor: crate::render::Flavor::Cluster, reveal_secrets: true, ..Options::default() };
    let mut rendered = Vec::new();
    let mut errors = Vec::new();
    for app in &apps {
        let mut app = app.clone();
        let mut problems = promote::fix_host_paths(&mut app, &opts);
        let mut r = cluster::render_with(&app, &render_opts, &opts.reload);
        if r.diagnostics.iter().any(|d| d.is_error()) {
            return Err(Error::from_diagnostics(format!("cannot render app `{}`", app.name), &r.diagnostics));
        }
        super::print_warnings(&r.diagnostics);
        problems.extend(promote::map_images(&mut r.objects, &opts.image_map));
        errors.extend(problems.into_iter().map(|e| format!("app `{}`: {e}", app.name)));
        rendered.push(r);
    }
    if !errors.is_empty() {
        return Err(Error::bad_input("cannot promote: these only work on this machine", errors));
    }

    let (tested, provenance) = promote::check_tested(&root, &apps);
    let snapshot_dir = config.snapshots.dir.as_ref().map(|d| root.join(d)).unwrap_or_else(|| root.join("snapshots"));
    let checks = [promote::check_lint(&a.apps, &opts, lint_config), tested, promote::check_snapshots(&snapshot_dir)];
    let failed = gate(&checks, a.force)?;
    let names = failed.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
    let forced = (!failed.is_empty()).then(|| {
        let mut lines = vec![format!("FORCED: promoted with --force although preconditions failed: {names}")];
        lines.extend(failed.iter().flat_map(|c| c.problems.iter().map(move |p| format!("- {}: {p}", c.name))));
        lines
    });

    let mut files = Vec::new();
    for (r, p) in rendered.iter_mut().zip(&provenance) {
        let mut ann = BTreeMap::from([
            (promote::TESTED_DIGEST.to_string(), p.digest.clone()),
            (promote::VERSION.to_string(), env!("CARGO_PKG_VERSION").to_string()),
            (promote::RECORD.to_string(), p.record.clone().unwrap_or_else(|| "none".into())),
        ]);
        if forced.is_some() {
            ann.insert(promote::FORCED.to_string(), names.clone());
        }
        for o in &mut r.objects {
            promote::annotate(o, &ann);
            let name = promote::file_name(o);
            if files.iter().any(|f: &File| f.name == name) {
                let err = format!("{name} (app `{}`)", r.app);
                return Err(Error::bad_input("cannot promote: two objects would share a file", vec![err]));
            }
            files.push(File { name, text: o.to_yaml(), secret: matches!(o, Object::Secret(_)) });
        }
    }
    let kustomize = a.format == "kustomize";
    if kustomize {
        let text = kustomization(&apps, &files, forced.as_ref().map(|l| l[0].as_str()));
        files.push(File { name: "kustomization.yaml".into(), text, secret: false });
    }
    let text = readme(&apps, &provenance, forced.as_deref().unwrap_or_default(), kustomize);
    files.push(File { name: "README.md".into(), text, secret: false });
    promote::write(&a.out, &files)?;
    for (r, p) in rendered.iter().zip(&provenance) {
        let from = p.record.as_deref().map(|f| format!("record {f}")).unwrap_or_else(|| "no record".into());
        outln!("promoted {}: {} objects ({from}) to {}", r.app, r.objects.len(), crate::source::display(&a.out));
    }
    if let (true, Some(ctx)) = (a.apply, &a.context) {
        promote::apply(&a.out, ctx, kustomize)?;
        outln!("applied {} to context {ctx}", crate::source::display(&a.out));
    }
    Ok(0)
}

fn kustomization(apps: &[app::App], files: &[File], forced: Option<&str>) -> String {
    let mut k = format!("# Promoted by podproof {} (see README.md).\n", env!("CARGO_PKG_VERSION"));
    k.extend(forced.map(|l| format!("# {l}\n")));
    let name = apps.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("-");
    k.push_str(&format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nmetadata:\n  name: {name}\nresources:\n"
    ));
    k.extend(files.iter().map(|f| format!("- {}\n", f.name)));
    k
}

fn readme(apps: &[app::App], provenance: &[promote::Provenance], forced: &[String], kustomize: bool) -> String {
    let mut s = format!(
        "{}\n\nWritten by `podproof promote` (podproof {}). Every object carries `{}`, `{}` and `{}`.\n\n| app | tested digest | record |\n|---|---|---|\n",
        promote::README_TITLE,
        env!("CARGO_PKG_VERSION"),
        promote::TESTED_DIGEST,
        promote::VERSION,
        promote::RECORD
    );
    for (app, p) in apps.iter().zip(provenance) {
        s.push_str(&format!("| {} | {} | {} |\n", app.name, p.digest, p.record.as_deref().unwrap_or("none")));
    }
    s.push_str(&format!("\nApply with `kubectl apply --server-side {} .`\n", if kustomize { "-k" } else { "-f" }));
    if let Some((line, reasons)) = forced.split_first() {
        s.push_str(&format!("\n{line}\n\n"));
        s.extend(reasons.iter().map(|r| format!("{r}\n")));
    }
    s
}
