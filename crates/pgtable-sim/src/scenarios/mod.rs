//! The scenarios: each kernel user's change run once per kernel [`Era`] on
//! a fresh machine booted as that era boots (boot preallocation, fault
//! handler), with what the MMU saw from each CPU, judged against what that
//! Linux release does ([`expect::expect`]).

pub mod expect;
mod historical;
pub mod stress;
pub mod table;
mod users;

use crate::arch::SimArch;
use crate::checker::Checker;
use crate::era::Era;
use crate::layout::{SimLayout, OOPS_4917F55B4EF9, OOPS_8D400913C231};
use crate::machine::Machine;
use crate::report::{EraOutcome, Outcome, Run, Verdict};
use crate::vocab::{SimError, Strategy};
use pgtable::PagingGeometry;

pub use crate::setup::{machine, machine_for, Config};

/// A scenario's name, the Linux commit it follows and what it does.
#[derive(Clone, Copy, Debug)]
pub struct ScenarioInfo {
    /// Name on the command line.
    pub name: &'static str,
    /// The Linux commit whose bug it reproduces, if any.
    pub commit: Option<&'static str>,
    /// One line.
    pub summary: &'static str,
}

/// Every scenario, in the order the command line runs them.
pub const SCENARIOS: &[ScenarioInfo] = &[
    ScenarioInfo {
        name: "hotplug-new-slot",
        commit: Some("9b861528a801"),
        summary: "hot-added memory needs new top-level slots for its direct map and vmemmap; earlier processes touch its struct pages",
    },
    ScenarioInfo {
        name: "compound-devmap",
        commit: Some("4917f55b4ef9"),
        summary: "vmemmap of compound-page device memory populated by a path that never synced; memmap init writes the first head's _refcount (4-level: at ffffe70000000034)",
    },
    ScenarioInfo {
        name: "subpmd-clear",
        commit: Some("8d400913c231"),
        summary: "a section whose memmap is not a multiple of 2 MiB (80-byte struct page): the first struct page of a new, partly used PMD block is zeroed before the sync (4-level: at ffffeb3ff1200000)",
    },
    ScenarioInfo { name: "vmalloc-new-slot", commit: None, summary: "vmalloc into an empty top-level slot, read from every CPU" },
    ScenarioInfo { name: "ioremap", commit: None, summary: "ioremap of a device into an empty top-level slot, read from every CPU" },
    ScenarioInfo {
        name: "kasan-shadow",
        commit: None,
        summary: "KASAN zero shadow (shared tables at every level) and real shadow in empty slots, checked from every CPU",
    },
    ScenarioInfo {
        name: "percpu",
        commit: None,
        summary: "percpu first chunk mapped page by page (pcpu_populate_pte) into an empty slot; each CPU reads its unit",
    },
    ScenarioInfo {
        name: "stress",
        commit: None,
        summary: "random hotplug, vmalloc/vfree, ioremap, process create/destroy and accesses; checker after every step",
    },
];

fn body_of(name: &str) -> Option<Body> {
    Some(match name {
        "hotplug-new-slot" => historical::hotplug_new_slot,
        "compound-devmap" => historical::compound_devmap,
        "subpmd-clear" => historical::subpmd_clear,
        "vmalloc-new-slot" => users::vmalloc_new_slot,
        "ioremap" => users::ioremap,
        "kasan-shadow" => users::kasan_shadow,
        "percpu" => users::percpu,
        _ => return None,
    })
}

/// Whether scenario `name` means something on `arch`; if not, why.
pub fn applies(name: &str, arch: SimArch) -> Result<(), &'static str> {
    use crate::layout::SimLayout;
    let l = SimLayout::new(arch);
    match name {
        "hotplug-new-slot" | "compound-devmap" | "subpmd-clear"
            if !l.has_vmemmap || l.hotplug_base.is_none() =>
        {
            Err("32-bit: no vmemmap and no hotplug of the direct map (lowmem is fixed at boot, struct pages live in it)")
        }
        "kasan-shadow" if !l.has_kasan => Err(match arch {
            SimArch::X86_32(_) => "no KASAN on x86-32",
            SimArch::Arm32(_) => "arm32 KASAN shadow lies below PAGE_OFFSET (user half): not modelled",
            _ => "no KASAN shadow region in this memory map",
        }),
        _ => Ok(()),
    }
}

