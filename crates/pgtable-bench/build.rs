//! Records which cargo profile the benchmark was built with, so `pgtable
//! bench` can tell a fair build (both sides optimised together, fat LTO, one
//! codegen unit) from one that favours either side.

fn main() {
    // OUT_DIR is <target>/[<triple>/]<profile dir>/build/<package>-<hash>/out;
    // a named profile builds into a directory of its own name (`release`
    // and `bench` share `release`).
    let out = std::env::var("OUT_DIR").unwrap_or_default();
    let profile = std::path::Path::new(&out)
        .ancestors()
        .nth(3)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("unknown")
        .to_string();
    println!("cargo:rustc-env=PGTABLE_BENCH_PROFILE_DIR={profile}");
    let opt = std::env::var("OPT_LEVEL").unwrap_or_default();
    println!("cargo:rustc-env=PGTABLE_BENCH_OPT_LEVEL={opt}");
    println!("cargo:rerun-if-changed=build.rs");
}
