//! `pgtable`: runs the page-table scenarios on the simulated machine, shows
//! one in detail, compares the sync strategies under stress, and dumps page
//! tables as Linux's debugfs `page_tables` does.
//!
//! Exit status: 0 when every verdict is ok, 1 when one is not (or the
//! simulation itself failed), 2 for a usage error.

mod show;

use clap::{Parser, Subcommand, ValueEnum};
use pgtable_sim::ptdump;
use pgtable_sim::scenarios::{self, stress, Config, SCENARIOS};
use pgtable_sim::{Context, Outcome, SimError, Strategy, Variant};
use serde::Serialize;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pgtable",
    version,
    about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on a simulated x86-64 machine",
    long_about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on a simulated x86-64 \
                  machine.\n\nWithout a command: run every scenario in 5-level and 4-level mode, as the old \
                  (pre-6.17) code and as the new code, and print what the software MMU saw.\n\nExit status: \
                  0 when every verdict is ok, 1 when one is not, 2 for a usage error."
)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one scenario and report it in detail (per CPU, faults, checker, figures).
    Scenario(ScenarioArgs),
    /// Dump the page tables of a process (or of init_mm) after a scenario, as
    /// Linux's /sys/kernel/debug/page_tables does.
    Ptdump(PtdumpArgs),
    /// Measure the walks against the x86_64 crate, the sync at scale, a 1 TiB
    /// hotplug and the software MMU (build with --release). Exit status 1
    /// when a target is missed.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Small sizes and one run (CI).
    #[arg(long)]
    quick: bool,
    /// Runs per figure; the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: u64,
}

#[derive(clap::Args, Debug)]
struct ScenarioArgs {
    /// Scenario name (`pgtable scenario list` shows them).
    name: String,
    /// Paging levels; both modes when absent.
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=5))]
    levels: Option<u8>,
    /// Sync strategy (default eager; stress runs all three when absent).
    #[arg(long, value_enum)]
    strategy: Option<StrategyArg>,
    /// Number of CPUs.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    cpus: Option<u64>,
    /// Processes created before the kernel change.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    spaces: Option<u64>,
    /// Steps (stress only).
    #[arg(long)]
    steps: Option<u64>,
    /// Random seed (stress only).
    #[arg(long)]
    seed: Option<u64>,
    /// Page-table isolation: each process also gets a user-mode root with
    /// only the CPU entry area of the kernel, kept in sync too.
    #[arg(long)]
    pti: bool,
}

#[derive(clap::Args, Debug)]
struct PtdumpArgs {
    /// The scenario that leaves the machine to dump.
    #[arg(long, default_value = "hotplug-new-slot")]
    scenario: String,
    /// Dump the machine as the old (pre-6.17) code leaves it.
    #[arg(long)]
    old: bool,
    /// Dump process N's root; without it, init_mm's.
    #[arg(long, value_name = "N")]
    space: Option<usize>,
    /// Paging levels.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=5))]
    levels: u8,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StrategyArg {
    /// Sync when populating a top-level entry (Linux 6.17).
    Eager,
    /// Fill every kernel top-level slot at boot.
    Prealloc,
    /// Copy a missing top-level entry on fault (vmalloc_fault before Linux 5.8).
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

/// Why the command stops.
#[derive(Debug)]
enum Failure {
    /// Bad command line: exit 2.
    Usage(String),
    /// The simulation failed: exit 1.
    Sim(String),
}

impl From<SimError> for Failure {
    fn from(e: SimError) -> Self {
        match e {
            SimError::UnknownScenario(name) => Failure::Usage(unknown_scenario(&name, false)),
            e => Failure::Sim(e.to_string()),
        }
    }
}

fn unknown_scenario(name: &str, ptdump: bool) -> String {
    format!(
        "unknown scenario {name:?}; valid scenarios are:\n{}",
        scenario_list(ptdump)
    )
}

/// The scenarios, one a line: name, Linux commit, summary.
fn scenario_list(ptdump: bool) -> String {
    let mut s = String::new();
    for info in SCENARIOS.iter().filter(|i| !(ptdump && i.name == "stress")) {
        s.push_str(&format!(
            "  {:<18} {:<14} {}\n",
            info.name,
            info.commit.unwrap_or(""),
            info.summary
        ));
    }
    s.trim_end().to_string()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match &cli.cmd {
        None => all(cli.json),
        Some(Cmd::Scenario(a)) => scenario(a, cli.json),
        Some(Cmd::Ptdump(a)) => ptdump_cmd(a, cli.json),
        Some(Cmd::Bench(a)) => bench(a, cli.json),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Sim(msg)) => {
            eprintln!("error: simulation failed: {msg}");
            ExitCode::from(1)
        }
    }
}

/// A progress bar on stderr, hidden for JSON output or when stderr is not a
/// terminal.
fn progress_bar(json: bool, len: u64, what: &str) -> indicatif::ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(len);
    let style =
        indicatif::ProgressStyle::with_template("{prefix:>28} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(what.to_string());
    pb
}

fn print_json<T: Serialize>(v: &T) -> Result<(), Failure> {
    let s = serde_json::to_string_pretty(v).map_err(|e| Failure::Sim(format!("JSON: {e}")))?;
    println!("{s}");
    Ok(())
}

const MODES: [bool; 2] = [true, false];

#[derive(Serialize)]
struct AllJson<'a> {
    ok: bool,
    outcomes: &'a [Outcome],
}

