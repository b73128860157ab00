//! The kernel edit guard: every change of kernel mappings goes through it.

use super::args::{check_phys, check_prot, check_range, Half};
use super::kernel::KernelSpace;
use super::SyncPolicy;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::mask::SyncMask;
use crate::memory::TableMemory;
use crate::pgalloc::{Populate, PteTable, Side, Tracker};
use crate::prot::{CacheMode, Prot};
use crate::tables::EntryPtr;
use crate::vmalloc::map::{map_range, MapCtx, Source};
use crate::vmalloc::unmap::{unmap_range, Pass};

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
    ks: &'k mut KernelSpace<'a, A, M>,
    side: Side,
    tracker: Tracker,
    finished: bool,
    allow_wx: bool,
}

impl<'k, 'a, A: Arch, M: TableMemory> KernelEdit<'k, 'a, A, M> {
    pub(crate) fn new(ks: &'k mut KernelSpace<'a, A, M>, side: Side) -> Self {
        KernelEdit {
            ks,
            side,
            tracker: Tracker::default(),
            finished: false,
            allow_wx: false,
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

    fn check_kernel_prot(&self, prot: Prot) -> Result<()> {
        check_prot(Half::Kernel, prot)?;
        let wx = crate::prot::Access::WRITE | crate::prot::Access::EXEC;
        if !self.allow_wx && prot.access.contains(wx) {
            return Err(Error::WriteAndExecute);
        }
        Ok(())
    }

    fn populate(&self) -> Populate<'a, A, M> {
        Populate {
            t: self.ks.pt.tables(),
            side: self.side,
            tracker: self.tracker,
        }
    }

    fn top_level(&self) -> Level {
        self.ks.pt.arch().top_level()
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
        let r = map_range(&mut cx, self.ks.root(), end, Some(self.top_level()));
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
        let (root, keep) = (self.ks.root(), Some(self.top_level()));
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
        let len = (last | (PAGE_SIZE - 1)) - base.0 + 1;
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
        check_range(
            &arch,
            Half::Kernel,
            start,
            last.0.wrapping_sub(start.0).wrapping_add(1) & !(PAGE_SIZE - 1),
        )?;
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

    /// `pgd_offset_k()`: the kernel root's entry for `va`.
    pub fn pgd_offset(&self, va: VirtAddr) -> EntryPtr {
        self.ks.pt.tables().pgd_offset(self.ks.root(), va.0)
    }

    /// `p4d_offset()` … `pte_offset_kernel()`: the entry of `level` below
    /// `parent` (the entry of the level above); `None` if `parent` holds no
    /// table.
    pub fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
        self.ks.pt.tables().offset(level, parent, va.0)
    }

    /// Decode the entry `e` of `level`.
    pub fn entry(&self, level: Level, e: EntryPtr) -> Decoded {
        let t = self.ks.pt.tables();
        if t.arch.is_passthrough(level) {
            return Decoded::Table(PhysAddr(e.0 .0 & !(PAGE_SIZE - 1)));
        }
        t.decode(level, e)
    }

    /// Allocate a zeroed table frame (`p4d_alloc_one()` … `pte_alloc_one_kernel()`).
    pub fn alloc_table(&mut self) -> Result<PhysAddr> {
        self.ks.pt.mem().alloc_table()
    }

    fn populate_at(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: PhysAddr,
    ) -> Result<()> {
        check_range(
            self.ks.pt.arch(),
            Half::Kernel,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        let mut pop = self.populate();
        pop.populate(level, addr.0, e, table);
        self.tracker = pop.tracker;
        Ok(())
    }

    /// `pgd_populate_kernel()`: point the kernel PGD entry `pgd` (for `addr`)
    /// at the P4D table `p4d`, and record `PGTBL_PGD_MODIFIED`.
    pub fn pgd_populate_kernel(
        &mut self,
        addr: VirtAddr,
        pgd: EntryPtr,
        p4d: PhysAddr,
    ) -> Result<()> {
        self.populate_at(Level::Pgd, addr, pgd, p4d)
    }

    /// `p4d_populate_kernel()`: point `p4d` at the PUD table `pud`, and
    /// record `PGTBL_P4D_MODIFIED`.
    pub fn p4d_populate_kernel(
        &mut self,
        addr: VirtAddr,
        p4d: EntryPtr,
        pud: PhysAddr,
    ) -> Result<()> {
        self.populate_at(Level::P4d, addr, p4d, pud)
    }

    /// `pud_populate_kernel()`: point `pud` at the PMD table `pmd`, and
    /// record `PGTBL_PUD_MODIFIED`.
    pub fn pud_populate_kernel(
        &mut self,
        addr: VirtAddr,
        pud: EntryPtr,
        pmd: PhysAddr,
    ) -> Result<()> {
        self.populate_at(Level::Pud, addr, pud, pmd)
    }

    /// `pmd_populate_kernel()`: point `pmd` at the kernel PTE table `pte`,
    /// and record `PGTBL_PMD_MODIFIED`.
    pub fn pmd_populate_kernel(
        &mut self,
        addr: VirtAddr,
        pmd: EntryPtr,
        pte: PteTable,
    ) -> Result<()> {
        self.populate_at(Level::Pmd, addr, pmd, pte.0)
    }

    /// `p4d_alloc_track()` … `pte_alloc_kernel_track()`: the entry of the
    /// level below `level` for `addr`, allocating its table when `e` (an
    /// entry of `level`) is none and recording `level` in the mask.
    pub fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<EntryPtr> {
        check_range(
            self.ks.pt.arch(),
            Half::Kernel,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        let mut pop = self.populate();
        let r = pop.alloc_track(level, e, addr.0);
        self.tracker = pop.tracker;
        r
    }

    /// `set_pte()` / `set_pmd()` / `set_pud()` of a kernel leaf at `e` (an
    /// entry of `level` for `addr`), which must be empty.
    pub fn set_leaf(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        pa: PhysAddr,
        prot: Prot,
    ) -> Result<()> {
        let t = self.ks.pt.tables();
        let size = t.arch.level_size(level);
        check_range(t.arch, Half::Kernel, VirtAddr(addr.0 & !(size - 1)), size)?;
        check_phys(t.arch, pa, size)?;
        self.check_kernel_prot(prot)?;
        if t.arch.is_passthrough(level) || !t.arch.leaf_allowed(level) || !pa.is_aligned(size) {
            return Err(Error::Misaligned(pa.0));
        }
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
        t.write(e, t.arch.encode_leaf(level, pa, prot));
        let mut pop = self.populate();
        pop.note(level, addr.0);
        self.tracker = pop.tracker;
        Ok(())
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

/// A kernel edit written as before Linux 6.17: the plain populate helpers,
/// no mask, no sync. Made by the `unsafe`
/// [`KernelSpace::legacy_edit`]; only the historical scenarios use it.
pub struct LegacyEdit<'k, 'a, A: Arch, M: TableMemory>(pub(crate) KernelEdit<'k, 'a, A, M>);

impl<A: Arch, M: TableMemory> LegacyEdit<'_, '_, A, M> {
    /// As [`KernelEdit::vmap_range`], without recording or syncing.
    pub fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page_shift: u32,
    ) -> Result<()> {
        self.0.vmap_range(va, pa, size, prot, max_page_shift)
    }

    /// As [`KernelEdit::vmap_pages`], without recording or syncing.
    pub fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        self.0.vmap_pages(va, frames, prot)
    }

    /// As [`KernelEdit::vunmap_range`], without recording or syncing.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<()> {
        self.0.vunmap_range(va, size)
    }

    /// `pgd_populate(&init_mm, …)` / `p4d_populate(&init_mm, …)` and the
    /// lower levels: write the table entry and nothing else.
    pub fn populate(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: PhysAddr,
    ) -> Result<()> {
        self.0.populate_at(level, addr, e, table)
    }

    /// As [`KernelEdit::pgd_offset`].
    pub fn pgd_offset(&self, va: VirtAddr) -> EntryPtr {
        self.0.pgd_offset(va)
    }

    /// As [`KernelEdit::offset`].
    pub fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
        self.0.offset(level, parent, va)
    }

    /// As [`KernelEdit::alloc_track`], without recording.
    pub fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<EntryPtr> {
        self.0.alloc_track(level, e, addr)
    }

    /// As [`KernelEdit::set_leaf`], without recording.
    pub fn set_leaf(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        pa: PhysAddr,
        prot: Prot,
    ) -> Result<()> {
        self.0.set_leaf(level, addr, e, pa, prot)
    }

    /// As [`KernelEdit::vmap`], without recording or syncing.
    pub fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr> {
        self.0.vmap(frames, prot)
    }

    /// As [`KernelEdit::vunmap`], without recording or syncing.
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<()> {
        self.0.vunmap(va)
    }

    /// As [`KernelEdit::ioremap`], without recording or syncing.
    pub fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> Result<VirtAddr> {
        self.0.ioremap(pa, size, cache)
    }

    /// As [`KernelEdit::entry`].
    pub fn entry(&self, level: Level, e: EntryPtr) -> Decoded {
        self.0.entry(level, e)
    }

    /// As [`KernelEdit::alloc_table`].
    pub fn alloc_table(&mut self) -> Result<PhysAddr> {
        self.0.alloc_table()
    }
}