/// Run one scenario by name, once per era.
pub fn run(name: &str, cfg: &Config) -> Result<Outcome, SimError> {
    if !SCENARIOS.iter().any(|s| s.name == name) {
        return Err(SimError::UnknownScenario(name.into()));
    }
    if let Err(why) = applies(name, cfg.arch) {
        return Err(SimError::NotApplicable(why));
    }
    if name == "stress" {
        return stress::outcome(cfg);
    }
    let body = body_of(name).ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    let cfg = &with_scenario_layout(name, cfg);
    let info = SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    let eras = Era::ALL
        .iter()
        .map(|&era| era_outcome(name, cfg, era, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome {
        scenario: info.name,
        mode: cfg.arch.name(),
        strategy: cfg.strategy,
        commit: info.commit,
        ok: eras.iter().all(|e| e.ok),
        eras,
    })
}

/// The layout scenario `name` runs with on `arch`: on x86-64 with 4-level
/// paging the two bugs whose oops addresses are known run on the machine
/// of their report ([`OOPS_4917F55B4EF9`], [`OOPS_8D400913C231`]), so
/// the simulator faults at exactly those addresses. Elsewhere
/// subpmd-clear needs the report's 80-byte `struct page` too (with 64
/// bytes a section's memmap is exactly 2 MiB and the sub-PMD path never
/// runs); the rest use the mode's default placement.
pub fn scenario_layout(name: &str, arch: SimArch) -> Option<SimLayout> {
    let four_level = arch.name() == "x86_64/4-level";
    match name {
        "compound-devmap" if four_level => Some(SimLayout::reported(arch, &OOPS_4917F55B4EF9)),
        "subpmd-clear" if four_level => Some(SimLayout::reported(arch, &OOPS_8D400913C231)),
        "subpmd-clear" => Some(SimLayout::with_struct_page(
            arch,
            OOPS_8D400913C231.struct_page,
        )),
        _ => None,
    }
}

fn with_scenario_layout(name: &str, cfg: &Config) -> Config {
    Config {
        layout: cfg.layout.or_else(|| scenario_layout(name, cfg.arch)),
        ..*cfg
    }
}

/// A scenario body: the kernel change and the accesses, as one era does
/// them. Returns notes for the report.
type Body = fn(&Machine, Era) -> Result<Vec<String>, SimError>;

/// The machine as one era of a scenario leaves it (for ptdump). The
/// stress scenario is not available here.
pub fn run_machine(name: &str, cfg: &Config, era: impl Into<Era>) -> Result<Machine, SimError> {
    let era = era.into();
    let body = body_of(name).ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    applies(name, cfg.arch).map_err(SimError::NotApplicable)?;
    let cfg = &with_scenario_layout(name, cfg);
    let m = machine_for(cfg, era)?;
    body(&m, era)?;
    Ok(m)
}

fn one_run(cfg: &Config, era: Era, body: Body) -> Result<Run, SimError> {
    let m = machine_for(cfg, era)?;
    let notes = body(&m, era)?;
    let checker = Checker::new().full(&m).err().map(|f| f.to_string());
    Ok(Run::collect(&m, era, checker, notes))
}

fn era_outcome(name: &str, cfg: &Config, era: Era, body: Body) -> Result<EraOutcome, SimError> {
    let want = expect::expect(name, cfg.arch, era);
    let user = expect::user_of(name);
    let run = match want.verdict {
        Verdict::NotInEra => None,
        _ => Some(one_run(cfg, era, body)?),
    };
    let verdict = run.as_ref().map_or(Verdict::NotInEra, Run::verdict);
    // The expectations are those of each era's own mechanism; another
    // strategy only keeps the library's run to account.
    let eager = cfg.strategy == Strategy::Eager;
    let ok = match &run {
        None => true,
        Some(r) => {
            let as_expected = !eager || verdict == want.verdict;
            let library_clean = era != Era::V617
                || (r.faults.is_empty() && r.checker.is_none() && (!eager || r.fixed.is_empty()));
            as_expected && library_clean
        }
    };
    Ok(EraOutcome {
        era,
        era_name: era.name(),
        releases: era.releases(),
        linux_source: era.source(user, cfg.arch),
        fault_handler: era
            .fault_handler(cfg.arch)
            .map(|h| format!("{}:{}", h.source, h.name)),
        expected: want.verdict,
        verdict,
        why: want.why,
        run,
        ok,
    })
}

/// Top-level slot of an address, for notes.
pub(crate) fn slot(m: &Machine, va: u64) -> u64 {
    m.arch.index(pgtable::Level::Pgd, va)
}

/// Every CPU reads `va` (what processes running there would do).
pub(crate) fn read_from_every_cpu(k: &crate::kernel::Kernel<'_>, va: u64, what: &str) {
    for cpu in 0..k.m.cpu_count() {
        let _ = k.access(cpu, va, pgtable_mmu::Access::Read, what);
    }
}
