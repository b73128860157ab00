//! `vmap_range()`, `vmap_pages_range()`, `vunmap_range()`, `vmap()` and
//! `vunmap()`: argument checks, the walk, and the vmalloc area's books.

use super::Vmalloc;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::{check_kernel_prot, check_phys, check_range, Half};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::tlb::{FlushRange, FlushScope, TlbFlush};
use crate::walk::map::{map_range, MapCtx, Source};
use crate::walk::unmap::unmap_checked;

impl<A: Arch, M: TableMemory + ?Sized> Vmalloc<'_, A, M> {
    fn map(
        &mut self,
        va: VirtAddr,
        end: u64,
        src: Source<'_>,
        prot: Prot,
        max_shift: u32,
    ) -> Result<()> {
        let (root, keep) = (self.root, Some(self.keep));
        let mut cx = MapCtx {
            pop: self.pop.reborrow(),
            prot,
            max_shift,
            start: va.0,
            src,
            done: va.0,
        };
        map_range(&mut cx, root, end, keep)
    }

    /// `vmap_range()` with the largest leaf as a shift (`ioremap()` picks
    /// the leaf that fits).
    pub fn vmap_range_shift(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page_shift: u32,
    ) -> Result<()> {
        let arch = self.pop.t.arch;
        let end = check_range(arch, Half::Kernel, va, size)?;
        check_phys(arch, pa, size)?;
        check_kernel_prot(prot, self.allow_wx)?;
        self.map(va, end, Source::Contiguous(pa), prot, max_page_shift)?;
        // A caller-chosen address in the vmalloc area: keep vmap/ioremap
        // off it (Linux callers reserve it with get_vm_area() first).
        self.areas.reserve_fixed(va.0, end);
        Ok(())
    }

    /// `vmap_pages_range()`: one frame per base page from `va`.
    pub fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        let arch = self.pop.t.arch;
        let size = (frames.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(Error::Wraps)?;
        let end = check_range(arch, Half::Kernel, va, size)?;
        for &f in frames {
            check_phys(arch, f, PAGE_SIZE)?;
        }
        check_kernel_prot(prot, self.allow_wx)?;
        self.map(va, end, Source::Pages(frames), prot, 12)?;
        // As for vmap_range (a no-op inside an area `vmap` reserved).
        self.areas.reserve_fixed(va.0, end);
        Ok(())
    }

    /// `vunmap_range()`: check the whole range is mapped and splits no
    /// leaf, then clear it; returns the flush owed.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
        let end = check_range(self.pop.t.arch, Half::Kernel, va, size)?;
        let (root, keep) = (self.root, Some(self.keep));
        let cleared = unmap_checked(&mut self.pop, root, va.0, end, keep)?;
        self.areas.release_fixed(va.0, end);
        Ok(TlbFlush::new(FlushRange {
            scope: FlushScope::Kernel,
            start: va,
            end: VirtAddr(end),
            stride: cleared.smallest_leaf.unwrap_or(Level::Pte),
            freed_tables: cleared.freed_tables,
        }))
    }

    /// `vmap()`: a free range of the vmalloc area, `frames` mapped there.
    pub fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr> {
        let size = (frames.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(Error::Wraps)?;
        if size == 0 {
            return Err(Error::EmptyRange);
        }
        let va = VirtAddr(
            self.areas
                .alloc(size, PAGE_SIZE)
                .ok_or(Error::NoVirtualSpace)?,
        );
        let r = self.vmap_pages(va, frames, prot);
        if r.is_err() {
            self.areas.free(va.0);
        }
        r.map(|()| va)
    }

    /// `vunmap()` / `vfree()` / `iounmap()`: unmap the area at `va` and
    /// release its range.
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<TlbFlush> {
        let base = va.0 & !(PAGE_SIZE - 1);
        let size = self.areas.size_of(base).ok_or(Error::NotMapped(va))?;
        let flush = self.vunmap_range(VirtAddr(base), size)?;
        self.areas.free(base);
        Ok(flush)
    }
}
