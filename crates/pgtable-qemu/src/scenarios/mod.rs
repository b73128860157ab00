//! The three historical bugs on the real MMU, each as the old code wrote it
//! (legacy populate, no sync until too late) and with the kernel helpers
//! (an edit guard that syncs when it finishes).
//!
//! Every scenario builds a fresh [`Machine`] (so the slot it needs is empty
//! again), creates processes before the populate, and touches the new
//! mappings from CPUs running on their roots. Each touch is first walked by
//! the software MMU over the same table memory; the check passes only if
//! the real MMU faults exactly where the software MMU says it does, the old
//! code faults at least once before its late sync and never after, and the
//! new code never faults.

mod compound;
mod hotplug;
mod subpmd;

use crate::report::Checks;
use crate::space::{Machine, Pt};
use crate::touch::{self, Touch};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::{KernelEdit, LegacyEdit, OffsetMemory, PhysAddr, Prot, VirtAddr, PAGE_SIZE, X86_64};
use pgtable::{KernelPolicy, PagingGeometry};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 128;
/// Size of the boot RAM the scenario machines' direct map covers.
const BOOT_DIRECT_MAP: u64 = 1 << 30;

/// How the kernel code under test is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Pre-6.17: plain populate, sync forgotten or late.
    Old,
    /// `pgd_populate_kernel()` through an edit guard.
    New,
}

impl Code {
    fn name(self) -> &'static str {
        match self {
            Code::Old => "old",
            Code::New => "new",
        }
    }
}

pub fn run(c: &mut Checks) {
    type Scenario = fn(Code) -> Result<Trace, String>;
    let all: [(&str, Scenario); 3] = [
        ("hotplug-new-slot", hotplug::run),
        ("compound-vmemmap", compound::run),
        ("subpmd-memset", subpmd::run),
    ];
    for (name, f) in all {
        for code in [Code::Old, Code::New] {
            let r = f(code).and_then(|t| t.verdict());
            c.record_detail(&format!("{name}/{}", code.name()), r);
        }
    }
}

/// The map calls the scenarios need, on either kind of edit.
pub trait KernelMap {
    fn vmap_range(&mut self, va: u64, pa: u64, size: u64, shift: u32) -> pgtable::Result<()>;
    fn vmap_pages(&mut self, va: u64, frames: &[PhysAddr]) -> pgtable::Result<()>;
}

impl KernelMap for KernelEdit<'_, '_, X86_64, OffsetMemory> {
    fn vmap_range(&mut self, va: u64, pa: u64, size: u64, shift: u32) -> pgtable::Result<()> {
        KernelEdit::vmap_range(
            self,
            VirtAddr(va),
            PhysAddr(pa),
            size,
            Prot::KERNEL,
            crate::space::leaf(shift),
        )
    }
    fn vmap_pages(&mut self, va: u64, frames: &[PhysAddr]) -> pgtable::Result<()> {
        KernelEdit::vmap_pages(self, VirtAddr(va), frames, Prot::KERNEL)
    }
}

impl KernelMap for LegacyEdit<'_, '_, X86_64, OffsetMemory> {
    fn vmap_range(&mut self, va: u64, pa: u64, size: u64, shift: u32) -> pgtable::Result<()> {
        LegacyEdit::vmap_range(
            self,
            VirtAddr(va),
            PhysAddr(pa),
            size,
            Prot::KERNEL,
            crate::space::leaf(shift),
        )
    }
    fn vmap_pages(&mut self, va: u64, frames: &[PhysAddr]) -> pgtable::Result<()> {
        LegacyEdit::vmap_pages(self, VirtAddr(va), frames, Prot::KERNEL)
    }
}

/// Change kernel mappings as `code` would: old code through the legacy
/// populate (no sync), new code through an edit that syncs when finished.
pub fn edit_kernel(
    pt: &Pt,
    code: Code,
    f: impl FnOnce(&mut dyn KernelMap) -> pgtable::Result<()>,
) -> Result<(), String> {
    let mut kernel = pt.kernel();
    match code {
        Code::Old => {
            // SAFETY: the scenario expects the fault this allows: processes
            // created before this populate lack the new top-level entry until
            // the late `sync_global_pgds` the scenario runs; until then it
            // touches the range from their roots only through probes, whose
            // #PF is caught, recorded and survived.
            unsafe { kernel.legacy_edit(|edit| f(edit)) }.map_err(|e| format!("legacy map: {e:?}"))
        }
        Code::New => {
            let (r, report) = kernel.edit(|edit| f(edit));
            r.map_err(|e| format!("map: {e:?}"))?;
            if report.synced() {
                Ok(())
            } else {
                Err(format!("the edit did not sync: {report:?}"))
            }
        }
    }
}

