//! The kernel edit guard: every change of kernel mappings goes through it.

use super::args::{check_kernel_span, check_phys, check_prot, check_range, Half};
use super::kernel::KernelSpace;
use super::SyncPolicy;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level, SyncMethod};
use crate::error::{Error, Result};
use crate::mask::SyncMask;
use crate::memory::TableMemory;
use crate::page_size::PageSize;
use crate::pgalloc::{Populate, Side, Tracker};
use crate::prot::{CacheMode, Prot};
use crate::sync::DefaultLock;
use crate::tlb::{FlushRange, FlushScope, TlbFlush};
use crate::vmalloc::map::{map_range, MapCtx, Source};
use crate::vmalloc::unmap::{unmap_range, Pass};
use lock_api::RawMutex;

/// What the end of an edit did to keep every address space in sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct SyncReport {
    /// Levels the edit modified (`pgtbl_mod_mask`).
    pub mask: SyncMask,
    /// The range that needed a sync, if any.
    pub range: Option<(VirtAddr, VirtAddr)>,
    /// What was done about it.
    pub outcome: SyncOutcome,
    /// Top-level entries found present in some root and different from the
    /// kernel's: left as they were (Linux's `sync_global_pgds()` `BUG()`s
    /// there). Always 0 unless something wrote a root's kernel half behind
    /// the library's back; [`check`](Self::check) turns it into an error.
    pub mismatches: usize,
}

impl SyncReport {
    /// [`Error::SyncMismatch`] if the sync found a root whose top-level
    /// kernel entry differed from the kernel's (the `BUG_ON()` of
    /// `sync_global_pgds()`).
    pub fn check(&self) -> Result<()> {
        match self.mismatches {
            0 => Ok(()),
            n => Err(Error::SyncMismatch(n)),
        }
    }

    /// Whether entries were copied into the other roots (by the
    /// architecture's sync or by the top-level fallback).
    pub fn synced(&self) -> bool {
        matches!(
            self.outcome,
            SyncOutcome::Synced | SyncOutcome::CopiedTopLevel
        )
    }
}

/// How the end of an edit kept (or did not keep) the other roots in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// No level the architecture shares between roots changed.
    NotNeeded,
    /// The mask met `ARCH_PAGE_TABLE_SYNC_MASK` and
    /// `arch_sync_kernel_mappings()` ran over the range.
    Synced,
    /// The architecture never syncs because it preallocates the top level
    /// where the kernel maps (riscv64 `preallocate_pgd_pages_range()`), but
    /// this edit filled a top-level kernel entry outside those areas. Linux
    /// would leave older spaces without it; the library copied the
    /// top-level entries of the range into every root instead.
    CopiedTopLevel,
    /// A sync was needed and not run: [`SyncPolicy::Lazy`] leaves it to
    /// [`PageTables::sync_on_fault`](crate::PageTables::sync_on_fault).
    Deferred,
}

/// A change of kernel mappings in progress, lent to the closure given to
/// [`KernelSpace::edit`](crate::KernelSpace::edit).
///
/// It holds the kernel space mutably and records in a [`SyncMask`] each
/// level its populate helpers (`*_populate_kernel`) and walks touch. The
/// library owns it: when the closure returns, the library runs the
/// architecture's sync once over the touched range if the mask meets
/// `ARCH_PAGE_TABLE_SYNC_MASK`. The closure only ever holds a `&mut`, so no
/// code can leak the edit (`mem::forget`) and skip the sync. Failed calls
/// leave their populated tables in the mask, so they are synced too.
pub struct KernelEdit<'k, 'a, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pub(super) ks: &'k mut KernelSpace<'a, A, M, L>,
    side: Side,
    pub(super) tracker: Tracker,
    finished: bool,
    allow_wx: bool,
}

impl<'k, 'a, A: Arch, M: TableMemory, L: RawMutex> KernelEdit<'k, 'a, A, M, L> {
    pub(crate) fn new(ks: &'k mut KernelSpace<'a, A, M, L>, side: Side) -> Self {
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

    pub(super) fn check_kernel_prot(&self, prot: Prot) -> Result<()> {
        check_prot(Half::Kernel, prot)?;
        let wx = crate::prot::Access::WRITE | crate::prot::Access::EXEC;
        if !self.allow_wx && prot.access.contains(wx) {
            return Err(Error::WriteAndExecute);
        }
        Ok(())
    }

    /// A walk that records into `scratch`, not the edit's mask: for writes
    /// into a table not linked yet, which no root can see. Linking it
    /// records the level at which its subtree becomes visible, which is
    /// what the sync needs.
    pub(super) fn populate_unlinked<'s>(&self, scratch: &'s mut Tracker) -> Populate<'s, A, M>
    where
        'a: 's,
    {
        Populate {
            t: self.ks.pt.tables(),
            side: self.side,
            tracker: scratch,
        }
    }

