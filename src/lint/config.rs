//! Lint's settings: the `lint:` section of podproof.yaml, with the image map
//! promotion uses.
//!
//! ```yaml
//! lint:
//!   rules: {latest-tag: off, host-network: error}
//!   ignorePaths: [vendor/, "*.generated.yaml"]
//! promote:
//!   imageMap: {localhost/podproof/xcat:1: registry.example.com/xcat:1}
//! images: {nginx: localhost/podproof/nginx:1}
//! ```
//!
//! `ignorePaths` are gitignore patterns relative to podproof.yaml's directory.
//! The section is strict: a misspelt rule would otherwise silently lint with
//! defaults. The image map is the one `podproof promote` applies, built by
//! `promotion_map`, so lint and promotion cannot disagree about which image
//! stays local.
//!
//! The older `.podproof.yaml` (the same `rules` and `ignorePaths` at the top,
//! plus `imageMap`) still works with a deprecation warning, unless podproof.yaml
//! exists: then podproof.yaml wins and `.podproof.yaml` is not read.

use super::rules;
use crate::error::{Diagnostic, Error, Severity};
use crate::imagemap::Mapping;
use crate::yaml::{self, Doc};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The deprecated file lint read before podproof.yaml held its settings.
pub const LEGACY_FILE: &str = ".podproof.yaml";

/// Which shape a settings file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// podproof.yaml: lint's settings under `lint:`, images under `promote:` and `images:`.
    Project,
    /// `.podproof.yaml`: `rules`, `ignorePaths` and `imageMap` at the top.
    Legacy,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file this came from, if any.
    pub path: Option<PathBuf>,
    /// Severity overrides; `None` turns a rule off.
    pub rules: HashMap<String, Option<Severity>>,
    /// How promotion renames images: local image -> the name a cluster pulls.
    pub image_map: Vec<Mapping>,
    ignore: Option<Gitignore>,
}

/// Lint's settings, the podman version podproof.yaml names, and what to warn about.
#[derive(Debug, Default)]
pub struct Settings {
    pub config: Config,
    pub podman_version: Option<String>,
    /// At most one: about a `.podproof.yaml` that is deprecated or ignored.
    pub warnings: Vec<String>,
}

/// Promotion's image map from podproof.yaml: its run-time `images:` read
/// backwards (local -> the name it stands for), then a legacy `imageMap`, then
/// `promote.imageMap`; for the same FROM the later one wins.
pub fn promotion_map(project: &crate::config::Config, legacy: &[Mapping]) -> Vec<Mapping> {
    let mut by_from: BTreeMap<String, String> =
        crate::imagemap::reversed(&project.image_map()).into_iter().map(|m| (m.from, m.to)).collect();
    by_from.extend(legacy.iter().map(|m| (m.from.clone(), m.to.clone())));
    by_from.extend(project.promote.image_map.clone());
    by_from.into_iter().map(|(from, to)| Mapping { from, to }).collect()
}

fn move_hint(legacy: &str) -> String {
    format!("move its `rules` and `ignorePaths` under `lint:` and its `imageMap` under `promote:` in podproof.yaml, then delete {legacy}")
}

