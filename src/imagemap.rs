//! The run-time image map: which image a container runs instead of the one its
//! manifest names (`nginx:1.16.0` -> `localhost/podproof/nginx:1`), so a chart or
//! a vendor's bundle runs unchanged on local builds.
//!
//! One map, from three places, later ones winning: `images:` in podproof.yaml,
//! `--image FROM=TO` on `up` and `test`, and a Test's `images:` entries with
//! `from`. An entry is an exact image, a repository (any tag of it), or a prefix
//! ending in `/`, with the rules of `map_image` below. Promotion
//! reads the same map in the other direction (local -> registry), so a project
//! declares it once.

use crate::app::App;
use std::collections::BTreeMap;

/// A `FROM=TO` rewrite. An image FROM ending in `/` is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub from: String,
    pub to: String,
}

impl std::str::FromStr for Mapping {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Mapping, String> {
        match s.split_once('=') {
            Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok(Mapping { from: from.into(), to: to.into() }),
            _ => Err(format!("`{s}`: expected FROM=TO")),
        }
    }
}

/// Rewrites an image: an exact mapping wins, then one of its repository
/// (without the tag, which is kept), then the longest prefix ending in `/`.
pub fn map_image(map: &[Mapping], image: &str) -> Option<String> {
    if let Some(m) = map.iter().find(|m| m.from == image) {
        return Some(m.to.clone());
    }
    if let Some((repo, tag)) = image.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
        if let Some(m) = map.iter().find(|m| m.from == repo) {
            let tagged = m.to.rsplit('/').next().is_some_and(|last| last.contains(':') || last.contains('@'));
            return Some(if tagged { m.to.clone() } else { format!("{}:{tag}", m.to) });
        }
    }
    map.iter()
        .filter(|m| m.from.ends_with('/') && image.starts_with(&m.from))
        .max_by_key(|m| m.from.len())
        .map(|m| format!("{}{}", m.to, &image[m.from.len()..]))
}

/// One image a run replaced, for the test record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
}

/// Why an entry cannot be a mapping, or `None` when it can: a prefix maps only
/// to a prefix, since the rest of the name is appended to it.
pub fn check_entry(from: &str, to: &str) -> Option<String> {
    if from.is_empty() || to.is_empty() {
        return Some("an image map entry needs both an image and its replacement".into());
    }
    if from.ends_with('/') != to.ends_with('/') {
        return Some(format!(
            "image map {from}={to}: a prefix maps to a prefix, so both sides must end with `/` (or neither)"
        ));
    }
    None
}

/// `--image FROM=TO` flags as mappings; a bad one is a usage error.
pub fn parse_flags(flags: &[String]) -> crate::error::Result<Vec<Mapping>> {
    let mut out = Vec::new();
    for f in flags {
        let m: Mapping = f.parse().map_err(|e| crate::error::Error::Usage(format!("--image {e}")))?;
        if let Some(e) = check_entry(&m.from, &m.to) {
            return Err(crate::error::Error::Usage(format!("--image: {e}")));
        }
        out.push(m);
    }
    Ok(out)
}

/// Layers maps: an entry of a later one replaces an earlier one's for the same image.
pub fn merge<'a>(layers: impl IntoIterator<Item = &'a [Mapping]>) -> Vec<Mapping> {
    let mut by_from: BTreeMap<String, String> = BTreeMap::new();
    for layer in layers {
        for m in layer {
            by_from.insert(m.from.clone(), m.to.clone());
        }
    }
    by_from.into_iter().map(|(from, to)| Mapping { from, to }).collect()
}

/// The run-time map read the other way, as promotion needs it: the local image
/// goes back to the name the manifest had.
pub fn reversed(map: &[Mapping]) -> Vec<Mapping> {
    map.iter().map(|m| Mapping { from: m.to.clone(), to: m.from.clone() }).collect()
}

/// Rewrites the container images of every role of `app`; returns what changed,
/// each rewrite once.
pub fn apply(app: &mut App, map: &[Mapping]) -> Vec<Rewrite> {
    let mut done = Vec::new();
    if map.is_empty() {
        return done;
    }
    // Hook pods run images too: a chart's test pod is mapped like its workloads.
    let hooks = app.hooks.iter_mut().map(|h| &mut h.role);
    for role in app.roles.iter_mut().chain(hooks) {
        let Some(spec) = role.template.spec.as_mut() else { continue };
        let inits = spec.init_containers.iter_mut().flatten();
        for c in inits.chain(spec.containers.iter_mut()) {
            let Some(image) = c.image.as_mut() else { continue };
            if let Some(to) = map_image(map, image) {
                let r = Rewrite { from: std::mem::replace(image, to.clone()), to };
                if !done.contains(&r) {
                    done.push(r);
                }
            }
        }
    }
    done.sort();
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(entries: &[(&str, &str)], image: &str, expect: &str) {
        let map: Vec<Mapping> =
            entries.iter().map(|(f, t)| Mapping { from: f.to_string(), to: t.to_string() }).collect();
        let errors: Vec<String> = entries.iter().filter_map(|(f, t)| check_entry(f, t)).collect();
        let got = if errors.is_empty() {
            map_image(&map, image).unwrap_or_else(|| "unchanged".into())
        } else {
            errors.join("; ")
        };
        assert_eq!(got, expect, "{entries:?} {image}");
        // Promotion reads the map the other way: a rewritten image goes back.
        if errors.is_empty() && got != "unchanged" && entries.iter().any(|(f, _)| *f == image || f.ends_with('/')) {
            assert_eq!(map_image(&reversed(&map), &got).as_deref(), Some(image));
        }
    }

    #[test]
    fn image_maps() {
        check(&[("nginx", "localhost/podproof/nginx:1")], "nginx:1.16.0", "localhost/podproof/nginx:1");
        check(&[("nginx:1.16.0", "localhost/podproof/nginx:1")], "nginx:1.16.0", "localhost/podproof/nginx:1");
        check(&[("nginx:1.17", "localhost/podproof/nginx:1")], "nginx:1.16.0", "unchanged");
        check(&[("busybox", "localhost/podproof/busybox:latest")], "busybox", "localhost/podproof/busybox:latest");
        check(&[("busybox", "localhost/podproof/busybox:latest")], "busybox:1.36", "localhost/podproof/busybox:latest");
        check(&[("gcr.io/proj/", "localhost/podproof/")], "gcr.io/proj/app:2", "localhost/podproof/app:2");
        check(&[("gcr.io/proj/", "localhost/")], "gcr.io/proj/app:2", "localhost/app:2");
        check(&[("gcr.io/proj/", "localhost/x:1")], "gcr.io/proj/a", "image map gcr.io/proj/=localhost/x:1: a prefix maps to a prefix, so both sides must end with `/` (or neither)");
        check(&[("", "x")], "a", "an image map entry needs both an image and its replacement");
    }

    #[test]
    fn later_layers_win() {
        let a = [Mapping { from: "a".into(), to: "x".into() }];
        let b = [Mapping { from: "a".into(), to: "y".into() }, Mapping { from: "b".into(), to: "z".into() }];
        assert_eq!(format!("{:?}", merge([&a[..], &b[..]])), format!("{:?}", b));
    }
}
