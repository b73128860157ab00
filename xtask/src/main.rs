//! Project tasks: `cargo xtask <task>`.
//!
//! - `qemu [--mode 4|5|all] [--verbose] [--append CMDLINE] [--timeout SECS]`:
//!   build the bare-metal test kernel (crates/pgtable-qemu) and run it under
//!   QEMU in 4-level and/or 5-level paging mode; fail on any `CHECK .. FAIL`,
//!   a missing `RESULT`, an exit status other than 33 or a timeout (60 s).

mod qemu;

use std::process::ExitCode;

const USAGE: &str =
    "usage: cargo xtask qemu [--mode 4|5|all] [--verbose] [--append CMDLINE] [--timeout SECS]";

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
