//! `pgtable`: runs the page-table scenarios on the simulated machine, shows
//! one in detail, compares the sync strategies under stress, and dumps page
//! tables as Linux's debugfs `page_tables` does.
//!
//! Exit status: 0 when every verdict is ok, 1 when one is not (or the
//! simulation itself failed), 2 for a usage error, an option that does not
//! apply included.

mod args;
mod bench;
mod modes;
mod progress;
mod ptdump;
mod scenario;
mod show;
mod text;
mod verdicts;

use args::{Cli, Cmd};
use clap::Parser;
use pgtable_sim::SimError;
use serde::Serialize;
use std::process::ExitCode;

/// Why the command stops.
#[derive(Debug)]
pub enum Failure {
    /// An option that does not apply: clap's error, exit 2.
    Refused(clap::Error),
    /// Bad command line found while running (an unknown scenario, a
    /// process the machine does not have): exit 2.
    Usage(String),
    /// The simulation failed: exit 1.
    Sim(String),
}

impl From<SimError> for Failure {
    fn from(e: SimError) -> Self {
        match e {
            SimError::UnknownScenario(name) => {
                Failure::Usage(scenario::unknown_scenario(&name, false))
            }
            SimError::NotApplicable(why) => Failure::Usage(format!("not applicable: {why}")),
            e => Failure::Sim(e.to_string()),
        }
    }
}

impl From<clap::Error> for Failure {
    fn from(e: clap::Error) -> Self {
        Failure::Refused(e)
    }
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Err(e) = args::apply_top_arch(&mut cli) {
        e.exit();
    }
    let r = match &cli.cmd {
        None => verdicts::all(cli.json, cli.arch),
        Some(Cmd::Scenario(a)) => scenario::scenario(a, cli.json),
        Some(Cmd::Ptdump(a)) => ptdump::ptdump(a, cli.json),
        Some(Cmd::Bench(a)) => bench::bench(a, cli.json),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::Refused(e)) => e.exit(),
        Err(Failure::Usage(msg)) => {
            eprint!("{}", text::wrap_lines(&format!("error: {msg}"), 2));
            ExitCode::from(2)
        }
        Err(Failure::Sim(msg)) => {
            eprint!(
                "{}",
                text::wrap_lines(&format!("error: simulation failed: {msg}"), 2)
            );
            ExitCode::from(1)
        }
    }
}

/// `text` on stdout. A reader that went away (`pgtable | head`) is not an
/// error: the rest is dropped and the exit status is still the verdicts'.
pub fn out(text: impl AsRef<str>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_ref().as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: writing the output: {e}");
        }
        _ => {}
    }
}

/// `value` as pretty JSON on stdout.
pub fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::Sim(format!("JSON: {e}")))?;
    out(s + "\n");
    Ok(())
}
