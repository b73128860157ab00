//! Link the kernel as a fixed-address ELF at 1 MiB (see linker.ld). The
//! `x86_64-unknown-none` target links with `rust-lld` directly, so these are
//! linker arguments, not `cc` ones.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker.ld");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    println!("cargo:rustc-link-arg-bins=--build-id=none");
}