/// The settings lint and promotion use, from `explicit` (lint's `--config`) or
/// the project around `cwd`.
pub fn settings(cwd: &Path, explicit: Option<&Path>) -> crate::error::Result<Settings> {
    let invalid = |d: Vec<Diagnostic>| Error::from_diagnostics("invalid lint configuration", &d);
    if let Some(p) = explicit {
        let name = crate::source::display(p);
        if shape_of(p)? == Shape::Legacy {
            let (_, project) = crate::config::load(cwd)?;
            let mut config = Config::load(p, Shape::Legacy).map_err(invalid)?;
            config.image_map = promotion_map(&crate::config::Config::default(), &config.image_map);
            let warning = format!("{name} has the deprecated `.podproof.yaml` shape; {}", move_hint(&name));
            return Ok(Settings { config, podman_version: project.lint.podman_version, warnings: vec![warning] });
        }
        let project = crate::config::parse_file(p)?;
        let mut config = Config::load(p, Shape::Project).map_err(invalid)?;
        config.image_map = promotion_map(&project, &[]);
        return Ok(Settings { config, podman_version: project.lint.podman_version, warnings: Vec::new() });
    }
    let (root, project) = crate::config::load(cwd)?;
    let file = root.join(crate::config::FILE);
    let legacy = Config::find(cwd);
    let mut warnings = Vec::new();
    let config = if file.is_file() {
        if let Some(l) = &legacy {
            let l = crate::source::display(l);
            warnings.push(format!(
                "{l} is ignored: {} holds the lint settings and wins; {}",
                crate::source::display(&file),
                move_hint(&l)
            ));
        }
        let mut config = Config::load(&file, Shape::Project).map_err(invalid)?;
        config.image_map = promotion_map(&project, &[]);
        config
    } else if let Some(l) = &legacy {
        let mut config = Config::load(l, Shape::Legacy).map_err(invalid)?;
        config.image_map = promotion_map(&project, &config.image_map);
        let l = crate::source::display(l);
        warnings.push(format!("{l} is deprecated: lint reads podproof.yaml now; {}", move_hint(&l)));
        config
    } else {
        Config { image_map: promotion_map(&project, &[]), ..Config::default() }
    };
    Ok(Settings { config, podman_version: project.lint.podman_version, warnings })
}

/// A file named `.podproof.yaml`, or one with its keys at the top, is legacy.
fn shape_of(path: &Path) -> crate::error::Result<Shape> {
    if path.file_name().is_some_and(|n| n == LEGACY_FILE) {
        return Ok(Shape::Legacy);
    }
    let name = crate::source::display(path);
    let src = crate::source::read(&name).map_err(|d| Error::from_diagnostics("invalid lint configuration", &[d]))?;
    let docs = yaml::parse_stream(&src.text).unwrap_or_default();
    let legacy = docs
        .iter()
        .filter_map(|d| d.value.as_mapping())
        .flat_map(|m| m.keys())
        .any(|k| matches!(k.as_str(), Some("rules" | "ignorePaths" | "imageMap")));
    Ok(if legacy { Shape::Legacy } else { Shape::Project })
}

impl Config {
    /// The nearest `.podproof.yaml` at or above `dir`.
    pub fn find(dir: &Path) -> Option<PathBuf> {
        dir.ancestors().map(|d| d.join(LEGACY_FILE)).find(|p| p.is_file())
    }

