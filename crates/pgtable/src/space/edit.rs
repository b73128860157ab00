//! The kernel edit guard: every change of kernel mappings goes through it.

use super::args::{check_phys, check_prot, check_range, Half};
use super::kernel::KernelSpace;
use super::SyncPolicy;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::{Error, Result};
use crate::mask::SyncMask;
use crate::memory::TableMemory;
use crate::pgalloc::{Populate, Side, Tracker};
use crate::prot::{CacheMode, Prot};
use crate::vmalloc::map::{map_range, MapCtx, Source};
use crate::vmalloc::unmap::{unmap_range, Pass};
use alloc::vec::Vec;

/// What finishing an edit did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct SyncReport {
    /// Levels the edit modified (`pgtbl_mod_mask`).
    pub mask: SyncMask,
    /// The range handed to the sync, if the mask met the architecture's.
    pub range: Option<(VirtAddr, VirtAddr)>,
    /// Whether the sync ran (it does not under [`SyncPolicy::Lazy`]).
    pub synced: bool,
}

/// A change of kernel mappings in progress.
///
/// It holds the kernel space mutably, records in a [`SyncMask`] each level
/// its populate helpers (`*_populate_kernel`) and walks touch, and when it
/// is finished or dropped runs the architecture's sync once over the
/// touched range if the mask meets `ARCH_PAGE_TABLE_SYNC_MASK`. Failed calls
/// leave their populated tables in the mask, so they are synced too.
pub struct KernelEdit<'k, 'a, A: Arch, M: TableMemory> {
    pub(super) ks: &'k mut KernelSpace<'a, A, M>,
    side: Side,
    pub(super) tracker: Tracker,
    finished: bool,
    allow_wx: bool,
    /// Tables this edit allocated with `alloc_table` (address, bytes): the
    /// raw helpers may write their entries before they are linked in.
    pub(super) fresh: Vec<(PhysAddr, u64)>,
}

impl<'k, 'a, A: Arch, M: TableMemory> KernelEdit<'k, 'a, A, M> {
    pub(crate) fn new(ks: &'k mut KernelSpace<'a, A, M>, side: Side) -> Self {
        KernelEdit {
            ks,
            side,
            tracker: Tracker::default(),
            finished: false,
            allow_wx: false,
            fresh: Vec::new(),
        }
    }

    /// Let this edit map kernel memory that is both writable and
    /// executable (`PAGE_KERNEL_EXEC`: early boot code, some JITs). Without
    /// it such a request is refused with [`Error::WriteAndExecute`], so every
    /// W+X kernel mapping is an explicit, greppable decision.
    pub fn allow_write_exec(&mut self) -> &mut Self {
        self.allow_wx = true;
        self
    }

    pub(super) fn check_kernel_prot(&self, prot: Prot) -> Result<()> {
        check_prot(Half::Kernel, prot)?;
        let wx = crate::prot::Access::WRITE | crate::prot::Access::EXEC;
        if !self.allow_wx && prot.access.contains(wx) {
            return Err(Error::WriteAndExecute);
        }
        Ok(())
    }

