//! The crate's layers, as ARCHITECTURE.md writes them, hold in the code: this
//! test reads the table under "## Layers" and the module graph of `src/` (every
//! `use` tree and every `crate::`, `self::` and `super::` path, in code and in
//! macro calls alike; `#[cfg(test)]` items are left out, since a test may use
//! what it tests from above), and fails on any import from a higher layer, on
//! a circle between modules, and on a module that is in no layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// One import: the file and line it is written at, and the module path it names.
#[derive(Debug, Clone)]
struct Import {
    file: String,
    line: usize,
    path: Vec<String>,
}

/// The layers of ARCHITECTURE.md: module name -> (layer number, layer name).
fn layers(text: &str) -> BTreeMap<String, (u32, String)> {
    let section = text.split("\n## Layers\n").nth(1).expect("ARCHITECTURE.md has a `## Layers` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut out = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Some((n, name)) = cells.get(1).and_then(|c| c.split_once(' ')) else { continue };
        let Ok(n) = n.parse::<u32>() else { continue };
        for m in cells[2].split('`').skip(1).step_by(2) {
            let before = out.insert(m.to_string(), (n, name.to_string()));
            assert!(before.is_none(), "ARCHITECTURE.md puts `{m}` in two layers");
        }
    }
    assert!(!out.is_empty(), "the `## Layers` table of ARCHITECTURE.md names no module");
    out
}

/// The module path of a file under `src/`: `env/pods.rs` is `env::pods`,
/// `env/mod.rs` is `env`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.meta.require_list().is_ok_and(|l| l.tokens.to_string().contains("test")))
}

/// Collects the paths a file names, resolved against its module.
struct Collector<'a> {
    file: &'a str,
    /// The module the code being visited is in (a file's, then inline modules').
    module: Vec<String>,
    found: Vec<Import>,
}

