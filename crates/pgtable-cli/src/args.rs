//! The command line: what each command takes, and the refusal of every
//! option that would not change what it does.
//!
//! Relations between options are clap's (`conflicts_with`, one `--arch`
//! per command); a refusal that depends on a value (the scenario's name,
//! the mode) is [`refuse`]d after parsing, in clap's own error format and
//! with its exit status 2, naming why the option does not apply.

use crate::modes;
use crate::text::{self, WIDTH};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use pgtable::PagingGeometry;
use pgtable_sim::{SimArch, Strategy};

#[derive(Parser, Debug)]
#[command(
    name = "pgtable",
    version,
    max_term_width = WIDTH,
    about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on simulated \
             x86-64, x86-32, arm64, riscv64 and arm machines",
    long_about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on simulated machines: \
                  x86-64 (5- and 4-level), x86-32 (2-level, PAE with shared and per-process kernel PMDs), \
                  arm64 (48- and 39-bit), riscv64 (Sv57, Sv48, Sv39) and arm (short descriptors).\n\n\
                  Without a command: run every scenario on every architecture and mode (or on the one \
                  --arch names) once per kernel era (pre-9b861528a801, pre-5.8, 5.8-6.16, 6.17+), each \
                  as that Linux release does it, and print one verdict line per mode, scenario and era.\n\n\
                  Exit status: 0 when every verdict is what its era does and the library (6.17+) never \
                  faulted, 1 otherwise, 2 for a usage error (an option that does not apply included)."
)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Run one paging mode only (a name or alias, listed by an unknown
    /// one); all when absent. Before a command, that command's `--arch`.
    #[arg(long, value_parser = parse_arch)]
    pub arch: Option<SimArch>,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run one scenario and report it in detail (per CPU, faults, checker,
    /// figures); `scenario list` lists them.
    Scenario(ScenarioArgs),
    /// Dump the page tables of a process (or of init_mm) after a scenario,
    /// as Linux's /sys/kernel/debug/page_tables does.
    Ptdump(PtdumpArgs),
    /// Measure the walks against the x86_64, aarch64-paging and
    /// page_table_multiarch crates, the sync at scale, the hotplug of a
    /// tebibyte and the software MMU (build with --profile bench-fair).
    /// Exit status 1 when a target is missed.
    Bench(BenchArgs),
}

/// The mode a command runs on: `--arch`, or x86-64's `--levels`.
#[derive(clap::Args, Debug)]
pub struct ModeArgs {
    /// Paging mode (a name or alias, listed by an unknown one); every mode
    /// when absent.
    #[arg(long, value_parser = parse_arch)]
    pub arch: Option<SimArch>,
    /// x86-64 paging levels: `--arch x86_64/4-level` or `/5-level` said
    /// shorter, so not with `--arch`.
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=5), conflicts_with = "arch")]
    pub levels: Option<u8>,
}

impl ModeArgs {
    /// The modes named, or every mode.
    pub fn modes(&self) -> Vec<SimArch> {
        match (self.arch, self.levels) {
            (Some(a), _) => vec![a],
            (None, Some(l)) => vec![SimArch::x86_64(l == 5)],
            (None, None) => SimArch::all(),
        }
    }

    fn given(&self) -> bool {
        self.arch.is_some() || self.levels.is_some()
    }
}

#[derive(clap::Args, Debug)]
pub struct ScenarioArgs {
    /// Scenario name, or `list` for the list of them.
    pub name: String,
    #[command(flatten)]
    pub mode: ModeArgs,
    /// Sync strategy (default eager; stress compares all three when
    /// absent).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Number of CPUs [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub cpus: Option<u64>,
    /// Processes created before the kernel change [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub spaces: Option<u64>,
    /// Random steps (`scenario stress` only) [default: 2000].
    #[arg(long)]
    pub steps: Option<u64>,
    /// Random seed (`scenario stress` only) [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Page-table isolation (x86 modes): each process also gets a
    /// user-mode root with only the CPU entry area of the kernel, kept in
    /// sync too.
    #[arg(long)]
    pub pti: bool,
}

