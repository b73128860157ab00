//! The scenarios: each kernel user's change run twice on a fresh machine,
//! once as the old code wrote it and once through the kernel helpers, with
//! what the MMU saw from each CPU.

mod historical;
pub mod stress;
mod users;

use crate::arch::SimArch;
use crate::checker::Checker;
use crate::machine::{Context, Machine, MachineConfig, SimError, Strategy};
use crate::report::{Outcome, Run, Variant};
use pgtable::Arch;

/// Parameters of a scenario run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The paging mode.
    pub arch: SimArch,
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
            arch: SimArch::x86_64(false),
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

/// Run one scenario by name.
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
        arch: cfg.arch,
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

/// Whether the old code must fault on `arch` under `strategy`, and why.
pub fn expectation(arch: SimArch, strategy: Strategy) -> (bool, String) {
    use pgtable::arch::SyncMethod;
    let level = match arch.sync_method() {
        SyncMethod::None => return (false, arch.sync_rule().to_string()),
        SyncMethod::CopyEntries(level) => level,
    };
    match strategy {
        Strategy::Eager => (
            true,
            format!(
                "the change fills an empty kernel {level} entry; processes created before it lack it until a sync ({})",
                arch.sync_rule()
            ),
        ),
        Strategy::Prealloc if level == arch.top_level() => (
            false,
            "every kernel top-level slot was filled at boot: nothing new to sync".to_string(),
        ),
        Strategy::Prealloc => (
            true,
            format!("filling the top level at boot does not help: the sync level ({level}) lies below it"),
        ),
        Strategy::Lazy => (
            false,
            format!("faults on a missing kernel {level} entry are fixed by copying it (vmalloc_fault)"),
        ),
    }
}

fn pair(info: &ScenarioInfo, cfg: &Config, body: Body) -> Result<Outcome, SimError> {
    let (expect, why) = expectation(cfg.arch, cfg.strategy);
    Ok(Outcome {
        scenario: info.name,
        mode: cfg.arch.name(),
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
