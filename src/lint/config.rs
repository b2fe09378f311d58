//! `.podproof.yaml`: per-project lint settings.
//!
//! ```yaml
//! rules: {latest-tag: off, host-network: error}
//! ignorePaths: [vendor/, "*.generated.yaml"]
//! imageMap: {localhost/podproof/xcat:1: registry.example.com/xcat:1}
//! ```
//!
//! `ignorePaths` are gitignore patterns relative to the config file's
//! directory. The file is strict: a misspelt key or rule would otherwise
//! silently lint with defaults.

use super::rules;
use crate::error::{Diagnostic, Severity};
use crate::yaml::{self, Doc};
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde_yaml::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = ".podproof.yaml";

#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file this came from, if any.
    pub path: Option<PathBuf>,
    /// Severity overrides; `None` turns a rule off.
    pub rules: HashMap<String, Option<Severity>>,
    /// Local image names and what promotion renames them to.
    pub image_map: BTreeMap<String, String>,
    ignore: Option<Gitignore>,
}

impl Config {
    /// The nearest `.podproof.yaml` at or above `dir`.
    pub fn find(dir: &Path) -> Option<PathBuf> {
        dir.ancestors().map(|d| d.join(FILE_NAME)).find(|p| p.is_file())
    }

    pub fn load(path: &Path) -> Result<Config, Vec<Diagnostic>> {
        let name = path.display().to_string();
        let src = crate::source::read(&name).map_err(|d| vec![d])?;
        let dir = crate::source::absolute(path).parent().map(Path::to_path_buf).unwrap_or_default();
        let mut c = Config::parse(&name, &src.text, &dir)?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    pub fn parse(name: &str, text: &str, dir: &Path) -> Result<Config, Vec<Diagnostic>> {
        let docs = yaml::parse_stream(text)
            .map_err(|e| vec![Diagnostic::error(name, Some((e.pos.line, e.pos.column)), e.message)])?;
        let mut c = Config::default();
        let mut errors = Vec::new();
        let Some(doc) = docs.into_iter().find(|d| !d.value.is_null()) else { return Ok(c) };
        let err = |doc: &Doc, ptr: &str, msg: String| {
            let p = doc.pos(ptr);
            Diagnostic::error(name, Some((p.line, p.column)), msg)
        };
        let Some(top) = doc.value.as_mapping() else {
            return Err(vec![err(&doc, "", "expected a mapping with `rules`, `ignorePaths` or `imageMap`".into())]);
        };
        for (k, v) in top {
            let key = k.as_str().unwrap_or_default();
            let ptr = format!("/{}", yaml::escape(key));
            match (key, v) {
                ("rules", Value::Mapping(m)) => {
                    for (id, level) in m {
                        let id = id.as_str().unwrap_or_default();
                        let rp = format!("/rules/{}", yaml::escape(id));
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
                            errors.push(err(&doc, &format!("/ignorePaths/{i}"), format!("ignorePaths: {e}")));
                        }
                    }
                    c.ignore = b.build().ok();
                }
                ("imageMap", Value::Mapping(m)) => {
                    for (from, to) in m {
                        match (from.as_str(), to.as_str()) {
                            (Some(f), Some(t)) => {
                                c.image_map.insert(f.to_string(), t.to_string());
                            }
                            _ => errors.push(err(&doc, &ptr, "imageMap: expected `FROM: TO` image names".into())),
                        }
                    }
                }
                ("rules" | "imageMap", _) => errors.push(err(&doc, &ptr, format!("`{key}` must be a mapping"))),
                ("ignorePaths", _) => errors.push(err(&doc, &ptr, "`ignorePaths` must be a sequence of globs".into())),
                _ => errors.push(err(
                    &doc,
                    &ptr,
                    format!("unknown key `{key}`: expected rules, ignorePaths or imageMap"),
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

    /// Whether promotion renames `image`: an exact entry, its repository
    /// without the tag, or a prefix entry ending in `/`.
    pub fn maps_image(&self, image: &str) -> bool {
        let repo = image.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).map(|(r, _)| r).unwrap_or(image);
        self.image_map.keys().any(|k| k == image || k == repo || (k.ends_with('/') && image.starts_with(k.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &str) {
        let got = match Config::parse("c.yaml", text, Path::new("/p")) {
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
                    c.maps_image("localhost/a:1")
                )
            }
            Err(e) => e.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn config_files() {
        check(
            "rules: {latest-tag: off, host-network: error}\n",
            "rules host-network=error,latest-tag=off ignore /p/vendor/x.yaml=false map=false",
        );
        check(
            "ignorePaths: [vendor/]\nimageMap: {localhost/a: r.io/a}\n",
            "rules  ignore /p/vendor/x.yaml=true map=true",
        );
        check(
            "rules:\n  latest-tags: off\n",
            "c.yaml:2:3: error: unknown rule `latest-tags` (see `podproof lint --list-rules`)",
        );
        check(
            "rules:\n  latest-tag: loud\n",
            "c.yaml:2:15: error: rule `latest-tag`: expected off, info, warning or error",
        );
        check("rule: {}\n", "c.yaml:1:1: error: unknown key `rule`: expected rules, ignorePaths or imageMap");
    }
}
