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
mod users;

use crate::report::Checks;
use crate::space::{Machine, Pt};
use crate::touch::{self, Touch};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::RegionKind;
use pgtable::{KernelEdit, LegacyEdit, OffsetMemory, PhysAddr, Prot, VirtAddr, PAGE_SIZE, X86_64};
use pgtable::{KernelPolicy, PagingGeometry};
pub use pgtable_qemu_common::era::Code;
use pgtable_qemu_common::era::{self, Era, Family};

/// Table frames per scenario machine.
const TABLE_PAGES: u64 = 128;
/// Size of the boot RAM the scenario machines' direct map covers.
const BOOT_DIRECT_MAP: u64 = 1 << 30;

/// How a scenario's kernel change is made: the code (old: plain populate
/// through the legacy edit; new: an edit guard that syncs when it
/// finishes) and when x86's own `sync_global_pgds()` follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    pub code: Code,
    pub late: Late,
}

/// When the old code's `sync_global_pgds()` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Late {
    /// Never (before 9b861528a801, or a path that never called it).
    Never,
    /// Right after the populate, before the new memory is used (9b861528a801
    /// on: `kernel_physical_mapping_init()`, `vmemmap_populate()`).
    BeforeTouches,
    /// After the first touches: the window the scenario shows (for
    /// `subpmd-clear` in 5.13+, the memset inside the populate).
    AfterTouches,
}

impl Plan {
    /// The historical bug: old code with its sync too late.
    const OLD: Plan = Plan {
        code: Code::Old,
        late: Late::AfterTouches,
    };
    const NEW: Plan = Plan {
        code: Code::New,
        late: Late::Never,
    };

    /// The plan of `scenario` (the simulator's name) in `era` on `family`.
    fn of(scenario: &str, era: Era, family: Family) -> Plan {
        let user = era::user_of(scenario);
        let code = era.code(user, family);
        let late = match (era.late_sync(user, family), scenario) {
            (false, _) => Late::Never,
            // vmemmap_use_new_sub_pmd()'s memset runs inside the populate,
            // before vmemmap_populate()'s sync, from 5.13 on.
            (true, "subpmd-clear") if era.subpmd_memset() => Late::AfterTouches,
            (true, _) => Late::BeforeTouches,
        };
        Plan { code, late }
    }

    /// Whether the new mappings reach the processes made before them.
    pub fn never_synced(self) -> bool {
        self.code == Code::Old && self.late == Late::Never
    }
}

pub fn run(c: &mut Checks) {
    type Scenario = fn(Plan) -> Result<Trace, String>;
    // The kernel's name of each scenario (the bug as it was found), and
    // the simulator's.
    let all: [(&str, &str, Scenario); 3] = [
        ("hotplug-new-slot", "hotplug-new-slot", hotplug::run),
        ("compound-vmemmap", "compound-devmap", compound::run),
        ("subpmd-memset", "subpmd-clear", subpmd::run),
    ];
    for (name, _, f) in all {
        for plan in [Plan::OLD, Plan::NEW] {
            let r = f(plan).and_then(|t| t.verdict());
            c.record_detail(&format!("{name}/{}", plan.code.name()), r);
        }
    }
    // Every era the simulator models, as that era wrote the change.
    let family = Family::X86_64 {
        la57: crate::cpu::la57_active(),
    };
    for (_, sim, f) in all {
        for era in Era::ALL.into_iter().filter(|e| e.exists(sim, family)) {
            let plan = Plan::of(sim, era, family);
            let r = f(plan).and_then(|t| t.era_verdict());
            c.record_detail(&format!("{sim}/{}/{}", era.name(), plan.code.name()), r);
        }
    }
    users::run(c, family);
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
    boot_with(&[])
}

/// [`boot`], with the top-level kernel slots over each `(start, last)` of
/// `prealloc` populated before any process exists (x86-64's
/// `preallocate_vmalloc_pages()`, 5.9+).
pub fn boot_with(prealloc: &[(u64, u64)]) -> Result<(Machine, [pgtable::AddressSpace; 2]), String> {
    let m = Machine::new(TABLE_PAGES)?;
    let dm = region_start(&m.pt, RegionKind::DirectMap);
    edit_kernel(&m.pt, Code::New, |e| {
        e.vmap_range(dm, 0, BOOT_DIRECT_MAP, m.max_shift)
    })?;
    for &(start, last) in prealloc {
        m.pt.kernel()
            .edit(|e| e.preallocate(VirtAddr(start), VirtAddr(last)))
            .0
            .map_err(|e| format!("preallocate {start:#x}..={last:#x}: {e:?}"))?;
    }
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
    /// No sync ever reaches the processes made before the change.
    never_synced: bool,
    touches: Vec<Touch>,
    /// Index of the first touch after the (late) sync.
    synced_at: usize,
    /// A scenario-specific check that failed.
    extra: Option<String>,
}

impl Trace {
    pub fn new(plan: Plan) -> Self {
        Trace {
            code: plan.code,
            never_synced: plan.never_synced(),
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

    /// Under an era: every touch as the software MMU predicted, and the
    /// verdict `cargo xtask qemu` compares with the simulator's table. No
    /// fault here is fixed: x86-64's `vmalloc_fault()` (until 5.8) covers
    /// the vmalloc area only, and these scenarios touch the direct map and
    /// the vmemmap.
    fn era_verdict(&self) -> Result<String, String> {
        if let Some(t) = self.touches.iter().find(|t| !t.agrees()) {
            return Err(format!("real and software MMU disagree: {}", t.describe()));
        }
        if let Some(e) = &self.extra {
            return Err(e.clone());
        }
        let faults = self.touches.iter().filter(|t| t.faulted()).count() as u64;
        let predicted = self.touches.iter().filter(|t| t.soft.is_err()).count();
        let first = self
            .touches
            .iter()
            .find(|t| t.faulted())
            .map_or(String::new(), |t| format!(" first={}", t.describe()));
        Ok(format!(
            "verdict={} faults={faults} predicted={predicted} touches={} agree=all{}{first}",
            era::verdict(faults, 0),
            self.touches.len(),
            if self.never_synced {
                " never synced"
            } else {
                ""
            },
        ))
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
            Code::New if faults.is_empty() => Ok(format!("faults=0 predicted=0 touches={n}")),
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
                // Every touch agrees (checked above), so the software MMU
                // predicted each of these faults.
                Ok(format!(
                    "faulted={} predicted={} cr2={} err={} touches={n} agree=all",
                    faults.len(),
                    faults.len(),
                    cr2.join(","),
                    err.join(",")
                ))
            }
        }
    }
}