    pub fn load(path: &Path, shape: Shape) -> Result<Config, Vec<Diagnostic>> {
        let name = crate::source::display(path);
        let src = crate::source::read(&name).map_err(|d| vec![d])?;
        let dir = crate::source::absolute(path).parent().map(Path::to_path_buf).unwrap_or_default();
        let mut c = Config::parse(&name, &src.text, &dir, shape)?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// Reads the settings of a file of `shape`; in podproof.yaml only the
    /// `lint:` section, whose other keys `crate::config` checks.
    pub fn parse(name: &str, text: &str, dir: &Path, shape: Shape) -> Result<Config, Vec<Diagnostic>> {
        let docs = yaml::parse_stream(text)
            .map_err(|e| vec![Diagnostic::error(name, Some((e.pos.line, e.pos.column)), e.message)])?;
        let mut c = Config::default();
        let mut errors = Vec::new();
        let Some(doc) = docs.into_iter().find(|d| !d.value.is_null()) else { return Ok(c) };
        let err = |doc: &Doc, ptr: &str, msg: String| {
            let p = doc.pos(ptr);
            Diagnostic::error(name, Some((p.line, p.column)), msg)
        };
        let (base, section) = match shape {
            Shape::Legacy => ("", Some(&doc.value)),
            Shape::Project => ("/lint", doc.value.get("lint")),
        };
        let Some(section) = section.filter(|v| !v.is_null()) else { return Ok(c) };
        let Some(top) = section.as_mapping() else {
            let what = if shape == Shape::Legacy {
                "`rules`, `ignorePaths` or `imageMap`"
            } else {
                "`rules` or `ignorePaths`"
            };
            return Err(vec![err(&doc, base, format!("expected a mapping with {what}"))]);
        };
        let label = |key: &str| if shape == Shape::Legacy { key.to_string() } else { format!("lint.{key}") };
        for (k, v) in top {
            let key = k.as_str().unwrap_or_default();
            let ptr = format!("{base}/{}", yaml::escape(key));
            match (key, v) {
                ("rules", Value::Mapping(m)) => {
                    for (id, level) in m {
                        let id = id.as_str().unwrap_or_default();
                        let rp = format!("{ptr}/{}", yaml::escape(id));
                        if rules::rule(id).is_none() {
                            errors.push(err(
                                &doc,
                                &rp,
                                format!("unknown rule `{id}` (see `podproof lint --list-rules`)"),
                            ));
                            continue;
                        }
                        let level = match level.as_str() {
                            Some("off") => None,
                            Some("info") => Some(Severity::Info),
                            Some("warning") => Some(Severity::Warning),
                            Some("error") => Some(Severity::Error),
                            // YAML 1.1 reads a bare `off` as false.
                            _ if level.as_bool() == Some(false) => None,
                            _ => {
                                let p = doc.value_pos(&rp);
                                errors.push(Diagnostic::error(
                                    name,
                                    Some((p.line, p.column)),
                                    format!("rule `{id}`: expected off, info, warning or error"),
                                ));
                                continue;
                            }
                        };
                        c.rules.insert(id.to_string(), level);
                    }
                }
                ("ignorePaths", Value::Sequence(globs)) => {
                    let mut b = GitignoreBuilder::new(dir);
                    for (i, g) in globs.iter().enumerate() {
                        let added = g
                            .as_str()
                            .ok_or_else(|| "expected a string".to_string())
                            .and_then(|g| b.add_line(None, g).map(|_| ()).map_err(|e| e.to_string()));
                        if let Err(e) = added {
                            errors.push(err(&doc, &format!("{ptr}/{i}"), format!("{}: {e}", label("ignorePaths"))));
                        }
                    }
                    c.ignore = b.build().ok();
                }
                ("imageMap", Value::Mapping(m)) if shape == Shape::Legacy => {
                    for (from, to) in m {
                        match (from.as_str(), to.as_str()) {
                            (Some(f), Some(t)) => c.image_map.push(Mapping { from: f.to_string(), to: t.to_string() }),
                            _ => errors.push(err(&doc, &ptr, "imageMap: expected `FROM: TO` image names".into())),
                        }
                    }
                }
                // Checked with the rest of podproof.yaml (crate::config).
                ("podmanVersion", _) if shape == Shape::Project => {}
                ("rules", _) => errors.push(err(&doc, &ptr, format!("`{}` must be a mapping", label("rules")))),
                ("imageMap", _) if shape == Shape::Legacy => {
                    errors.push(err(&doc, &ptr, "`imageMap` must be a mapping".into()))
                }
                ("ignorePaths", _) => {
                    errors.push(err(&doc, &ptr, format!("`{}` must be a sequence of globs", label("ignorePaths"))))
                }
                _ if shape == Shape::Legacy => errors.push(err(
                    &doc,
                    &ptr,
                    format!("unknown key `{key}`: expected rules, ignorePaths or imageMap"),
                )),
                _ => errors.push(err(
                    &doc,
                    &ptr,
                    format!("unknown key `lint.{key}`: expected podmanVersion, rules or ignorePaths"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(c)
        } else {
            Err(errors)
        }
    }

    /// Whether `path` (absolute) is excluded by `ignorePaths`.
    pub fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        match &self.ignore {
            Some(g) if path.starts_with(g.path()) => g.matched_path_or_any_parents(path, is_dir).is_ignore(),
            _ => false,
        }
    }

    /// What promotion renames `image` to, if it renames it.
    pub fn promoted_as(&self, image: &str) -> Option<String> {
        crate::imagemap::map_image(&self.image_map, image)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(shape: Shape, text: &str, expect: &str) {
        let got = match Config::parse("c.yaml", text, Path::new("/p"), shape) {
            Ok(c) => {
                let mut r: Vec<_> = c
                    .rules
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.map(|s| s.to_string()).unwrap_or("off".into())))
                    .collect();
                r.sort();
                format!(
                    "rules {} ignore /p/vendor/x.yaml={} map={}",
                    r.join(","),
                    c.ignores(Path::new("/p/vendor/x.yaml"), false),
                    c.promoted_as("localhost/a:1").unwrap_or_default()
                )
            }
            Err(e) => e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn legacy_files() {
        let legacy = Shape::Legacy;
        check(
            legacy,
            "rules: {latest-tag: off, host-network: error}\n",
            "rules host-network=error,latest-tag=off ignore /p/vendor/x.yaml=false map=",
        );
        check(
            legacy,
            "ignorePaths: [vendor/]\nimageMap: {localhost/a: r.io/a}\n",
            "rules  ignore /p/vendor/x.yaml=true map=r.io/a:1",
        );
        check(
            legacy,
            "rules:\n  latest-tags: off\n",
            "c.yaml:2:3: error: unknown rule `latest-tags` (see `podproof lint --list-rules`)",
        );
        check(
            legacy,
            "rules:\n  latest-tag: loud\n",
            "c.yaml:2:15: error: rule `latest-tag`: expected off, info, warning or error",
        );
        check(legacy, "rule: {}\n", "c.yaml:1:1: error: unknown key `rule`: expected rules, ignorePaths or imageMap");
    }

    #[test]
    fn podproof_yaml_lint_sections() {
        let project = Shape::Project;
        check(
            project,
            "test: {jobs: 2}\nlint:\n  podmanVersion: '4.3'\n  rules: {latest-tag: off, host-network: error}\n  ignorePaths: [vendor/]\n",
            "rules host-network=error,latest-tag=off ignore /p/vendor/x.yaml=true map=",
        );
        check(project, "test: {jobs: 2}\n", "rules  ignore /p/vendor/x.yaml=false map=");
        check(project, "# a marker\n", "rules  ignore /p/vendor/x.yaml=false map=");
        check(
            project,
            "lint:\n  rules:\n    latest-tags: off\n",
            "c.yaml:3:5: error: unknown rule `latest-tags` (see `podproof lint --list-rules`)",
        );
        check(
            project,
            "lint:\n  rules:\n    latest-tag: loud\n",
            "c.yaml:3:17: error: rule `latest-tag`: expected off, info, warning or error",
        );
        check(project, "lint:\n  rules: [a]\n", "c.yaml:2:3: error: `lint.rules` must be a mapping");
        check(project, "lint: [a]\n", "c.yaml:1:1: error: expected a mapping with `rules` or `ignorePaths`");
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect()
    }

    #[test]
    fn promotion_maps() {
        let project = crate::config::Config {
            images: map(&[("nginx", "localhost/podproof/nginx:1"), ("redis", "localhost/r:1")]),
            promote: crate::config::PromoteDefaults {
                image_map: map(&[("localhost/r:1", "registry.example.com/r:1")]),
            },
            ..Default::default()
        };
        let legacy = [Mapping { from: "localhost/x".into(), to: "r.io/x".into() }];
        let got: Vec<String> =
            promotion_map(&project, &legacy).iter().map(|m| format!("{}={}", m.from, m.to)).collect();
        // promote.imageMap wins over `images:` read backwards for the same local image.
        assert_eq!(
            got,
            ["localhost/podproof/nginx:1=nginx", "localhost/r:1=registry.example.com/r:1", "localhost/x=r.io/x"]
        );
    }
}