#[derive(clap::Args, Debug)]
pub struct PtdumpArgs {
    /// The scenario that leaves the machine to dump [default:
    /// hotplug-new-slot, or vmalloc-new-slot on a mode without memory
    /// hotplug].
    #[arg(long)]
    pub scenario: Option<String>,
    /// Dump the machine as the old (pre-6.17) code leaves it.
    #[arg(long)]
    pub old: bool,
    /// Dump process N's root; without it, init_mm's.
    #[arg(long, value_name = "N")]
    pub space: Option<usize>,
    /// Paging mode (a name or alias, listed by an unknown one) [default:
    /// x86_64/4-level].
    #[arg(long, value_parser = parse_arch)]
    pub arch: Option<SimArch>,
    /// x86-64 paging levels: `--arch x86_64/4-level` or `/5-level` said
    /// shorter, so not with `--arch`.
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=5), conflicts_with = "arch")]
    pub levels: Option<u8>,
}

impl PtdumpArgs {
    /// The one mode dumped.
    pub fn mode(&self) -> SimArch {
        self.arch.unwrap_or(SimArch::x86_64(self.levels == Some(5)))
    }
}

/// The one mode `pgtable bench` measures.
pub const BENCH_MODE: &str = "x86_64/4-level";

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Small sizes and one run (CI); runs even from a build that is not
    /// the fair one, with a warning.
    #[arg(long)]
    pub quick: bool,
    /// Runs per figure; min, median and max are reported (--quick runs
    /// once, so not with it).
    #[arg(
        long,
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=100),
        conflicts_with = "quick"
    )]
    pub runs: u64,
    /// Measure even when not built with the fair profile (`--profile
    /// bench-fair`); the ratios against the peers are then not fair
    /// (--quick always runs, so not with it).
    #[arg(long, conflicts_with = "quick")]
    pub allow_unfair_build: bool,
    /// The mode measured: x86_64/4-level only (every figure is taken on
    /// x86-64 4-level tables, the x86_64 crate's, the walks' peer).
    #[arg(long, value_parser = parse_bench_arch)]
    pub arch: Option<SimArch>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StrategyArg {
    /// Sync when populating a top-level entry (Linux 6.17).
    Eager,
    /// Fill every kernel top-level slot at boot.
    Prealloc,
    /// Copy a missing top-level entry on fault (vmalloc_fault before Linux
    /// 5.8).
    Lazy,
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Strategy {
        match s {
            StrategyArg::Eager => Strategy::Eager,
            StrategyArg::Prealloc => Strategy::Prealloc,
            StrategyArg::Lazy => Strategy::Lazy,
        }
    }
}

/// `--arch`: a mode's name or one of its aliases ([`modes::ALIASES`]).
/// clap prints the error after "invalid value '...' for '--arch <ARCH>': ",
/// so what follows starts on a line of its own.
fn parse_arch(s: &str) -> Result<SimArch, String> {
    modes::by_name(s).ok_or_else(|| {
        format!(
            "unknown mode\nThe modes, each with its aliases:\n{}",
            modes::table()
        )
    })
}

/// `bench --arch`: only the mode bench measures.
fn parse_bench_arch(s: &str) -> Result<SimArch, String> {
    bench_mode(parse_arch(s)?).map_err(|why| {
        let why = text::wrap(&why, 2, 2);
        format!("not measured\n{}", why.trim_end())
    })
}

fn bench_mode(a: SimArch) -> Result<SimArch, String> {
    if a.name() == BENCH_MODE {
        Ok(a)
    } else {
        Err(format!(
            "bench measures {BENCH_MODE} only: every figure is taken on x86-64 4-level \
             tables, the kind the x86_64 crate's OffsetPageTable (the walks' peer) builds"
        ))
    }
}

/// `why` wrapped to [`WIDTH`] columns after clap's "error: ".
fn wrap_error(why: &str) -> String {
    let text = text::wrap_prefixed(why, "error: ", "  ");
    text.strip_prefix("error: ")
        .unwrap_or(&text)
        .trim_end()
        .to_string()
}

