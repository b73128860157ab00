//! `cargo xtask cycles`: module import cycles in every crate of the project.
//!
//! A crate's module tree is read from its `mod name;` declarations (from
//! `lib.rs` or `main.rs` down). Each file's paths (`use` trees, and
//! `crate::…`, `super::…`, `self::…` paths in code) are resolved to the
//! deepest module they name, and each such module is an edge from the
//! file's module. A cycle is a strongly connected set of two or more modules.
//!
//! Edges from a module to one of its ancestors are not counted: a child
//! naming its parent's items (`use super::Arch`) is the child using its
//! namespace, and the parent re-exporting the child (`pub use
//! child::Item`) would otherwise close every such pair into a "cycle".
//! Everything else counts, siblings and cousins alike, which is what makes
//! `arch/mod.rs` ↔ `mask.rs` or `edit.rs` → `kernel.rs` → `legacy.rs` →
//! `edit.rs` a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A crate's modules: `a::b` (root is "") → file.
#[derive(Debug, Default)]
pub struct ModuleTree {
    pub files: BTreeMap<String, PathBuf>,
    /// The source of each module, comments and strings removed.
    pub code: BTreeMap<String, String>,
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}::{name}")
    }
}

fn parent_of(module: &str) -> &str {
    module.rsplit_once("::").map_or("", |(p, _)| p)
}

fn is_ancestor(anc: &str, module: &str) -> bool {
    anc.is_empty() || module.starts_with(&format!("{anc}::"))
}

/// Remove comments, string and char literals (keeps line structure loosely).
pub fn strip(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'r' && b[i..].starts_with(b"r#\"") {
            let end = src[i + 3..].find("\"#").map_or(b.len(), |e| i + 3 + e + 2);
            i = end;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A char literal ('x' or '\n'); lifetimes ('a) are left alone.
            let mut j = i + 1;
            while j < b.len() && b[j] != b'\'' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            out.push_str("' '");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Read a crate's module tree from its root file.
pub fn read_tree(root_file: &Path) -> std::io::Result<ModuleTree> {
    let mut tree = ModuleTree::default();
    let mut todo = vec![(String::new(), root_file.to_path_buf())];
    while let Some((module, file)) = todo.pop() {
        let code = strip(&std::fs::read_to_string(&file)?);
        // Where this module's children live: beside lib.rs/main.rs/mod.rs,
        // else in a folder named after the file.
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        let dir = if module.is_empty() || stem == "mod" {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for name in declared_modules(&code) {
            let a = dir.join(format!("{name}.rs"));
            let b = dir.join(&name).join("mod.rs");
            let child = if a.exists() { a } else { b };
            if child.exists() {
                todo.push((join(&module, &name), child));
            }
        }
        tree.files.insert(module.clone(), file);
        tree.code.insert(module, code);
    }
    Ok(tree)
}

/// `mod name;` declarations (not inline `mod name { … }`).
fn declared_modules(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let toks = tokens(code);
    for w in toks.windows(3) {
        if w[0] == "mod" && is_ident(&w[1]) && w[2] == ";" {
            out.push(w[1].clone());
        }
    }
    out
}

fn is_ident(t: &str) -> bool {
    t.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation characters.
pub fn tokens(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let c: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_alphanumeric() || c[i] == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(c[s..i].iter().collect());
        } else if c[i] == ':' && c.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else if c[i].is_whitespace() {
            i += 1;
        } else {
            out.push(c[i].to_string());
            i += 1;
        }
    }
    out
}

/// Every path a module's code names, as segment lists (use trees expanded).
fn paths(code: &str) -> Vec<Vec<String>> {
    let t = tokens(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i] == "use" {
            let (mut trees, next) = use_tree(&t, i + 1);
            out.append(&mut trees);
            i = next;
        } else if matches!(t[i].as_str(), "crate" | "super" | "self")
            && t.get(i + 1).is_some_and(|x| x == "::")
            && (i == 0 || t[i - 1] != "::")
        {
            let mut p = vec![t[i].clone()];
            let mut j = i + 1;
            while j + 1 < t.len() && t[j] == "::" && is_ident(&t[j + 1]) {
                p.push(t[j + 1].clone());
                j += 2;
            }
            out.push(p);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Parse a use tree starting at `i`; return its expanded paths and the
/// index after it.
fn use_tree(t: &[String], mut i: usize) -> (Vec<Vec<String>>, usize) {
    let mut prefix = Vec::new();
    loop {
        match t.get(i).map(String::as_str) {
            Some("::") => i += 1,
            Some("{") => {
                let mut out = Vec::new();
                i += 1;
                loop {
                    match t.get(i).map(String::as_str) {
                        Some("}") => {
                            i += 1;
                            break;
                        }
                        Some(",") => i += 1,
                        None => break,
                        _ => {
                            let (sub, next) = use_tree(t, i);
                            for s in sub {
                                let mut p = prefix.clone();
                                p.extend(s);
                                out.push(p);
                            }
                            i = next;
                        }
                    }
                }
                return (out, i);
            }
            Some("as") => {
                i += 2;
                return (vec![prefix], i);
            }
            Some(x) if is_ident(x) => {
                prefix.push(x.to_string());
                i += 1;
            }
            Some("*") => {
                i += 1;
                return (vec![prefix], i);
            }
            _ => return (vec![prefix], i),
        }
    }
}

/// The module a path names, resolved against `module`, or None for an
/// external crate or an item of the module itself.
fn resolve(tree: &ModuleTree, module: &str, path: &[String]) -> Option<String> {
    let mut base = module.to_string();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            base = String::new();
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                base = parent_of(&base).to_string();
                rest = &rest[1..];
            }
        }
        Some(first) if tree.files.contains_key(&join(module, first)) => {}
        _ => return None,
    }
    let mut cur = base;
    for seg in rest {
        let next = join(&cur, seg);
        if tree.files.contains_key(&next) {
            cur = next;
        } else {
            break;
        }
    }
    Some(cur)
}

/// The module graph's edges (ancestor edges left out, see the module doc).
pub fn edges(tree: &ModuleTree) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, code) in &tree.code {
        let set = g.entry(module.clone()).or_default();
        for p in paths(code) {
            if let Some(to) = resolve(tree, module, &p) {
                if to != *module && !is_ancestor(&to, module) {
                    set.insert(to);
                }
            }
        }
    }
    g
}

