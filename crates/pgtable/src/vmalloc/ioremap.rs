//! `ioremap_prot()` (`mm/ioremap.c`): device memory at any alignment, in
//! an area aligned for the largest leaf that fits.

use super::Vmalloc;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::check_phys;
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::{CacheMode, Prot};

impl<A: Arch, M: TableMemory + ?Sized> Vmalloc<'_, A, M> {
    /// Map `pa..pa+size` with a cache mode; returns the address of `pa`.
    pub fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> Result<VirtAddr> {
        if size == 0 {
            return Err(Error::EmptyRange);
        }
        let offset = pa.0 & (PAGE_SIZE - 1);
        let last = pa.0.checked_add(size - 1).ok_or(Error::Wraps)?;
        let base = PhysAddr(pa.0 - offset);
        let end = (last | (PAGE_SIZE - 1))
            .checked_add(1)
            .ok_or(Error::PhysTooLarge(base))?;
        let len = end - base.0;
        let arch = *self.pop.t.arch;
        check_phys(&arch, base, len)?;
        let shift = [Level::Pud, Level::Pmd]
            .into_iter()
            .filter(|l| !arch.is_passthrough(*l) && arch.leaf_allowed(*l))
            .map(|l| arch.level_shift(l))
            .find(|s| len >= 1 << s && base.is_aligned(1 << s))
            .unwrap_or(12);
        let va = self
            .areas
            .alloc(len, 1 << shift)
            .ok_or(Error::NoVirtualSpace)?;
        let prot = Prot::KERNEL.with_cache(cache);
        let r = self.vmap_range_shift(VirtAddr(va), base, len, prot, shift);
        if r.is_err() {
            self.areas.free(va);
        }
        r.map(|()| VirtAddr(va + offset))
    }
}
