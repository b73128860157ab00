//! The scenarios' kernel changes (`vmalloc()`, `ioremap()`, the percpu
//! first chunk), written once over either kind of edit: the new code's
//! `KernelEdit` or the old code's `LegacyEdit`.

use super::{Scenario, HPET, UNITS, UNIT_PAGES};
use crate::crosscheck::region;
use crate::machine::{Machine, LEAF_SIZE};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use pgtable::arch::x86_32::X86_32;
use pgtable::arch::RegionKind;
use pgtable::{
    CacheMode, KernelEdit, LegacyEdit, Level, PhysAddr, Prot, SyncReport, VirtAddr, PAGE_SIZE,
};

/// The kernel change, on either kind of edit.
trait KernelMap {
    fn vmap(&mut self, frames: &[PhysAddr]) -> pgtable::Result<VirtAddr>;
    fn ioremap(&mut self, pa: u64, size: u64) -> pgtable::Result<VirtAddr>;
    fn pgd_offset(&self, va: u64) -> pgtable::EntryPtr;
    fn alloc_track(
        &mut self,
        level: Level,
        e: pgtable::EntryPtr,
        va: u64,
    ) -> pgtable::Result<pgtable::EntryPtr>;
    fn set_pte(&mut self, va: u64, e: pgtable::EntryPtr, pa: u64) -> pgtable::Result<()>;
}

type Mem = crate::memory::KernelMemory;

macro_rules! kernel_map {
    ($t:ident) => {
        impl KernelMap for $t<'_, '_, X86_32, Mem> {
            fn vmap(&mut self, frames: &[PhysAddr]) -> pgtable::Result<VirtAddr> {
                $t::vmap(self, frames, Prot::KERNEL)
            }
            fn ioremap(&mut self, pa: u64, size: u64) -> pgtable::Result<VirtAddr> {
                $t::ioremap(self, PhysAddr(pa), size, CacheMode::Uncached)
            }
            fn pgd_offset(&self, va: u64) -> pgtable::EntryPtr {
                $t::pgd_offset(self, VirtAddr(va))
            }
            fn alloc_track(
                &mut self,
                level: Level,
                e: pgtable::EntryPtr,
                va: u64,
            ) -> pgtable::Result<pgtable::EntryPtr> {
                $t::alloc_track(self, level, e, VirtAddr(va))
            }
            fn set_pte(&mut self, va: u64, e: pgtable::EntryPtr, pa: u64) -> pgtable::Result<()> {
                $t::set_leaf(
                    self,
                    Level::Pte,
                    VirtAddr(va),
                    e,
                    PhysAddr(pa),
                    Prot::KERNEL,
                )
            }
        }
    };
}
kernel_map!(KernelEdit);
kernel_map!(LegacyEdit);

/// `pcpu_populate_pte()`: each page of the first chunk mapped by a walk
/// that populates every missing level (the library folds P4D, PUD and,
/// without PAE, PMD).
fn percpu_chunk(e: &mut dyn KernelMap, base: u64, frames: &[u64]) -> pgtable::Result<()> {
    for (i, &pa) in frames.iter().enumerate() {
        let va = base + i as u64 * PAGE_SIZE;
        let pgd = e.pgd_offset(va);
        let p4d = e.alloc_track(Level::Pgd, pgd, va)?;
        let pud = e.alloc_track(Level::P4d, p4d, va)?;
        let pmd = e.alloc_track(Level::Pud, pud, va)?;
        let pte = e.alloc_track(Level::Pmd, pmd, va)?;
        e.set_pte(va, pte, pa)?;
    }
    Ok(())
}

/// Make the change with `new` code or old; returns the addresses to touch
/// per context (init_mm, A, B, C) and the edit's report (new code).
pub(super) fn change(
    m: &Machine,
    s: Scenario,
    new: bool,
    block: u64,
) -> Result<([Vec<u64>; 4], Option<SyncReport>), String> {
    let (vm, _) = region(RegionKind::Vmalloc);
    let percpu_base = ((vm + LEAF_SIZE - 1) & !(LEAF_SIZE - 1)) + 2 * LEAF_SIZE;
    let make = |e: &mut dyn KernelMap| -> pgtable::Result<[Vec<u64>; 4]> {
        Ok(match s {
            Scenario::VmallocNewSlot => {
                let frames: Vec<PhysAddr> =
                    (0..4).map(|i| PhysAddr(block + i * PAGE_SIZE)).collect();
                let va = e.vmap(&frames)?.0;
                let t = alloc::vec![va + PAGE_SIZE, va, va + 4 * PAGE_SIZE - 4];
                [t.clone(), t.clone(), t.clone(), t]
            }
            Scenario::Ioremap => {
                let va = e.ioremap(HPET, 0x400)?.0;
                let t = alloc::vec![va + 0xf0, va];
                [t.clone(), t.clone(), t.clone(), t]
            }
            Scenario::Percpu => {
                let frames: Vec<u64> = (0..UNITS * UNIT_PAGES)
                    .map(|i| block + i * PAGE_SIZE)
                    .collect();
                percpu_chunk(e, percpu_base, &frames)?;
                let unit = UNIT_PAGES * PAGE_SIZE;
                core::array::from_fn(|cpu| alloc::vec![percpu_base + cpu as u64 * unit + 0x100])
            }
        })
    };
    let mut kernel = m.pt.kernel();
    if new {
        let (r, report) = kernel.edit(|e| make(e));
        Ok((r.map_err(|e| format!("edit: {e:?}"))?, Some(report)))
    } else {
        // SAFETY: the old code path on purpose: processes made before miss
        // the new PMD entry until `vmalloc_fault()` copies it; the touches
        // from their roots are probes, whose #PF is recovered.
        let r = unsafe { kernel.legacy_edit(|e| make(e)) };
        Ok((r.map_err(|e| format!("legacy edit: {e:?}"))?, None))
    }
}
