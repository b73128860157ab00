//! `cargo xtask layout`: the project's one test layout, checked.
//!
//! Unit tests are the `tests` child module of the code they test:
//! - in a single-file module (`foo.rs`) they are inline,
//!   `#[cfg(test)] mod tests { … }`;
//! - in a folder module (`foo/mod.rs`, `lib.rs`, `main.rs`) they are the file
//!   `tests.rs` beside it, `#[cfg(test)] mod tests;`.
//!
//! So a reader finds a module's tests in the same place in every crate: in
//! the file when the module is one file, beside it when it is a folder.
//! Integration tests of a crate's public API are `crates/<crate>/tests/`.

use crate::cycles::{crate_roots, read_tree, tokens, ModuleTree};
use std::path::Path;

/// Breaks of the rule in one crate, as human-readable lines.
pub fn violations(tree: &ModuleTree) -> Vec<String> {
    let mut out = Vec::new();
    for (module, file) in &tree.files {
        let name = file.file_name().and_then(|s| s.to_str()).unwrap_or("");
        let folder = matches!(name, "mod.rs" | "lib.rs" | "main.rs");
        let t = tokens(&tree.code[module]);
        let inline = t
            .windows(3)
            .any(|w| w[0] == "mod" && w[1] == "tests" && w[2] == "{");
        let child = if module.is_empty() {
            "tests".to_string()
        } else {
            format!("{module}::tests")
        };
        let file_tests = tree.files.contains_key(&child);
        if folder && inline {
            out.push(format!(
                "{}: a folder module with inline tests (move them to tests.rs)",
                file.display()
            ));
        }
        if !folder && file_tests && name != "tests.rs" {
            out.push(format!("{}: a single-file module with a tests.rs (inline them, or make the module a folder)", file.display()));
        }
    }
    out
}

/// Check every crate; fail on any break of the rule.
pub fn run(workspace: &Path) -> std::process::ExitCode {
    let mut total = 0;
    for root in crate_roots(workspace) {
        let tree = match read_tree(&root) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("xtask layout: {}: {e}", root.display());
                return std::process::ExitCode::FAILURE;
            }
        };
        for v in violations(&tree) {
            let v = v.replace(&format!("{}/", workspace.display()), "");
            println!("{v}");
            total += 1;
        }
    }
    if total == 0 {
        println!("test layout: every crate follows it");
        std::process::ExitCode::SUCCESS
    } else {
        println!("test layout: {total} modules break it");
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tree(mods: &[(&str, &str, &str)]) -> ModuleTree {
        let mut t = ModuleTree::default();
        for (m, file, code) in mods {
            t.files.insert(m.to_string(), PathBuf::from(file));
            t.code.insert(m.to_string(), code.to_string());
        }
        t
    }

    #[test]
    fn both_breaks_are_found_and_the_two_good_shapes_pass() {
        let bad = tree(&[
            ("a", "a/mod.rs", "#[cfg(test)] mod tests { }"),
            ("b", "b.rs", "#[cfg(test)] mod tests;"),
            ("b::tests", "b/tests.rs", ""),
        ]);
        assert_eq!(violations(&bad).len(), 2);
        let good = tree(&[
            ("a", "a/mod.rs", "#[cfg(test)] mod tests;"),
            ("a::tests", "a/tests.rs", ""),
            ("b", "b.rs", "#[cfg(test)] mod tests { }"),
        ]);
        assert!(violations(&good).is_empty());
    }
}
