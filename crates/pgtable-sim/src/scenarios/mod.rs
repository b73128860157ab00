//! The scenarios: each kernel user's change run twice on a fresh machine,
//! once as the old code wrote it and once through the kernel helpers, with
//! what the MMU saw from each CPU.

mod historical;
pub mod stress;
mod users;

use crate::checker::Checker;
use crate::machine::{Context, Machine, MachineConfig, SimError, Strategy};
use crate::report::{Outcome, Run, Variant};
use pgtable::Arch;

/// Parameters of a scenario run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// 5-level paging.
    pub la57: bool,
    /// Sync strategy.
    pub strategy: Strategy,
    /// CPUs.
    pub cpus: usize,
    /// Processes created before the kernel change (at least one).
    pub spaces: usize,
    /// Steps (stress only).
    pub steps: u64,
    /// Random seed (stress only).
    pub seed: u64,
    /// Page-table isolation.
    pub pti: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            la57: false,
            strategy: Strategy::Eager,
            cpus: 4,
            spaces: 4,
            steps: 2_000,
            seed: 1,
            pti: false,
        }
    }
}

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
        summary: "vmemmap of compound-page device memory, tail pages sharing one vmemmap page, populated by a path that never synced",
    },
    ScenarioInfo {
        name: "subpmd-clear",
        commit: Some("8d400913c231"),
        summary: "the unused part of a new PMD-sized vmemmap block is cleared before the sync, on a CPU running another process",
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

/// Run one scenario by name.
pub fn run(name: &str, cfg: &Config) -> Result<Outcome, SimError> {
    if name == "stress" {
        return stress::outcome(cfg);
    }
    let body = body_of(name).ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    let info = SCENARIOS
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    pair(info, cfg, body)
}

/// A scenario body: the kernel change and the accesses, for one variant.
/// Returns notes for the report.
type Body = fn(&Machine, Variant) -> Result<Vec<String>, SimError>;

/// A booted machine with `cfg.spaces` processes, CPU `i` running process
/// `i % spaces`: the processes exist before the change under test.
pub fn machine(cfg: &Config) -> Result<Machine, SimError> {
    let m = Machine::boot(MachineConfig {
        arch: crate::arch::SimArch::x86_64(cfg.la57),
        cpus: cfg.cpus,
        strategy: cfg.strategy,
        pti: cfg.pti,
    })?;
    let n = cfg.spaces.max(1);
    for _ in 0..n {
        m.create_process()?;
    }
    for cpu in 0..m.cpu_count() {
        m.switch(cpu, Context::Process(cpu % n))?;
    }
    Ok(m)
}

/// The machine as one variant of a scenario leaves it (for ptdump). The
/// stress scenario is not available here.
pub fn run_machine(name: &str, cfg: &Config, v: Variant) -> Result<Machine, SimError> {
    let body = body_of(name).ok_or_else(|| SimError::UnknownScenario(name.into()))?;
    let m = machine(cfg)?;
    body(&m, v)?;
    Ok(m)
}

fn one_run(cfg: &Config, v: Variant, body: Body) -> Result<Run, SimError> {
    let m = machine(cfg)?;
    let notes = body(&m, v)?;
    let checker = Checker::new().full(&m).err().map(|f| f.to_string());
    Ok(Run::collect(&m, v, checker, notes))
}

fn pair(info: &ScenarioInfo, cfg: &Config, body: Body) -> Result<Outcome, SimError> {
    let arch = pgtable::X86_64 { la57: cfg.la57 };
    let (expect, why) = match cfg.strategy {
        Strategy::Eager => (
            true,
            "the change fills an empty top-level kernel slot; processes created before it lack the entry until a sync".to_string(),
        ),
        Strategy::Prealloc => (false, "every kernel top-level slot was filled at boot: nothing new to sync".to_string()),
        Strategy::Lazy => (false, "faults on a missing top-level kernel entry are fixed by copying it (vmalloc_fault)".to_string()),
    };
    Ok(Outcome {
        scenario: info.name,
        mode: arch.name(),
        strategy: cfg.strategy,
        commit: info.commit,
        expect_old_fault: expect,
        why,
        old: Some(one_run(cfg, Variant::Old, body)?),
        new: one_run(cfg, Variant::New, body)?,
        ok: false,
    }
    .judge())
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
