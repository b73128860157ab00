//! The CPU entry area (`arch/x86/mm/cpu_entry_area.c`): per-CPU GDT, TSS
//! and entry stacks at a fixed kernel address, the one part of the kernel a
//! PTI user-mode root maps.

use super::Kernel;
use crate::era::{Era, User};
use crate::vocab::SimError;
use pgtable::arch::RegionKind;
use pgtable::{Prot, VirtAddr};

/// Bytes of the entry area reserved per CPU here.
pub const CEA_STRIDE: u64 = 64 << 10;
/// Pages mapped per CPU.
pub const CEA_PAGES: usize = 4;

impl Kernel<'_> {
    /// `setup_cpu_entry_area(cpu)`: map `CEA_PAGES` fresh pages at the CPU's
    /// slice of the entry area; returns its address.
    pub fn cpu_entry_area_map(&mut self, era: impl Into<Era>, cpu: usize) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::CpuEntryArea);
        let base = pgtable::KernelPolicy::layout(&self.m.arch)
            .get(RegionKind::CpuEntryArea)
            .map_or(0, |r| r.start);
        let va = base + cpu as u64 * CEA_STRIDE;
        let frames = (0..CEA_PAGES)
            .map(|_| self.state().alloc_frame())
            .collect::<Result<Vec<_>, _>>()?;
        if let Err(e) = self.edit(how, |e| e.vmap_pages(VirtAddr(va), &frames, Prot::KERNEL)) {
            for f in frames {
                self.state().free_frame(f);
            }
            return Err(e.into());
        }
        self.state()
            .note_mapped(va, CEA_PAGES as u64 * 4096, "cpu entry area");
        self.state().vm_frames.borrow_mut().insert(va, frames);
        Ok(va)
    }
}
