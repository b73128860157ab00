//! The vmalloc calls of a kernel edit (`mm/vmalloc.c`, `mm/ioremap.c`),
//! written once for both policies; the work is the vmalloc layer's.

use super::edit::KernelEdit;
use super::policy::EditPolicy;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Arch;
use crate::error::Result;
use crate::memory::TableMemory;
use crate::page_size::PageSize;
use crate::prot::{CacheMode, Prot};
use crate::tlb::TlbFlush;
use lock_api::RawMutex;

impl<A: Arch, M: TableMemory, L: RawMutex, P: EditPolicy> KernelEdit<'_, '_, A, M, L, P> {
    /// `vmap_range()`: map `va..va+size` to the contiguous physical range at
    /// `pa`, with leaves up to `max_page` where alignment allows
    /// ([`PageSize::Base`]: base pages only; [`PageSize::Pmd`]: also 2 MiB,
    /// or the mode's first huge leaf; [`PageSize::Pud`]: also 1 GiB).
    pub fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page: PageSize,
    ) -> Result<()> {
        let shift = max_page.shift(self.ks.pt.arch());
        self.vmalloc().vmap_range_shift(va, pa, size, prot, shift)
    }

    /// `vmap_pages_range()`: map one frame per base page from `va`. Frames
    /// may repeat (the tail pages of a compound page share one).
    pub fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        self.vmalloc().vmap_pages(va, frames, prot)
    }

    /// `vunmap_range()`: unmap `va..va+size`, which must be mapped in full
    /// and split no huge leaf; page-table pages left empty below the top
    /// level are freed. Returns the `flush_tlb_kernel_range()` the caller
    /// owes before reusing the frames; a refused call changes nothing and
    /// owes none.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
        self.vmalloc().vunmap_range(va, size)
    }

    /// `vmap()`: find a free range in the vmalloc area and map `frames`
    /// there.
    pub fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr> {
        self.vmalloc().vmap(frames, prot)
    }

    /// `vunmap()` / `vfree()` / `iounmap()`: unmap the area that `vmap` or
    /// `ioremap` returned at `va` and release its range; returns the flush
    /// owed, as [`vunmap_range`](Self::vunmap_range).
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<TlbFlush> {
        self.vmalloc().vunmap(va)
    }

    /// `ioremap_prot()`: map device memory `pa..pa+size` (any alignment)
    /// with a cache mode; returns the address of `pa`. The area is aligned
    /// so the largest leaf that fits can be used.
    pub fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> Result<VirtAddr> {
        self.vmalloc().ioremap(pa, size, cache)
    }
}
