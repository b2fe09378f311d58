//! `podproof promote`: write cluster manifests of apps whose exact bytes were linted and tested.

use crate::app;
use crate::error::{Error, Result};
use crate::imagemap::Mapping;
use crate::outdir::{self, File};
use crate::promote::{self, Check};
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
  podproof promote fixtures/apps/prometheus --out charts/prom --format helm --chart-version 1.2.0
  podproof keygen promote.key && podproof promote app/ --out deploy/app --attest promote.key
  podproof verify deploy/app --key promote.key.pub

Preconditions: lint (no error with --target cluster), tested (the newest test record of these exact bytes passed) and snapshots (no pending .snap.new); --force bypasses them and records that in the output.
--out: podproof replaces only files it wrote there itself, as its manifest (.podproof-manifest, with digests) lists them; a directory holding anything else (another file, an edited one, a symlink) is refused, and --force removes those, naming each. Nothing in DIR is followed if it is a symlink.
Exit status: 0 promoted, 1 a precondition failed or the apply failed, 2 bad input or usage (a foreign file in --out, a bad key).")]
pub struct Args {
    /// App definitions: App files, manifests, or a KubeDirectorApp with its KubeDirectorCluster; a directory means the files in it
    #[arg(required = true, value_name = "APP")]
    pub apps: Vec<String>,
    /// Where to write the manifests: a new or empty directory, or one holding only what podproof wrote there
    #[arg(short = 'o', long = "out", value_name = "DIR", required = true)]
    pub out: PathBuf,
    /// plain: one file per object; kustomize: the same plus a kustomization.yaml; helm: a chart (Chart.yaml, values.yaml with the images and replica counts, templates/)
    #[arg(long, default_value = "plain", value_parser = ["plain", "kustomize", "helm"])]
    pub format: String,
    /// The chart's version with --format helm (SemVer)
    #[arg(long, value_name = "VERSION")]
    pub chart_version: Option<String>,
    /// Sign an in-toto attestation of the promoted files and their test evidence with this ed25519 key (PKCS#8 PEM), written beside them as podproof.intoto.jsonl
    #[arg(long, value_name = "KEY")]
    pub attest: Option<PathBuf>,
    /// Promote although preconditions failed (loudly, and recorded on every object), and remove from --out what podproof did not write there (each named)
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
        return Err(Error::failed_because(format!("refusing to promote: precondition failed ({names})"), causes));
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

/// The usage errors a command line can have before anything is read.
fn check_args(a: &Args) -> Result<()> {
    if a.apps.iter().any(|p| p == "-") {
        return Err(Error::Usage(
            "podproof promote reads app files, not stdin: a test record names the files that were tested".into(),
        ));
    }
    if a.format == "helm" && a.apply {
        return Err(Error::Usage(
            "--apply applies plain or kustomize output with kubectl; install a chart with `helm install RELEASE DIR`"
                .into(),
        ));
    }
    match &a.chart_version {
        Some(_) if a.format != "helm" => Err(Error::Usage("--chart-version needs --format helm".into())),
        Some(v) if !is_semver(v) => {
            Err(Error::Usage(format!("--chart-version `{v}`: a chart's version is SemVer, such as 1.2.0")))
        }
        _ => Ok(()),
    }
}

/// SemVer 2: MAJOR.MINOR.PATCH with an optional pre-release and build.
fn is_semver(v: &str) -> bool {
    let re = regex::Regex::new(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$");
    re.is_ok_and(|re| re.is_match(v))
}

/// What `--out` holds now; a directory with anything podproof did not write
/// there is refused unless `force`.
fn survey_out(out: &std::path::Path, force: bool) -> Result<outdir::Survey> {
    let shown = crate::source::display(out);
    let survey = outdir::survey(out).map_err(|e| Error::Usage(format!("--out {shown}: {e}")))?;
    if survey.foreign.is_empty() || force {
        return Ok(survey);
    }
    let mut causes: Vec<String> = survey.foreign.iter().map(|f| format!("`{}`: {}", f.path, f.why)).collect();
    if survey.readme_without_manifest {
        causes.push(format!(
            "its README.md starts like a promotion's, but a README proves nothing: podproof trusts only its manifest ({}), which an older podproof did not write; --force replaces such a directory once",
            outdir::MANIFEST
        ));
    }
    causes.push(
        "move or remove them, choose another directory, or pass --force to remove them (each is named as it goes)"
            .into(),
    );
    Err(Error::bad_input(
        format!("--out {shown} holds files podproof did not write there; nothing was removed"),
        causes,
    ))
}

/// With `--force`, a directory that holds the project (or an app's own
/// files) is still refused: removing what podproof did not write there would remove them.
fn guard_force(out: &std::path::Path, root: &std::path::Path, apps: &[app::App]) -> Result<()> {
    let Ok(out) = out.canonicalize() else { return Ok(()) };
    let shown = crate::source::display(&out);
    if root.canonicalize().is_ok_and(|r| r.starts_with(&out)) {
        return Err(Error::Usage(format!(
            "--out {shown} holds the project root: --force would remove the project's files; choose a directory of its own"
        )));
    }
    for input in apps.iter().flat_map(|a| &a.inputs).filter_map(|i| i.path.as_ref()) {
        if input.canonicalize().is_ok_and(|p| p.starts_with(&out)) {
            return Err(Error::Usage(format!(
                "--out {shown} holds the app's own file {}: --force would remove it; choose a directory of its own",
                crate::source::display(input)
            )));
        }
    }
    Ok(())
}

pub fn run(a: Args) -> Result<i32> {
    check_args(&a)?;
    survey_out(&a.out, a.force)?;
    // A bad key is bad input, found before anything else is done.
    let signing_key = a.attest.as_deref().map(crate::attest::read_signing_key).transpose()?;
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

    let mut objects: Vec<(String, &Object)> = Vec::new();
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
        }
    }
    for r in &rendered {
        for o in &r.objects {
            let name = promote::file_name(o);
            if objects.iter().any(|(n, _)| *n == name) {
                let err = format!("{name} (app `{}`)", r.app);
                return Err(Error::bad_input("cannot promote: two objects would share a file", vec![err]));
            }
            objects.push((name, o));
        }
    }
    let mut files: Vec<File> = Vec::new();
    match a.format.as_str() {
        "helm" => {
            let name = apps.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join("-");
            let description = format!(
                "{name}, promoted by podproof {} from the bytes its tests passed on",
                env!("CARGO_PKG_VERSION")
            );
            let meta = crate::chart::Meta {
                name: &name,
                version: a.chart_version.as_deref().unwrap_or("0.1.0"),
                description: &description,
            };
            let chart = crate::chart::chart(&meta, &objects)
                .map_err(|e| Error::bad_input("cannot write the chart", vec![e]))?;
            files.extend(chart.into_iter().map(|f| File { name: f.name, text: f.text, secret: f.secret }));
        }
        _ => {
            for (name, o) in &objects {
                files.push(File { name: name.clone(), text: o.to_yaml(), secret: matches!(o, Object::Secret(_)) });
            }
        }
    }
    let kustomize = a.format == "kustomize";
    if kustomize {
        let text = kustomization(&apps, &files, forced.as_ref().map(|l| l[0].as_str()));
        files.push(File { name: "kustomization.yaml".into(), text, secret: false });
    }
    let text = readme(&apps, &provenance, forced.as_deref().unwrap_or_default(), &a.format);
    files.push(File { name: "README.md".into(), text, secret: false });
    if let Some(key) = &signing_key {
        let predicate =
            crate::attest::predicate(&a.format, &failed_names(&failed), &apps, &provenance, &opts.image_map);
        let subjects: Vec<(String, &[u8])> = files.iter().map(|f| (f.name.clone(), f.text.as_bytes())).collect();
        let statement = crate::attest::statement(&subjects, &predicate);
        files.push(File {
            name: crate::attest::FILE.into(),
            text: crate::attest::sign(&statement, key),
            secret: false,
        });
    }

