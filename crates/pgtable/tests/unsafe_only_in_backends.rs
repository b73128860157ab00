//! The crate README says `unsafe` code lives only in the direct-map
//! backends `OffsetMemory` and `DirectMap` (and the `unsafe fn
//! legacy_edit`, whose contract is about the sync, not memory),
//! each block with a `SAFETY:` comment. This reads the sources and fails if
//! an `unsafe` block or impl appears anywhere else. (Missing `SAFETY:`
//! comments are refused by `deny(clippy::undocumented_unsafe_blocks)`.)

use std::path::Path;

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn unsafe_code_is_only_in_the_direct_map_backends() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 20, "read the sources: {}", files.len());
    let mut found = Vec::new();
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        for (n, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let is_unsafe = code.contains("unsafe {")
                || code.contains("unsafe impl")
                || code.contains("unsafe fn");
            let allowed = rel == "memory/offset.rs"
                || rel == "memory/direct.rs"
                || (rel == "space/kernel.rs" && code.contains("pub unsafe fn legacy_edit"));
            if is_unsafe && !allowed {
                found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "unsafe outside memory/offset.rs and memory/direct.rs:\n{}",
        found.join("\n")
    );
}