/// `pgtable`: every scenario in both modes.
fn all(json: bool) -> Result<bool, Failure> {
    let pb = progress_bar(json, (MODES.len() * SCENARIOS.len()) as u64, "scenarios");
    let mut outcomes = Vec::new();
    for la57 in MODES {
        for info in SCENARIOS {
            pb.set_message(format!(
                "{} ({})",
                info.name,
                if la57 { "5-level" } else { "4-level" }
            ));
            let cfg = Config {
                la57,
                ..Config::default()
            };
            outcomes.push(scenarios::run(info.name, &cfg)?);
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let ok = outcomes.iter().all(|o| o.ok);
    if json {
        print_json(&AllJson {
            ok,
            outcomes: &outcomes,
        })?;
    } else {
        println!("{}", show::summary_table(&outcomes));
        println!();
        print!("{}", show::legend(&outcomes));
        println!();
        let bad = outcomes.iter().filter(|o| !o.ok).count();
        if bad == 0 {
            println!("All {} runs ok.", outcomes.len());
        } else {
            println!("{bad} of {} runs FAILED.", outcomes.len());
        }
    }
    Ok(ok)
}

fn config(a: &ScenarioArgs, la57: bool, strategy: Strategy) -> Config {
    let d = Config::default();
    Config {
        la57,
        strategy,
        cpus: a.cpus.map_or(d.cpus, |n| n as usize),
        spaces: a.spaces.map_or(d.spaces, |n| n as usize),
        steps: a.steps.unwrap_or(d.steps),
        seed: a.seed.unwrap_or(d.seed),
        pti: a.pti,
    }
}

#[derive(Serialize)]
struct ScenarioJson<'a> {
    ok: bool,
    outcomes: &'a [Outcome],
}

#[derive(Serialize)]
struct StressJson<'a> {
    ok: bool,
    reports: &'a [stress::StressReport],
}

/// `pgtable scenario NAME`.
fn scenario(a: &ScenarioArgs, json: bool) -> Result<bool, Failure> {
    if a.name == "list" {
        // Not a scenario: the list itself.
        println!("{}", scenario_list(false));
        return Ok(true);
    }
    if !SCENARIOS.iter().any(|s| s.name == a.name) {
        return Err(Failure::Usage(unknown_scenario(&a.name, false)));
    }
    let modes: Vec<bool> = match a.levels {
        Some(l) => vec![l == 5],
        None => MODES.to_vec(),
    };
    if a.name == "stress" {
        return stress_cmd(a, &modes, json);
    }
    let strategy = a.strategy.map_or(Strategy::Eager, Strategy::from);
    let mut outcomes = Vec::new();
    for &la57 in &modes {
        outcomes.push(scenarios::run(&a.name, &config(a, la57, strategy))?);
    }
    let ok = outcomes.iter().all(|o| o.ok);
    if json {
        print_json(&ScenarioJson {
            ok,
            outcomes: &outcomes,
        })?;
    } else {
        for (i, o) in outcomes.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print!("{}", show::outcome_detail(o));
        }
    }
    Ok(ok)
}