    pub(super) fn populate(&mut self) -> Populate<'_, A, M> {
        let pt = self.ks.pt;
        Populate {
            t: pt.tables(),
            side: self.side,
            tracker: &mut self.tracker,
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
        let (root, keep) = (self.ks.root(), Some(self.keep_level()));
        let mut cx = MapCtx {
            pop: self.populate(),
            prot,
            max_shift,
            start: va.0,
            src,
            done: va.0,
        };
        map_range(&mut cx, root, end, keep)
    }

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
        self.vmap_range_shift(va, pa, size, prot, shift)
    }

    /// [`vmap_range`](Self::vmap_range) with the largest leaf as a shift
    /// (`ioremap()` picks the leaf that fits).
    fn vmap_range_shift(
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
        self.map(va, end, Source::Contiguous(pa), prot, max_page_shift)?;
        // A caller-chosen address in the vmalloc area: keep vmap/ioremap
        // off it (Linux callers reserve it with get_vm_area() first).
        self.ks.state.vmalloc.reserve_fixed(va.0, end);
        Ok(())
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
        self.map(va, end, Source::Pages(frames), prot, 12)?;
        // As for vmap_range (a no-op inside an area `vmap` reserved).
        self.ks.state.vmalloc.reserve_fixed(va.0, end);
        Ok(())
    }

    /// `vunmap_range()`: unmap `va..va+size`, which must be mapped in full
    /// and split no huge leaf; page-table pages left empty below the top
    /// level are freed. Returns the `flush_tlb_kernel_range()` the caller
    /// owes before reusing the frames; a refused call changes nothing and
    /// owes none.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
        let pt = self.ks.pt;
        let end = check_range(pt.arch(), Half::Kernel, va, size)?;
        let (root, keep) = (self.ks.root(), Some(self.keep_level()));
        let mut pop = self.populate();
        unmap_range(&mut pop, root, va.0, end, keep, Pass::Check)?;
        let cleared = unmap_range(&mut pop, root, va.0, end, keep, Pass::Clear)?;
        self.ks.state.vmalloc.release_fixed(va.0, end);
        Ok(TlbFlush::new(FlushRange {
            scope: FlushScope::Kernel,
            start: va,
            end: VirtAddr(end),
            stride: cleared.smallest_leaf.unwrap_or(Level::Pte),
            freed_tables: cleared.freed_tables,
        }))
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
    /// `ioremap` returned at `va` and release its range; returns the flush
    /// owed, as [`vunmap_range`](Self::vunmap_range).
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<TlbFlush> {
        let base = va.0 & !(PAGE_SIZE - 1);
        let size = self
            .ks
            .state
            .vmalloc
            .size_of(base)
            .ok_or(Error::NotMapped(va))?;
        let flush = self.vunmap_range(VirtAddr(base), size)?;
        self.ks.state.vmalloc.free(base);
        Ok(flush)
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
        let r = self.vmap_range_shift(VirtAddr(va), base, len, prot, shift);
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
        check_kernel_span(&arch, start, last)?;
        let top = arch.top_level();
        let step = arch.level_size(top);
        let mut made = 0;
        let root = self.ks.root();
        let mut pop = self.populate();
        let mut va = start.0 & !(step - 1);
        let r = loop {
            let mut e = pop.t.pgd_offset(root, va);
            let mut r = Ok(());
            for level in Level::ALL.into_iter().take_while(|l| *l <= top) {
                // Counted here, not as a difference of the memory's global
                // count, which other threads' edits change meanwhile.
                let empty = pop.t.none(level, e);
                match pop.alloc_track(level, e, va) {
                    Ok(next) => {
                        made += usize::from(empty);
                        e = next;
                    }
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
        r.map(|()| made)
    }

    /// The levels modified so far.
    pub fn mask(&self) -> SyncMask {
        self.tracker.mask
    }

    /// End the edit without a sync: only for boot preallocation in
    /// [`PageTables::with_policy`](super::PageTables::with_policy), before
    /// any address space exists.
    pub(crate) fn skip_sync_before_any_space(&mut self) {
        debug_assert_eq!(self.ks.pt.space_count(), 0);
        self.finished = true;
    }

    /// End the edit: sync if the mask requires it, and say what was done.
    pub(crate) fn complete(&mut self) -> SyncReport {
        self.finished = true;
        let pt = self.ks.pt;
        let arch = pt.arch();
        let top = arch.top_level();
        let (level, range, outcome) = match arch.sync_method() {
            SyncMethod::CopyEntries(level) => (
                level,
                self.tracker.needs_sync(arch.sync_mask()),
                SyncOutcome::Synced,
            ),
            // A new top-level entry where the architecture relies on boot
            // preallocation: copy it rather than leave older roots behind.
            SyncMethod::None
                if !arch.split_roots() && self.tracker.mask.contains(SyncMask::of(top)) =>
            {
                (
                    top,
                    self.tracker
                        .needs_sync(SyncMask::of(top) | arch.sync_mask()),
                    SyncOutcome::CopiedTopLevel,
                )
            }
            // Nothing to copy (split roots, or every root shares the tables
            // below the sync level): the architecture's sync is a no-op, as
            // Linux's `arch_sync_kernel_mappings()` returns at once with a
            // shared kernel PMD.
            SyncMethod::None => (
                top,
                self.tracker.needs_sync(arch.sync_mask()),
                SyncOutcome::Synced,
            ),
        };
        let mut mismatches = 0;
        let outcome = match range {
            None => SyncOutcome::NotNeeded,
            Some(_) if pt.policy() == SyncPolicy::Lazy => SyncOutcome::Deferred,
            Some((start, last)) => {
                if outcome == SyncOutcome::CopiedTopLevel
                    || matches!(arch.sync_method(), SyncMethod::CopyEntries(_))
                {
                    mismatches = pt.sync_level(level, start, last);
                }
                outcome
            }
        };
        SyncReport {
            mask: self.tracker.mask,
            range,
            outcome,
            mismatches,
        }
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> Drop for KernelEdit<'_, '_, A, M, L> {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.complete();
        }
    }
}
