//! The percpu first chunk in page mode (`mm/percpu.c`:
//! `pcpu_page_first_chunk()`, `pcpu_populate_pte()`), one of the callers the
//! Linux 6.17 patch converted to the kernel populate helpers.

use super::Kernel;
use crate::era::{Era, User};
use crate::machine::SimError;
use pgtable::{Level, Prot};

impl Kernel<'_> {
    /// Map a first chunk of `unit_pages` pages per CPU at `base` page by
    /// page, each walk populating missing levels as `pcpu_populate_pte()`
    /// does. Returns the unit size in bytes.
    pub fn percpu_first_chunk(
        &mut self,
        era: impl Into<Era>,
        base: u64,
        unit_pages: usize,
    ) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::Percpu);
        let units = self.m.cpu_count();
        let frames = (0..units * unit_pages)
            .map(|_| self.m.frames.borrow_mut().alloc())
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(how, |e| -> Result<(), SimError> {
            for (i, &frame) in frames.iter().enumerate() {
                let addr = base + i as u64 * 4096;
                let pgd = e.pgd_offset(addr);
                let p4d = e.alloc_track(Level::Pgd, pgd, addr)?;
                let pud = e.alloc_track(Level::P4d, p4d, addr)?;
                let pmd = e.alloc_track(Level::Pud, pud, addr)?;
                let pte = e.alloc_track(Level::Pmd, pmd, addr)?;
                e.set_leaf(Level::Pte, addr, pte, frame, Prot::KERNEL)?;
            }
            Ok(())
        })?;
        let size = frames.len() as u64 * 4096;
        self.m.note_mapped(base, size, "percpu first chunk");
        self.m.vm_frames.borrow_mut().insert(base, frames);
        Ok(unit_pages as u64 * 4096)
    }
}
