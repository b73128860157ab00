//! `pgtable`: runs the page-table scenarios on the simulated machine, shows
//! one in detail, compares the sync strategies under stress, and dumps page
//! tables as Linux's debugfs `page_tables` does.
//!
//! Exit status: 0 when every verdict is ok, 1 when one is not (or the
//! simulation itself failed), 2 for a usage error.

mod show;

use clap::{Parser, Subcommand, ValueEnum};
use pgtable::Arch;
use pgtable_sim::ptdump;
use pgtable_sim::scenarios::{self, stress, Config, SCENARIOS};
use pgtable_sim::{Context, Outcome, SimArch, SimError, Strategy, Variant};
use serde::Serialize;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pgtable",
    version,
    about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on simulated x86-64, x86-32, arm64, riscv64 and arm machines",
    long_about = "Kernel page-table population (Linux 6.17 pgd/p4d_populate_kernel) on simulated machines: \
                  x86-64 (5- and 4-level), x86-32 (2-level, PAE with shared and per-process kernel PMDs), \
                  arm64 (48- and 39-bit), riscv64 (Sv57, Sv48, Sv39) and arm (short descriptors).\n\n\
                  Without a command: run every scenario on every architecture and mode (or on the one \
                  --arch names) once per kernel era (pre-9b861528a801, pre-5.8, 5.8-6.16, 6.17+), each \
                  as that Linux release does it, and print one verdict line per mode, scenario and era.\n\n\
                  Exit status: 0 when every verdict is what its era does and the library (6.17+) never \
                  faulted, 1 otherwise, 2 for a usage error."
)]
struct Cli {
    /// Print machine-readable JSON on stdout instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Architecture and paging mode (`x86_64/4-level`, `x86_32/pae`,
    /// `arm64/48-bit`, `riscv64/sv39`, `arm32/short`, or a short alias such
    /// as `x86_64`, `pae`, `arm64`, `sv48`, `arm`); all when absent.
    #[arg(long, global = true, value_parser = parse_arch)]
    arch: Option<SimArch>,
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
    /// Runs per figure; min, median and max are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    runs: u64,
    /// Measure even when not built with the fair profile (`--profile
    /// bench-fair`); the ratios against the peers are then not fair.
    #[arg(long)]
    allow_unfair_build: bool,
}

#[derive(clap::Args, Debug)]
struct ScenarioArgs {
    /// Scenario name (`pgtable scenario list` shows them).
    name: String,
    /// x86-64 paging levels (the same as `--arch x86_64/4-level` or
    /// `/5-level`).
    #[arg(long, value_parser = clap::value_parser!(u8).range(4..=5), conflicts_with = "arch")]
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
    /// The scenario that leaves the machine to dump (default
    /// hotplug-new-slot, or vmalloc-new-slot on a mode without memory
    /// hotplug).
    #[arg(long)]
    scenario: Option<String>,
    /// Dump the machine as the old (pre-6.17) code leaves it.
    #[arg(long)]
    old: bool,
    /// Dump process N's root; without it, init_mm's.
    #[arg(long, value_name = "N")]
    space: Option<usize>,
    /// x86-64 paging levels (without `--arch`).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(4..=5))]
    levels: u8,
}

/// `--arch`: a mode's name or alias.
fn parse_arch(s: &str) -> Result<SimArch, String> {
    SimArch::by_name(s).ok_or_else(|| {
        let names: Vec<&str> = SimArch::all().iter().map(|a| a.name()).collect();
        format!(
            "unknown architecture {s:?}; valid ones are: {}",
            names.join(", ")
        )
    })
}

/// The modes a command runs: the one `--arch` (or `--levels`) names, or all.
fn modes(arch: Option<SimArch>, levels: Option<u8>) -> Vec<SimArch> {
    match (arch, levels) {
        (Some(a), _) => vec![a],
        (None, Some(l)) => vec![SimArch::x86_64(l == 5)],
        (None, None) => SimArch::all(),
    }
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
            SimError::NotApplicable(why) => Failure::Usage(format!("not applicable: {why}")),
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
        None => all(cli.json, cli.arch),
        Some(Cmd::Scenario(a)) => scenario(a, cli.arch, cli.json),
        Some(Cmd::Ptdump(a)) => ptdump_cmd(a, cli.arch, cli.json),
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

/// A scenario that means nothing on a mode, and why.
#[derive(Clone, Debug, Serialize)]
struct Skipped {
    scenario: &'static str,
    mode: &'static str,
    why: &'static str,
}

#[derive(Serialize)]
struct AllJson<'a> {
    ok: bool,
    outcomes: &'a [Outcome],
    not_applicable: &'a [Skipped],
}