    pub(super) fn populate(&self) -> Populate<'a, A, M> {
        Populate {
            t: self.ks.pt.tables(),
            side: self.side,
            tracker: self.tracker,
        }
    }

    /// The deepest level whose entries an unmap never clears to free the
    /// table below: the root's. Under [`SyncPolicy::Lazy`] also the sync
    /// level, since nothing would clear the other spaces' copies of such an
    /// entry and they would keep pointing at a freed table (Linux's lazy
    /// `vmalloc_fault()` era never freed kernel page tables for this reason).
    fn keep_level(&self) -> Level {
        let arch = self.ks.pt.arch();
        let top = arch.top_level();
        match (self.ks.pt.policy(), arch.sync_method()) {
            (SyncPolicy::Lazy, crate::arch::SyncMethod::CopyEntries(l)) if l > top => l,
            _ => top,
        }
    }

    fn map(
        &mut self,
        va: VirtAddr,
        end: u64,
        src: Source<'_>,
        prot: Prot,
        max_shift: u32,
    ) -> Result<()> {
        let mut cx = MapCtx {
            pop: self.populate(),
            prot,
            max_shift,
            start: va.0,
            src,
            done: va.0,
        };
        let r = map_range(&mut cx, self.ks.root(), end, Some(self.keep_level()));
        self.tracker = cx.pop.tracker;
        r
    }

    /// `vmap_range()`: map `va..va+size` to the contiguous physical range at
    /// `pa`, with leaves up to `1 << max_page_shift` bytes where alignment
    /// allows (12: base pages only; 21: also 2 MiB; 30: also 1 GiB).
    pub fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page_shift: u32,
    ) -> Result<()> {
        let arch = self.ks.pt.arch();
        let end = check_range(arch, Half::Kernel, va, size)?;
        check_phys(arch, pa, size)?;
        self.check_kernel_prot(prot)?;
        self.map(va, end, Source::Contiguous(pa), prot, max_page_shift)
    }

    /// `vmap_pages_range()`: map one frame per base page from `va`. Frames
    /// may repeat (the tail pages of a compound page share one).
    pub fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        let arch = self.ks.pt.arch();
        let size = (frames.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(Error::Wraps)?;
        let end = check_range(arch, Half::Kernel, va, size)?;
        for &f in frames {
            check_phys(arch, f, PAGE_SIZE)?;
        }
        self.check_kernel_prot(prot)?;
        self.map(va, end, Source::Pages(frames), prot, 12)
    }

    /// `vunmap_range()`: unmap `va..va+size`, which must be mapped in full
    /// and split no huge leaf; page-table pages left empty below the top
    /// level are freed.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<()> {
        let pt = self.ks.pt;
        let end = check_range(pt.arch(), Half::Kernel, va, size)?;
        let (root, keep) = (self.ks.root(), Some(self.keep_level()));
        let mut pop = self.populate();
        unmap_range(&mut pop, root, va.0, end, keep, Pass::Check)?;
        unmap_range(&mut pop, root, va.0, end, keep, Pass::Clear)?;
        self.tracker = pop.tracker;
        Ok(())
    }

    /// `vmap()`: find a free range in the vmalloc area and map `frames`
    /// there.
    pub fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr> {
        let size = (frames.len() as u64)
            .checked_mul(PAGE_SIZE)
            .ok_or(Error::Wraps)?;
        if size == 0 {
            return Err(Error::EmptyRange);
        }
        let va = VirtAddr(
            self.ks
                .state
                .vmalloc
                .alloc(size, PAGE_SIZE)
                .ok_or(Error::NoVirtualSpace)?,
        );
        let r = self.vmap_pages(va, frames, prot);
        if r.is_err() {
            self.ks.state.vmalloc.free(va.0);
        }
        r.map(|()| va)
    }

    /// `vunmap()` / `vfree()` / `iounmap()`: unmap the area that `vmap` or
    /// `ioremap` returned at `va` and release its range.
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<()> {
        let base = va.0 & !(PAGE_SIZE - 1);
        let size = self
            .ks
            .state
            .vmalloc
            .size_of(base)
            .ok_or(Error::NotMapped(va))?;
        self.vunmap_range(VirtAddr(base), size)?;
        self.ks.state.vmalloc.free(base);
        Ok(())
    }

    /// `ioremap_prot()`: map device memory `pa..pa+size` (any alignment)
    /// with a cache mode; returns the address of `pa`. The area is aligned
    /// so the largest leaf that fits can be used.
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
        check_phys(self.ks.pt.arch(), base, len)?;
        let arch = *self.ks.pt.arch();
        let shift = [Level::Pud, Level::Pmd]
            .into_iter()
            .filter(|l| !arch.is_passthrough(*l) && arch.leaf_allowed(*l))
            .map(|l| arch.level_shift(l))
            .find(|s| len >= 1 << s && base.is_aligned(1 << s))
            .unwrap_or(12);
        let va = self
            .ks
            .state
            .vmalloc
            .alloc(len, 1 << shift)
            .ok_or(Error::NoVirtualSpace)?;
        let prot = Prot::KERNEL.with_cache(cache);
        let r = self.vmap_range(VirtAddr(va), base, len, prot, shift);
        if r.is_err() {
            self.ks.state.vmalloc.free(va);
        }
        r.map(|()| VirtAddr(va + offset))
    }

    /// Populate every empty top-level kernel slot over `start..=last` with
    /// an empty table, so later edits there never change the top level
    /// (x86-64 `preallocate_vmalloc_pages()`, riscv
    /// `preallocate_pgd_pages_range()`). Returns the tables allocated.
    pub fn preallocate(&mut self, start: VirtAddr, last: VirtAddr) -> Result<usize> {
        let arch = *self.ks.pt.arch();
        for va in [start, last] {
            check_range(
                &arch,
                Half::Kernel,
                VirtAddr(va.0 & !(PAGE_SIZE - 1)),
                PAGE_SIZE,
            )?;
        }
        if last < start {
            return Err(Error::EmptyRange);
        }
        let top = arch.top_level();
        let step = arch.level_size(top);
        let before = self.ks.pt.mem().tables_in_use();
        let mut pop = self.populate();
        let mut va = start.0 & !(step - 1);
        let r = loop {
            let mut e = pop.t.pgd_offset(self.ks.root(), va);
            let mut r = Ok(());
            for level in Level::ALL.into_iter().take_while(|l| *l <= top) {
                match pop.alloc_track(level, e, va) {
                    Ok(next) => e = next,
                    Err(err) => {
                        r = Err(err);
                        break;
                    }
                }
            }
            if r.is_err() {
                break r;
            }
            match va.checked_add(step) {
                Some(n) if n <= last.0 => va = n,
                _ => break Ok(()),
            }
        };
        self.tracker = pop.tracker;
        r.map(|()| self.ks.pt.mem().tables_in_use() - before)
    }

    /// The levels modified so far.
    pub fn mask(&self) -> SyncMask {
        self.tracker.mask
    }

    fn complete(&mut self) -> SyncReport {
        self.finished = true;
        let pt = self.ks.pt;
        let range = self.tracker.needs_sync(pt.arch().sync_mask());
        let synced = range.is_some() && pt.policy() == SyncPolicy::Eager;
        if let (true, Some((start, last))) = (synced, range) {
            pt.sync_kernel_mappings(start, last);
        }
        SyncReport {
            mask: self.tracker.mask,
            range,
            synced,
        }
    }

    /// End the edit: sync if the mask requires it, and say what was done.
    pub fn finish(mut self) -> SyncReport {
        self.complete()
    }
}

impl<A: Arch, M: TableMemory> Drop for KernelEdit<'_, '_, A, M> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.complete();
        }
    }
}
