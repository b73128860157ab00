//! A machine set up for a run: booted (as the library boots, or as one
//! kernel era does), with the processes that exist before the change under
//! test. The scenarios and the checker's tests both start from it.

use crate::arch::SimArch;
use crate::era::Era;
use crate::layout::SimLayout;
use crate::machine::{Machine, MachineConfig};
use crate::vocab::{Context, SimError, Strategy};
use pgtable::VirtAddr;

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
    /// The kernel's layout, if not the mode's default placement; each
    /// historical scenario picks its report's on x86-64 4-level
    /// ([`scenario_layout`](crate::scenarios::scenario_layout)).
    pub layout: Option<SimLayout>,
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
            layout: None,
        }
    }
}

/// A booted machine with `cfg.spaces` processes, CPU `i` running process
/// `i % spaces`: the processes exist before the change under test. The
/// machine boots as the library does (no era's preallocation, no fault
/// handler).
pub fn machine(cfg: &Config) -> Result<Machine, SimError> {
    machine_with(cfg, None)
}

/// [`machine`] booted as `era` boots on `cfg.arch`: what it preallocates
/// at boot, and its fault handler.
pub fn machine_for(cfg: &Config, era: Era) -> Result<Machine, SimError> {
    machine_with(cfg, Some(era))
}

fn machine_with(cfg: &Config, era: Option<Era>) -> Result<Machine, SimError> {
    let m = Machine::boot(MachineConfig {
        arch: cfg.arch,
        cpus: cfg.cpus,
        strategy: cfg.strategy,
        pti: cfg.pti,
        layout: cfg.layout,
    })?;
    if let Some(era) = era {
        boot_era(&m, era)?;
    }
    let n = cfg.spaces.max(1);
    for _ in 0..n {
        m.create_process()?;
    }
    for cpu in 0..m.cpu_count() {
        m.switch(cpu, Context::Process(cpu % n))?;
    }
    Ok(m)
}

/// What `era` does at boot beyond the library's own boot: x86-64's
/// `preallocate_vmalloc_pages()` (5.9+) and the top level of the vmalloc
/// area's KASAN shadow (`kasan_shallow_populate_pgds()`), and the fault
/// handler.
fn boot_era(m: &Machine, era: Era) -> Result<(), SimError> {
    let l = m.layout;
    let (start, end) = l.vmalloc;
    let mut ranges = Vec::new();
    if era.prealloc_vmalloc(m.arch) {
        ranges.push((start, end - 1));
    }
    if era.prealloc_kasan_vmalloc_shadow(m.arch) && l.has_kasan {
        ranges.push((l.shadow(start), l.shadow(end - 1)));
    }
    let mut k = m.kernel();
    for (s, last) in ranges {
        k.ks.edit(|e| e.preallocate(VirtAddr(s), VirtAddr(last)))
            .0?;
    }
    m.set_fault_handler(era.fault_handler(m.arch));
    Ok(())
}