/// `--arch` given before a command: that command's `--arch`, refused if
/// the command names its mode itself too.
pub fn apply_top_arch(cli: &mut Cli) -> Result<(), clap::Error> {
    let Some(top) = cli.arch.take() else {
        return Ok(());
    };
    let twice = |cmd: &str| {
        Err(refuse(
            cmd,
            format!(
                "--arch {} before the command and a mode after it: give the mode once",
                top.name()
            ),
        ))
    };
    match &mut cli.cmd {
        None => cli.arch = Some(top),
        Some(Cmd::Scenario(a)) if a.mode.given() => return twice("scenario"),
        Some(Cmd::Scenario(a)) => a.mode.arch = Some(top),
        Some(Cmd::Ptdump(a)) if a.arch.is_some() || a.levels.is_some() => return twice("ptdump"),
        Some(Cmd::Ptdump(a)) => a.arch = Some(top),
        Some(Cmd::Bench(a)) if a.arch.is_some() => return twice("bench"),
        Some(Cmd::Bench(a)) => a.arch = Some(bench_mode(top).map_err(|why| refuse("bench", why))?),
    }
    Ok(())
}

/// A usage error in clap's format (exit status 2) for `cmd`'s command
/// line: an option that does not apply, and why.
pub fn refuse(cmd: &str, why: String) -> clap::Error {
    let why = wrap_error(&why);
    let mut root = Cli::command();
    root.build();
    match root.find_subcommand_mut(cmd) {
        Some(sub) => sub.error(ErrorKind::ArgumentConflict, why),
        None => root.error(ErrorKind::ArgumentConflict, why),
    }
}

/// The options of `scenario` that do not apply to the scenario or mode
/// named, refused with why.
pub fn check_scenario(a: &ScenarioArgs) -> Result<(), clap::Error> {
    let refuse = |why: String| Err(refuse("scenario", why));
    if a.name == "list" {
        let given = [
            ("--arch", a.mode.arch.is_some()),
            ("--levels", a.mode.levels.is_some()),
            ("--strategy", a.strategy.is_some()),
            ("--cpus", a.cpus.is_some()),
            ("--spaces", a.spaces.is_some()),
            ("--steps", a.steps.is_some()),
            ("--seed", a.seed.is_some()),
            ("--pti", a.pti),
        ];
        if let Some((opt, _)) = given.iter().find(|(_, g)| *g) {
            return refuse(format!(
                "{opt} does not apply to `scenario list`: the list runs nothing and is the \
                 same for every mode (only --json applies)"
            ));
        }
        return Ok(());
    }
    if a.name != "stress" {
        for (opt, given) in [("--steps", a.steps.is_some()), ("--seed", a.seed.is_some())] {
            if given {
                return refuse(format!(
                    "{opt} applies to `scenario stress` only: {} runs a fixed sequence of \
                     kernel operations, not random steps",
                    a.name
                ));
            }
        }
    }
    if a.pti {
        if !a.mode.given() {
            return refuse(
                "--pti needs an x86 mode (--arch or --levels): page-table isolation maps \
                 the CPU entry area into each process's user-mode root, and only the x86 \
                 modes have one"
                    .into(),
            );
        }
        for m in a.mode.modes() {
            if !modes::has_cpu_entry_area(m) {
                return refuse(format!(
                    "--pti does not apply to {}: page-table isolation maps the CPU entry \
                     area into each process's user-mode root, and only the x86 modes have one",
                    m.name()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgtable_sim::scenarios::Config;

    /// The defaults `scenario --help` names are the simulator's.
    #[test]
    fn scenario_help_names_the_simulators_defaults() {
        let d = Config::default();
        let cmd = Cli::command();
        let scenario = cmd.find_subcommand("scenario").unwrap();
        for (id, value) in [
            ("cpus", d.cpus.to_string()),
            ("spaces", d.spaces.to_string()),
            ("steps", d.steps.to_string()),
            ("seed", d.seed.to_string()),
        ] {
            let arg = scenario.get_arguments().find(|a| a.get_id() == id).unwrap();
            let help = arg.get_help().unwrap().to_string();
            assert!(
                help.ends_with(&format!("[default: {value}]")),
                "{id}: {help}"
            );
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