    // The directory again, just before it changes: what goes is what is there now.
    let survey = survey_out(&a.out, a.force)?;
    let shown = crate::source::display(&a.out);
    if !survey.foreign.is_empty() {
        guard_force(&a.out, &root, &apps)?;
        errln!(
            "WARNING: --force: removing {} entries from {shown} that podproof did not write there:",
            survey.foreign.len()
        );
        for f in &survey.foreign {
            errln!("WARNING:   removes `{}` ({})", f.path, f.why);
        }
    }
    outdir::replace(&a.out, &survey, &files, a.force)
        .map_err(|e| Error::runtime(format!("cannot write {shown}")).because(e.to_string()))?;
    for (r, p) in rendered.iter().zip(&provenance) {
        let from = p.record.as_deref().map(|f| format!("record {f}")).unwrap_or_else(|| "no record".into());
        outln!("promoted {}: {} objects ({from}) to {shown}", r.app, r.objects.len());
    }
    if let Some(key) = &signing_key {
        outln!(
            "attested {} files in {shown}/{} (key {})",
            files.len() - 1,
            crate::attest::FILE,
            crate::attest::key_id(&key.verifying_key())
        );
    }
    if let (true, Some(ctx)) = (a.apply, &a.context) {
        promote::apply(&a.out, ctx, kustomize)?;
        outln!("applied {shown} to context {ctx}");
    }
    Ok(0)
}

fn failed_names(failed: &[&Check]) -> Vec<String> {
    failed.iter().map(|c| c.name.to_string()).collect()
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

fn readme(apps: &[app::App], provenance: &[promote::Provenance], forced: &[String], format: &str) -> String {
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
    s.push_str(&match format {
        "helm" => {
            "\nInstall with `helm install RELEASE .`; `values.yaml` holds the images and replica counts.\n".to_string()
        }
        "kustomize" => "\nApply with `kubectl apply --server-side -k .`\n".to_string(),
        _ => "\nApply with `kubectl apply --server-side -f .`\n".to_string(),
    });
    s.push_str(&format!(
        "\npodproof replaces only the files its manifest (`{}`) lists, with their digests; it refuses this directory if anything else is added.\n",
        outdir::MANIFEST
    ));
    if let Some((line, reasons)) = forced.split_first() {
        s.push_str(&format!("\n{line}\n\n"));
        s.extend(reasons.iter().map(|r| format!("{r}\n")));
    }
    s
}