/// `sync_global_pgds(start, last)`: what the old code ran too late.
pub fn late_sync(pt: &Pt, start: u64, last: u64) {
    // The scenarios pass kernel ranges only; a refusal would be their bug.
    let _ = pt
        .kernel()
        .sync_global_pgds(VirtAddr(start), VirtAddr(last));
}

/// A scenario machine: the kernel's direct map of boot RAM in place (its
/// top-level slot populated before any process exists), and two processes.
pub fn boot() -> Result<(Machine, [pgtable::AddressSpace; 2]), String> {
    let m = Machine::new(TABLE_PAGES)?;
    let dm = region_start(&m.pt, RegionKind::DirectMap);
    edit_kernel(&m.pt, Code::New, |e| {
        e.vmap_range(dm, 0, BOOT_DIRECT_MAP, m.max_shift)
    })?;
    let a = m.process()?;
    let b = m.process()?;
    Ok((m, [a, b]))
}

pub fn region_start(pt: &Pt, kind: RegionKind) -> u64 {
    pt.arch().layout().get(kind).map_or(0, |r| r.start)
}

/// Bytes one top-level entry covers (512 GiB, or 256 TiB with LA57).
pub fn top_slot_size(pt: &Pt) -> u64 {
    let arch = pt.arch();
    arch.level_size(arch.top_level())
}

/// `vmemmap + pfn`: where the `struct page` (64 bytes) of `pa` lives.
pub fn vmemmap_of(pt: &Pt, pa: u64) -> u64 {
    region_start(pt, RegionKind::Vmemmap) + (pa / PAGE_SIZE) * 64
}

/// The touches of one scenario, split at the old code's late sync.
pub struct Trace {
    code: Code,
    touches: Vec<Touch>,
    /// Index of the first touch after the (late) sync.
    synced_at: usize,
    /// A scenario-specific check that failed.
    extra: Option<String>,
}

impl Trace {
    pub fn new(code: Code) -> Self {
        Trace {
            code,
            touches: Vec::new(),
            synced_at: 0,
            extra: None,
        }
    }

    pub fn touch(&mut self, m: &Machine, root: PhysAddr, va: u64, write: bool) -> Touch {
        let t = touch::touch(&m.mmu, root, va, write);
        self.touches.push(t);
        t
    }

    pub fn push(&mut self, t: Touch) {
        self.touches.push(t);
    }

    /// From here on every touch must succeed.
    pub fn mark_synced(&mut self) {
        self.synced_at = self.touches.len();
    }

    pub fn fail(&mut self, detail: String) {
        self.extra.get_or_insert(detail);
    }

    /// `Ok(detail)` if the scenario showed what it must.
    fn verdict(&self) -> Result<String, String> {
        if let Some(t) = self.touches.iter().find(|t| !t.agrees()) {
            return Err(format!("real and software MMU disagree: {}", t.describe()));
        }
        if let Some(e) = &self.extra {
            return Err(e.clone());
        }
        let (before, after) = self.touches.split_at(self.synced_at);
        if let Some(t) = after.iter().find(|t| t.faulted()) {
            return Err(format!("fault after the sync: {}", t.describe()));
        }
        let faults: Vec<&Touch> = before.iter().filter(|t| t.faulted()).collect();
        let n = self.touches.len();
        match self.code {
            Code::New if faults.is_empty() => Ok(format!("faults=0 touches={n}")),
            Code::New => Err(format!("new code faulted: {}", faults[0].describe())),
            Code::Old if faults.is_empty() => Err(format!("old code did not fault in {n} touches")),
            Code::Old => {
                let mut at: Vec<(u64, u64)> = Vec::new();
                for f in faults.iter().filter_map(|t| t.real.err()) {
                    if !at.contains(&(f.addr, f.error_code)) {
                        at.push((f.addr, f.error_code));
                    }
                }
                let cr2: Vec<String> = at.iter().map(|a| format!("{:#x}", a.0)).collect();
                let err: Vec<String> = at.iter().map(|a| format!("{:#x}", a.1)).collect();
                Ok(format!(
                    "faulted={} cr2={} err={} touches={n} agree=all",
                    faults.len(),
                    cr2.join(","),
                    err.join(",")
                ))
            }
        }
    }
}