impl Collector<'_> {
    fn add(&mut self, segments: &[String], line: usize) {
        let Some(first) = segments.first() else { return };
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.module.clone(),
            "super" => {
                let mut m = self.module.clone();
                m.pop();
                m
            }
            _ => return,
        };
        let mut rest = &segments[1..];
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        self.found.push(Import { file: self.file.to_string(), line, path: base });
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                if n.ident != "self" {
                    full.push(n.ident.to_string());
                }
                self.add(&full, line);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                if r.ident != "self" {
                    full.push(r.ident.to_string());
                }
                self.add(&full, line);
            }
            syn::UseTree::Glob(_) => self.add(prefix, line),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t, line);
                }
            }
        }
    }

    /// `crate::a::b` (and `self::`, `super::`) inside a macro call's tokens.
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let toks: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                proc_macro2::TokenTree::Group(g) => self.tokens(g.stream()),
                proc_macro2::TokenTree::Ident(id) if ["crate", "self", "super"].contains(&id.to_string().as_str()) => {
                    let line = id.span().start().line;
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    loop {
                        let colons = matches!((toks.get(j), toks.get(j + 1)),
                            (Some(proc_macro2::TokenTree::Punct(a)), Some(proc_macro2::TokenTree::Punct(b)))
                                if a.as_char() == ':' && b.as_char() == ':');
                        match (colons, toks.get(j + 2)) {
                            (true, Some(proc_macro2::TokenTree::Ident(next))) => {
                                segs.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segs.len() > 1 {
                        self.add(&segs, line);
                    }
                    i = j;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Const(x) => &x.attrs,
            syn::Item::Enum(x) => &x.attrs,
            syn::Item::Fn(x) => &x.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Macro(x) => &x.attrs,
            syn::Item::Mod(x) => &x.attrs,
            syn::Item::Static(x) => &x.attrs,
            syn::Item::Struct(x) => &x.attrs,
            syn::Item::Trait(x) => &x.attrs,
            syn::Item::Type(x) => &x.attrs,
            syn::Item::Use(x) => &x.attrs,
            _ => &[],
        };
        if !is_cfg_test(attrs) {
            syn::visit::visit_item(self, i);
        }
    }

    fn visit_impl_item(&mut self, i: &'ast syn::ImplItem) {
        let test = match i {
            syn::ImplItem::Fn(f) => is_cfg_test(&f.attrs),
            syn::ImplItem::Const(c) => is_cfg_test(&c.attrs),
            _ => false,
        };
        if !test {
            syn::visit::visit_impl_item(self, i);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        // An inline module: its `self` and `super` are one level down.
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let line = u.use_token.span.start().line;
        self.use_tree(&mut Vec::new(), &u.tree, line);
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let line = p.segments.first().map(|s| s.ident.span().start().line).unwrap_or(0);
        if segs.len() > 1 {
            self.add(&segs, line);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

/// Every file's imports, by the file's module path.
fn imports(src: &Path) -> BTreeMap<Vec<String>, Vec<Import>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut out = BTreeMap::new();
    for path in files {
        let rel = path.strip_prefix(src).unwrap();
        if rel == Path::new("lib.rs") || rel == Path::new("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let module = module_of(rel);
        // `a/b.rs` and `a/b/mod.rs` are both module a::b, whose `super` is `a`.
        let name = format!("src/{}", rel.display());
        let mut c = Collector { file: &name, module: module.clone(), found: Vec::new() };
        c.visit_file(&ast);
        out.insert(module, c.found);
    }
    out
}

/// The top-level module an import names, when it names one of the crate's
/// modules (`crate::env::Env` is `env`; a name of lib.rs itself is none).
fn target(path: &[String], modules: &BTreeSet<String>) -> Option<String> {
    path.first().filter(|m| modules.contains(*m)).cloned()
}

/// The violations of `graph` against `layers`, as messages.
fn check(imports: &BTreeMap<Vec<String>, Vec<Import>>, layers: &BTreeMap<String, (u32, String)>) -> Vec<String> {
    let modules: BTreeSet<String> = imports.keys().filter_map(|m| m.first().cloned()).collect();
    let mut problems = Vec::new();
    for m in &modules {
        if !layers.contains_key(m) {
            problems.push(format!("src/{m}: in no layer of ARCHITECTURE.md's `## Layers` table"));
        }
    }
    for m in layers.keys() {
        if !modules.contains(m) {
            problems.push(format!("ARCHITECTURE.md's `## Layers` table names `{m}`, which is no module of src/"));
        }
    }
    let mut edges: BTreeMap<String, BTreeMap<String, Import>> = BTreeMap::new();
    for (module, list) in imports {
        let from = &module[0];
        for i in list {
            let Some(to) = target(&i.path, &modules) else { continue };
            if &to == from {
                continue;
            }
            if let (Some((lf, nf)), Some((lt, nt))) = (layers.get(from), layers.get(&to)) {
                if lt > lf {
                    problems.push(format!(
                        "{}:{}: `{from}` (layer {lf} {nf}) imports `{}` (layer {lt} {nt}), a higher layer",
                        i.file,
                        i.line,
                        i.path.join("::")
                    ));
                }
            }
            edges.entry(from.clone()).or_default().entry(to).or_insert_with(|| i.clone());
        }
    }
    for circle in circles(&edges) {
        let mut steps = Vec::new();
        for w in circle.windows(2) {
            let i = &edges[&w[0]][&w[1]];
            steps.push(format!("{} -> {} ({}:{})", w[0], w[1], i.file, i.line));
        }
        problems.push(format!("an import circle: {}", steps.join(", ")));
    }
    problems
}

/// The circles of a graph: for each strongly connected component of more
/// than one module, one cycle through it (first module repeated at the end).
fn circles(edges: &BTreeMap<String, BTreeMap<String, Import>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().chain(edges.values().flat_map(|e| e.keys())).collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for next in edges.get(&n).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if done.contains(n) || !reach(n).contains(n) {
            continue;
        }
        // A shortest path from n back to itself.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([n.clone()]);
        'bfs: while let Some(cur) = queue.pop_front() {
            for next in edges.get(&cur).into_iter().flat_map(|e| e.keys()) {
                if next == n {
                    prev.insert(format!("{n}#end"), cur.clone());
                    break 'bfs;
                }
                if !prev.contains_key(next) {
                    prev.insert(next.clone(), cur.clone());
                    queue.push_back(next.clone());
                }
            }
        }
        let mut cycle = vec![n.clone()];
        let mut cur = prev[&format!("{n}#end")].clone();
        while &cur != n {
            cycle.push(cur.clone());
            cur = prev[&cur].clone();
        }
        cycle.push(n.clone());
        cycle.reverse();
        let component: BTreeSet<String> = reach(n).into_iter().filter(|m| reach(m).contains(n)).collect();
        done.extend(component);
        out.push(cycle);
    }
    out
}

#[test]
fn imports_follow_the_layers_of_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let layers = layers(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let problems = check(&imports(&root.join("src")), &layers);
    assert!(problems.is_empty(), "{} problems with the layers:\n{}", problems.len(), problems.join("\n"));
}

/// The checker itself: it sees grouped `use` trees, `super` paths, paths in
/// macro calls and circles, and skips test code.
#[test]
fn the_checker_finds_what_breaks_the_layers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let p = src.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("low.rs", "use crate::{high::{self, X}, mid};\npub fn f() { crate::low::g(); }\nfn g() {}\n");
    write("mid/mod.rs", "mod inner;\n");
    write("mid/inner.rs", "pub fn f() { outln!(\"{}\", super::super::high::h()); }\n");
    write("high.rs", "pub fn h() -> u8 { crate::low::f(); 0 }\n#[cfg(test)]\nmod tests { use crate::top::T; }\n");
    write("top.rs", "pub struct T;\n");
    write("stray.rs", "\n");
    let layers = layers("# x\n\n## Layers\n\n| layer | modules |\n|---|---|\n| 0 low | `low` |\n| 1 mid | `mid` `gone` |\n| 2 high | `high` `top` |\n\n## Next\n");
    let got = check(&imports(src), &layers);
    let expect = [
        "src/stray: in no layer of ARCHITECTURE.md's `## Layers` table",
        "ARCHITECTURE.md's `## Layers` table names `gone`, which is no module of src/",
        "src/low.rs:1: `low` (layer 0 low) imports `high` (layer 2 high), a higher layer",
        "src/low.rs:1: `low` (layer 0 low) imports `high::X` (layer 2 high), a higher layer",
        "src/low.rs:1: `low` (layer 0 low) imports `mid` (layer 1 mid), a higher layer",
        "src/mid/inner.rs:1: `mid` (layer 1 mid) imports `high::h` (layer 2 high), a higher layer",
        "an import circle: high -> low (src/high.rs:1), low -> high (src/low.rs:1)",
    ];
    assert_eq!(got, expect, "\n{}", got.join("\n"));
}