/// `pgtable`: every scenario on every mode.
fn all(json: bool, arch: Option<SimArch>) -> Result<bool, Failure> {
    let modes = modes(arch, None);
    let pb = progress_bar(json, (modes.len() * SCENARIOS.len()) as u64, "scenarios");
    let mut outcomes = Vec::new();
    let mut skipped = Vec::new();
    for &arch in &modes {
        for info in SCENARIOS {
            pb.set_message(format!("{} ({})", info.name, arch.name()));
            let cfg = Config {
                arch,
                ..Config::default()
            };
            match scenarios::run(info.name, &cfg) {
                Ok(o) => outcomes.push(o),
                Err(SimError::NotApplicable(why)) => skipped.push(Skipped {
                    scenario: info.name,
                    mode: arch.name(),
                    why,
                }),
                Err(e) => return Err(e.into()),
            }
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let ok = outcomes.iter().all(|o| o.ok);
    if json {
        print_json(&AllJson {
            ok,
            outcomes: &outcomes,
            not_applicable: &skipped,
        })?;
    } else {
        print!("{}", show::verdict_lines(&outcomes));
        println!();
        print!("{}", show::legend());
        if !skipped.is_empty() {
            println!();
            println!("Not applicable:");
            for s in &skipped {
                print!(
                    "{}",
                    show::wrap(&format!("{} on {}: {}", s.scenario, s.mode, s.why), 2, 4)
                );
            }
        }
        println!();
        let eras: Vec<_> = outcomes.iter().flat_map(|o| &o.eras).collect();
        let bad = eras.iter().filter(|e| !e.ok).count();
        let line = if bad == 0 {
            format!(
                "All {} verdicts ok ({} runs, {} not in their era, {} scenarios not applicable); \
                 the library (6.17+) never faulted.",
                eras.len(),
                eras.iter().filter(|e| e.run.is_some()).count(),
                eras.iter().filter(|e| e.run.is_none()).count(),
                skipped.len()
            )
        } else {
            format!("{bad} of {} verdicts FAILED.", eras.len())
        };
        print!("{}", show::wrap(&line, 0, 0));
    }
    Ok(ok)
}

fn config(a: &ScenarioArgs, arch: SimArch, strategy: Strategy) -> Config {
    let d = Config::default();
    Config {
        arch,
        strategy,
        cpus: a.cpus.map_or(d.cpus, |n| n as usize),
        spaces: a.spaces.map_or(d.spaces, |n| n as usize),
        steps: a.steps.unwrap_or(d.steps),
        seed: a.seed.unwrap_or(d.seed),
        pti: a.pti,
        layout: None,
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
fn scenario(a: &ScenarioArgs, arch: Option<SimArch>, json: bool) -> Result<bool, Failure> {
    if a.name == "list" {
        // Not a scenario: the list itself.
        println!("{}", scenario_list(false));
        return Ok(true);
    }
    if !SCENARIOS.iter().any(|s| s.name == a.name) {
        return Err(Failure::Usage(unknown_scenario(&a.name, false)));
    }
    let modes = modes(arch, a.levels);
    if a.name == "stress" {
        return stress_cmd(a, &modes, json);
    }
    let strategy = a.strategy.map_or(Strategy::Eager, Strategy::from);
    let mut outcomes = Vec::new();
    for &arch in &modes {
        match scenarios::run(&a.name, &config(a, arch, strategy)) {
            Ok(o) => outcomes.push(o),
            Err(SimError::NotApplicable(why)) if modes.len() > 1 => {
                eprintln!("{} on {}: not applicable: {why}", a.name, arch.name());
            }
            Err(e) => return Err(e.into()),
        }
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
fn stress_cmd(a: &ScenarioArgs, modes: &[SimArch], json: bool) -> Result<bool, Failure> {
    let strategies: Vec<Strategy> = match a.strategy {
        Some(s) => vec![s.into()],
        None => vec![Strategy::Eager, Strategy::Prealloc, Strategy::Lazy],
    };
    let mut reports = Vec::new();
    for &arch in modes {
        for &strategy in &strategies {
            let cfg = config(a, arch, strategy);
            let label = format!("stress {} {}", arch.name(), show::strategy_name(strategy));
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
    #[serde(serialize_with = "pgtable_sim::json::hex")]
    root: u64,
    #[serde(serialize_with = "pgtable_sim::json::hex")]
    kernel_root: u64,
    out_of_sync_slots: Vec<u64>,
    items: Vec<PtdumpItem>,
}

/// One line of a dump, for `--json`.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum PtdumpItem {
    /// A marker header.
    Section { name: &'static str, text: String },
    /// A run of entries; `end` 0 is the top of the address space.
    Range {
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        start: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        end: u64,
        /// Bytes, as hex too: the user half's size is above 2^53.
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        size: u64,
        present: bool,
        level: &'static str,
        text: String,
    },
    /// x86's "... N entries skipped ...".
    Skipped { count: u64, text: String },
    /// An entry of the dumped root that differs from init_mm's.
    OutOfSync {
        level: &'static str,
        slot: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        start: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        kernel: u64,
        #[serde(serialize_with = "pgtable_sim::json::hex")]
        this: u64,
        text: String,
    },
}

impl From<&pgtable::ptdump::Item> for PtdumpItem {
    fn from(i: &pgtable::ptdump::Item) -> Self {
        use pgtable::ptdump::Item;
        let text = i.to_string();
        match i {
            Item::Marker(name) => PtdumpItem::Section { name, text },
            Item::Range(r) => PtdumpItem::Range {
                start: r.start,
                end: r.end,
                size: r.size(),
                present: r.is_mapped(),
                level: r.level_name,
                text,
            },
            Item::Skipped(n) => PtdumpItem::Skipped { count: *n, text },
            Item::OutOfSync(d) => PtdumpItem::OutOfSync {
                level: d.level.name(),
                slot: d.index,
                start: d.start,
                kernel: d.kernel,
                this: d.this,
                text,
            },
        }
    }
}

/// `pgtable ptdump`.
fn ptdump_cmd(a: &PtdumpArgs, arch: Option<SimArch>, json: bool) -> Result<bool, Failure> {
    let arch = arch.unwrap_or(SimArch::x86_64(a.levels == 5));
    let scenario = match &a.scenario {
        Some(s) => s.clone(),
        None if scenarios::applies("hotplug-new-slot", arch).is_ok() => "hotplug-new-slot".into(),
        None => "vmalloc-new-slot".into(),
    };
    if scenario == "stress" {
        return Err(Failure::Usage(format!(
            "ptdump cannot dump the stress scenario; valid scenarios are:\n{}",
            scenario_list(true)
        )));
    }
    if !SCENARIOS.iter().any(|s| s.name == scenario) {
        return Err(Failure::Usage(unknown_scenario(&scenario, true)));
    }
    let cfg = Config {
        arch,
        ..Config::default()
    };
    let variant = if a.old { Variant::Old } else { Variant::New };
    let m = scenarios::run_machine(&scenario, &cfg, variant)?;
    let ctx = a.space.map_or(Context::Kernel, Context::Process);
    let root = m.root_of(ctx).map_err(|_| {
        let ids: Vec<String> = m.process_ids().iter().map(|i| i.to_string()).collect();
        Failure::Usage(format!(
            "no process {}; the machine has processes {}",
            a.space.unwrap_or(0),
            ids.join(", ")
        ))
    })?;
    // A process's dump marks its entries that differ from init_mm's and
    // shows its user half too; init_mm's is exactly Linux's.
    let marks = a.space.is_some();
    let sim = |e: pgtable::ptdump::DumpError| Failure::Sim(format!("ptdump: {e}"));
    let items = ptdump::items(&m, root, marks).map_err(sim)?;
    let out_of_sync: Vec<u64> = ptdump::out_of_sync(&m, root)
        .map_err(sim)?
        .iter()
        .map(|d| d.index)
        .collect();
    let mode = pgtable::Arch::name(&m.arch);
    if json {
        print_json(&PtdumpJson {
            scenario: scenario.clone(),
            variant,
            mode,
            space: a.space,
            root: root.0,
            kernel_root: m.pt.kernel_root().0,
            out_of_sync_slots: out_of_sync,
            items: items.iter().map(PtdumpItem::from).collect(),
        })?;
    } else {
        println!(
            "# {} after {} ({} code), {} root at {:#x}",
            mode,
            scenario,
            if a.old { "old" } else { "new" },
            ctx,
            root.0
        );
        print!("{}", ptdump::render(&items));
        if a.space.is_some() {
            if out_of_sync.is_empty() {
                println!("# every kernel entry matches init_mm's");
            } else {
                let one = out_of_sync.len() == 1;
                println!(
                    "# {} kernel entr{} from init_mm's: {:?}",
                    out_of_sync.len(),
                    if one { "y differs" } else { "ies differ" },
                    out_of_sync
                );
            }
        }
    }
    Ok(true)
}

/// `pgtable bench`: the figures of the performance issue over `--runs` runs.
fn bench(a: &BenchArgs, json: bool) -> Result<bool, Failure> {
    if !pgtable_bench::fair_build() {
        let msg = format!(
            "pgtable bench was built with profile `{}`, not `{}` (fat LTO, one codegen \
             unit for the library and the peers alike): the ratios would favour one side.\n\
             Build it fairly: cargo run --profile {} -p pgtable-cli -- bench",
            pgtable_bench::BUILD_PROFILE,
            pgtable_bench::FAIR_PROFILE,
            pgtable_bench::FAIR_PROFILE
        );
        // CI's `--quick` run only keeps the benchmark working.
        if !(a.quick || a.allow_unfair_build) {
            return Err(Failure::Usage(format!(
                "{msg}\n(--allow-unfair-build measures anyway)"
            )));
        }
        eprintln!("WARNING: {msg}");
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
