//! Project tasks: `cargo xtask <task>`.
//!
//! - `cycles [--verbose]`: module import cycles in every crate (see
//!   `cycles.rs` for what counts); exits non-zero if there is one.
//! - `layout`: the one test layout (`layout.rs`); exits non-zero on a break.
//! - `qemu [--arch x86_64|arm64|riscv64|arm32|x86_32|all] [--mode 4|5|4-smp|
//!   48|39|52|sv39|sv48|sv57|short|short+pxn|2-level|pae|pae-unshared|
//!   2-level-highpte|pae-highpte|pae-unshared-highpte|all] [--verbose]
//!   [--append CMDLINE] [--timeout SECS]`: build the bare-metal test kernels
//!   (crates/pgtable-qemu for x86-64 4/5-level and 4-level on 4 CPUs,
//!   crates/pgtable-qemu-arm64 for arm64 48/39/52-bit,
//!   crates/pgtable-qemu-riscv64 for Sv39/48/57, crates/pgtable-qemu-arm32
//!   for arm32 short descriptors, crates/pgtable-qemu-i386 for x86-32) and
//!   run each mode under QEMU (all by
//!   default); print a summary table and fail on any `CHECK .. FAIL`, a
//!   missing `RESULT`, an exit status other than the architecture's pass
//!   status, a scenario verdict other than the simulator's (arm32), or a
//!   timeout (60 s).

mod cycles;
mod layout;
mod qemu;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask cycles [--verbose]\n       cargo xtask layout\n       cargo xtask qemu [--arch x86_64|arm64|riscv64|arm32|x86_32|all] \
                     [--mode 4|5|4-smp|48|39|52|sv39|sv48|sv57|short|short+pxn|2-level|pae|\
                     pae-unshared|2-level-highpte|pae-highpte|pae-unshared-highpte|all] \
                     [--verbose] [--append CMDLINE] [--timeout SECS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("qemu") => match qemu::Options::parse(&args[1..]) {
            Ok(opts) => qemu::run(&opts),
            Err(e) => {
                eprintln!("xtask qemu: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("cycles") => {
            let verbose = args[1..].iter().any(|a| a == "--verbose" || a == "-v");
            let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            cycles::run(&ws, verbose)
        }
        Some("layout") => {
            let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
            layout::run(&ws)
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("xtask: unknown task `{other}`\n{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
