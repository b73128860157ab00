//! The percpu first chunk in page mode (`mm/percpu.c`), through the
//! library's `pgtable::mm::percpu`.

use super::Kernel;
use crate::era::{Era, User};
use crate::vocab::SimError;
use pgtable::mm::pcpu_page_first_chunk;
use pgtable::VirtAddr;

impl Kernel<'_> {
    /// Map a first chunk of `unit_pages` fresh pages per CPU at `base`, page
    /// by page (`pcpu_populate_pte()` each). Returns the unit size in bytes.
    pub fn percpu_first_chunk(
        &mut self,
        era: impl Into<Era>,
        base: u64,
        unit_pages: usize,
    ) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::Percpu);
        let units = self.m.cpu_count();
        let frames = (0..units * unit_pages)
            .map(|_| self.state().alloc_frame())
            .collect::<Result<Vec<_>, _>>()?;
        if let Err(e) = self.edit(how, |e| pcpu_page_first_chunk(e, VirtAddr(base), &frames)) {
            for f in frames {
                self.state().free_frame(f);
            }
            return Err(e.into());
        }
        let size = frames.len() as u64 * 4096;
        self.state().note_mapped(base, size, "percpu first chunk");
        self.state().vm_frames.borrow_mut().insert(base, frames);
        Ok(unit_pages as u64 * 4096)
    }
}