/// Strongly connected sets of two or more modules (Tarjan).
pub fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct St<'g> {
        g: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut St<'g>, v: &'g str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on.insert(v);
        if let Some(next) = s.g.get(v) {
            for w in next {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = St {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Every crate root of the project: `crates/*/src/{lib,main}.rs` and xtask.
pub fn crate_roots(workspace: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace.join("crates"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.push(workspace.join("xtask"));
    dirs.sort();
    for d in dirs {
        for f in ["src/lib.rs", "src/main.rs"] {
            if d.join(f).exists() {
                roots.push(d.join(f));
            }
        }
    }
    roots
}

/// `cargo xtask cycles`: print each crate's cycles; fail if there is one.
pub fn run(workspace: &Path, verbose: bool) -> std::process::ExitCode {
    let mut total = 0;
    for root in crate_roots(workspace) {
        let rel = root
            .strip_prefix(workspace)
            .unwrap_or(&root)
            .display()
            .to_string();
        let tree = match read_tree(&root) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("xtask cycles: {rel}: {e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        let g = edges(&tree);
        let found = cycles(&g);
        let n_edges: usize = g.values().map(BTreeSet::len).sum();
        println!(
            "{rel}: {} modules, {n_edges} import edges, {} cycles",
            tree.files.len(),
            found.len()
        );
        for c in &found {
            let files: Vec<String> = c
                .iter()
                .map(|m| {
                    let f = &tree.files[m];
                    f.strip_prefix(workspace).unwrap_or(f).display().to_string()
                })
                .collect();
            println!("  cycle: {}", files.join(" <-> "));
            if verbose {
                for m in c {
                    for to in &g[m] {
                        if c.contains(to) {
                            println!("    {m} -> {to}");
                        }
                    }
                }
            }
        }
        total += found.len();
        if rel == "crates/pgtable/src/lib.rs" {
            let unknown: Vec<&String> = tree
                .files
                .keys()
                .filter(|m| !m.is_empty())
                .filter(|m| {
                    let top = m.split("::").next().unwrap_or("");
                    !LIBRARY_LAYERS.iter().any(|l| l.contains(&top))
                })
                .collect();
            for m in &unknown {
                println!("  module {m} is in no layer of LIBRARY_LAYERS");
            }
            let breaks = layer_breaks(&g, LIBRARY_LAYERS);
            for b in &breaks {
                println!("  import up the layers: {b}");
            }
            println!("  layers: {} imports up the layers", breaks.len());
            total += breaks.len() + unknown.len();
        }
    }
    if total == 0 {
        println!("no import cycles");
        std::process::ExitCode::SUCCESS
    } else {
        println!("{total} import cycles");
        std::process::ExitCode::FAILURE
    }
}

/// The library's layers, bottom first (ARCHITECTURE.md, "Layers inside the
/// library"): a module may name its own layer and the ones below, never one
/// above. Modules are matched by their first path segment.
pub const LIBRARY_LAYERS: &[&[&str]] = &[
    &["addr", "level", "prot", "mask", "error", "activate", "sync"],
    &["arch", "page_size"],
    &["memory"],
    &["walk", "args"],
    &["tlb", "vmalloc"],
    &["space"],
    &["mm", "ptdump"],
];

/// Edges of `g` that point up the layers, as `from -> to`.
pub fn layer_breaks(g: &BTreeMap<String, BTreeSet<String>>, layers: &[&[&str]]) -> Vec<String> {
    let layer = |m: &str| {
        let top = m.split("::").next().unwrap_or("");
        layers.iter().position(|l| l.contains(&top))
    };
    let mut out = Vec::new();
    for (from, tos) in g {
        for to in tos {
            if let (Some(a), Some(b)) = (layer(from), layer(to)) {
                if b > a {
                    out.push(format!("{from} -> {to}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_up_the_layers_is_found() {
        let t = tree(&[
            ("walk", "use crate::arch::Arch;"),
            ("arch", "use crate::walk::tables::EntryPtr;"),
        ]);
        let mut g = edges(&t);
        assert_eq!(
            layer_breaks(&g, &[&["arch"], &["walk"]]),
            vec!["arch -> walk".to_string()]
        );
        g.get_mut("arch").unwrap().clear();
        assert!(layer_breaks(&g, &[&["arch"], &["walk"]]).is_empty());
    }

    fn tree(mods: &[(&str, &str)]) -> ModuleTree {
        let mut t = ModuleTree::default();
        for (m, code) in mods {
            t.files
                .insert(m.to_string(), PathBuf::from(format!("{m}.rs")));
            t.code.insert(m.to_string(), strip(code));
        }
        t
    }

    #[test]
    fn a_sibling_cycle_through_use_trees_is_found() {
        let t = tree(&[
            ("", "mod arch; mod mask;"),
            ("arch", "use crate::{mask::SyncMask, other};"),
            ("mask", "use crate::arch::Level;"),
        ]);
        assert_eq!(
            cycles(&edges(&t)),
            vec![vec!["arch".to_string(), "mask".to_string()]]
        );
    }

    #[test]
    fn a_three_module_cycle_through_super_and_code_paths_is_found() {
        let t = tree(&[
            ("space", "pub use edit::KernelEdit;"),
            ("space::edit", "fn f() { super::kernel::g() }"),
            ("space::kernel", "use super::legacy::LegacyEdit;"),
            ("space::legacy", "struct L(crate::space::edit::KernelEdit);"),
        ]);
        let c = cycles(&edges(&t));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].len(), 3);
    }

    #[test]
    fn parent_and_child_naming_each_other_is_not_a_cycle() {
        let t = tree(&[
            ("", "mod arch; pub use arch::Arch;"),
            ("arch", "pub use x86::X86; pub trait Arch {}"),
            ("arch::x86", "use super::Arch; use crate::arch::Arch as A;"),
        ]);
        assert!(cycles(&edges(&t)).is_empty());
    }

    #[test]
    fn comments_strings_and_external_crates_are_not_edges() {
        let t = tree(&[
            (
                "a",
                "// use crate::b::X;\n let s = \"crate::b::Y\"; use core::fmt; use pgtable::x;",
            ),
            ("b", "use crate::a::Z;"),
        ]);
        assert!(cycles(&edges(&t)).is_empty());
    }
}