/// `pgtable scenario stress`: one strategy, or all three compared.
fn stress_cmd(a: &ScenarioArgs, modes: &[bool], json: bool) -> Result<bool, Failure> {
    let strategies: Vec<Strategy> = match a.strategy {
        Some(s) => vec![s.into()],
        None => vec![Strategy::Eager, Strategy::Prealloc, Strategy::Lazy],
    };
    let mut reports = Vec::new();
    for &la57 in modes {
        for &strategy in &strategies {
            let cfg = config(a, la57, strategy);
            let label = format!(
                "stress {} {}",
                if la57 { "5-level" } else { "4-level" },
                show::strategy_name(strategy)
            );
            let pb = progress_bar(json, cfg.steps, &label);
            let r = stress::run(&cfg, &mut |done| pb.set_position(done.min(cfg.steps)));
            pb.finish_and_clear();
            reports.push(r?);
        }
    }
    let ok = reports.iter().all(|r| r.ok());
    if json {
        print_json(&StressJson {
            ok,
            reports: &reports,
        })?;
    } else {
        for r in &reports {
            print!("{}", show::stress_detail(r));
            println!();
        }
        if reports.len() > 1 {
            println!("Strategies compared:");
            println!("{}", show::stress_table(&reports));
        }
    }
    Ok(ok)
}

#[derive(Serialize)]
struct PtdumpJson {
    scenario: String,
    variant: Variant,
    mode: &'static str,
    space: Option<usize>,
    root: u64,
    kernel_root: u64,
    out_of_sync_slots: Vec<usize>,
    items: Vec<ptdump::PtdumpItem>,
}

/// `pgtable ptdump`.
fn ptdump_cmd(a: &PtdumpArgs, json: bool) -> Result<bool, Failure> {
    if a.scenario == "stress" {
        return Err(Failure::Usage(format!(
            "ptdump cannot dump the stress scenario; valid scenarios are:\n{}",
            scenario_list(true)
        )));
    }
    if !SCENARIOS.iter().any(|s| s.name == a.scenario) {
        return Err(Failure::Usage(unknown_scenario(&a.scenario, true)));
    }
    let cfg = Config {
        la57: a.levels == 5,
        ..Config::default()
    };
    let variant = if a.old { Variant::Old } else { Variant::New };
    let m = scenarios::run_machine(&a.scenario, &cfg, variant)?;
    let ctx = a.space.map_or(Context::Kernel, Context::Process);
    let root = m.root_of(ctx).map_err(|_| {
        let ids: Vec<String> = m.process_ids().iter().map(|i| i.to_string()).collect();
        Failure::Usage(format!(
            "no process {}; the machine has processes {}",
            a.space.unwrap_or(0),
            ids.join(", ")
        ))
    })?;
    let items = ptdump::ptdump(&m, root);
    let out_of_sync: Vec<usize> = items
        .iter()
        .filter_map(|i| match i {
            ptdump::PtdumpItem::OutOfSync { slot, .. } => Some(*slot),
            _ => None,
        })
        .collect();
    let mode = pgtable::Arch::name(&m.arch);
    if json {
        print_json(&PtdumpJson {
            scenario: a.scenario.clone(),
            variant,
            mode,
            space: a.space,
            root: root.0,
            kernel_root: m.pt.kernel_root().0,
            out_of_sync_slots: out_of_sync,
            items,
        })?;
    } else {
        println!(
            "# {} after {} ({} code), {} root at {:#x}",
            mode,
            a.scenario,
            if a.old { "old" } else { "new" },
            ctx,
            root.0
        );
        print!("{}", ptdump::render(&items));
        if a.space.is_some() {
            if out_of_sync.is_empty() {
                println!("# every top-level kernel slot matches init_mm's");
            } else {
                println!(
                    "# {} top-level kernel slot(s) differ from init_mm's: {:?}",
                    out_of_sync.len(),
                    out_of_sync
                );
            }
        }
    }
    Ok(true)
}

/// `pgtable bench`: the figures of the performance issue, medians of `--runs`.
fn bench(a: &BenchArgs, json: bool) -> Result<bool, Failure> {
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; use `cargo run --release -- bench` for real figures");
    }
    let opts = pgtable_bench::BenchOptions {
        quick: a.quick,
        runs: a.runs as usize,
    };
    let report = pgtable_bench::run(&opts, &mut |line| {
        if !json {
            eprintln!("{line}")
        }
    });
    if json {
        print_json(&report)?;
    } else {
        print!("{}", report.render_table());
    }
    // CI runs `--quick` to keep the benchmark working, not to time it.
    Ok(a.quick || report.all_hold())
}
