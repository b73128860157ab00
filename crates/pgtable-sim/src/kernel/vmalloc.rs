//! vmalloc, vfree and ioremap, from the library's vmalloc layer.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::vocab::SimError;
use pgtable::{CacheMode, PhysAddr, Prot, VirtAddr};

impl Kernel<'_> {
    /// `vmalloc()`: `pages` fresh frames mapped at a free vmalloc range.
    pub fn vmalloc(&mut self, era: impl Into<Era>, pages: usize) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::Vmalloc);
        let frames = (0..pages)
            .map(|_| self.state().alloc_frame())
            .collect::<Result<Vec<_>, _>>()?;
        match self.edit(how, |e| e.vmap(&frames, Prot::KERNEL)) {
            Ok(va) => {
                self.state()
                    .note_mapped(va.0, pages as u64 * 4096, "vmalloc");
                self.state().vm_frames.borrow_mut().insert(va.0, frames);
                Ok(va.0)
            }
            Err(e) => {
                for f in frames {
                    self.state().free_frame(f);
                }
                Err(e.into())
            }
        }
    }

    /// `vfree()`: unmap, flush every TLB, free the frames.
    pub fn vfree(&mut self, va: u64) -> Result<(), SimError> {
        let flush = self.edit(Populate::Tracked, |e| e.vunmap(VirtAddr(va)))?;
        self.m.flush_tlb(flush);
        self.state().note_unmapped(va);
        for f in self
            .state()
            .vm_frames
            .borrow_mut()
            .remove(&va)
            .unwrap_or_default()
        {
            self.state().free_frame(f);
        }
        Ok(())
    }

    /// `ioremap()`: map device memory uncached.
    pub fn ioremap(&mut self, era: impl Into<Era>, pa: u64, size: u64) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::Ioremap);
        let va = self.edit(how, |e| e.ioremap(PhysAddr(pa), size, CacheMode::Uncached))?;
        let base = va.0 & !0xfff;
        let len = ((pa & 0xfff) + size).next_multiple_of(4096);
        self.state().note_mapped(base, len, "ioremap");
        Ok(va.0)
    }

    /// `iounmap()`.
    pub fn iounmap(&mut self, va: u64) -> Result<(), SimError> {
        let flush = self.edit(Populate::Tracked, |e| e.vunmap(VirtAddr(va)))?;
        self.m.flush_tlb(flush);
        self.state().note_unmapped(va & !0xfff);
        Ok(())
    }
}
