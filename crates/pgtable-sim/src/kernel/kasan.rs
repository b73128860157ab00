//! The KASAN shadow (`mm/kasan/init.c`), through the library's
//! `pgtable::mm::kasan`: the early shadow links the shared zero tables,
//! built once and kept by the machine; real shadow is mapped with fresh
//! pages where it is needed.

use super::Kernel;
use crate::era::{Era, Populate, User};
use crate::vocab::SimError;
use pgtable::mm::{kasan_populate_early_shadow, KasanEarlyShadow};
use pgtable::{Prot, VirtAddr};

impl Kernel<'_> {
    fn kasan_zero_tables(&mut self, how: Populate) -> Result<KasanEarlyShadow, SimError> {
        if let Some(z) = self.state().kasan_zero.borrow().clone() {
            return Ok(z);
        }
        let page = self.state().alloc_frame()?;
        let z = self.edit(how, |e| KasanEarlyShadow::new(e, page))?;
        *self.state().kasan_zero.borrow_mut() = Some(z.clone());
        Ok(z)
    }

    /// `kasan_populate_early_shadow()` / `kasan_add_zero_shadow()`: make
    /// the shadow of `start..end` read as zero. Returns the top-level slots
    /// populated.
    pub fn kasan_zero_shadow(
        &mut self,
        era: impl Into<Era>,
        start: u64,
        end: u64,
    ) -> Result<usize, SimError> {
        let how = self.how(era.into(), User::KasanShadow);
        let z = self.kasan_zero_tables(how)?;
        let (s, e) = (
            self.m.layout.shadow(start),
            self.m.layout.shadow(end - 1) + 1,
        );
        let n = self.edit(how, |ed| {
            kasan_populate_early_shadow(ed, &z, VirtAddr(s), VirtAddr(e))
        })?;
        self.state()
            .note_mapped(s & !0xfff, 4096, "KASAN zero shadow");
        Ok(n)
    }

    /// Real shadow for `start..end` (`kasan_populate_vmalloc()`,
    /// `kasan_init()`'s shadow of memory): fresh zeroed pages.
    pub fn kasan_populate_shadow(
        &mut self,
        era: impl Into<Era>,
        start: u64,
        end: u64,
    ) -> Result<u64, SimError> {
        let how = self.how(era.into(), User::KasanShadow);
        let s = self.m.layout.shadow(start) & !0xfff;
        let e = (self.m.layout.shadow(end - 1) | 0xfff) + 1;
        let frames = (s..e)
            .step_by(4096)
            .map(|_| self.state().alloc_frame())
            .collect::<Result<Vec<_>, _>>()?;
        self.edit(how, |ed| ed.vmap_pages(VirtAddr(s), &frames, Prot::KERNEL))?;
        self.state().note_mapped(s, e - s, "KASAN shadow");
        self.state().vm_frames.borrow_mut().insert(s, frames);
        Ok(s)
    }
}
