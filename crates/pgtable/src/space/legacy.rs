//! The edit as kernels before Linux 6.17 wrote it, for the scenarios that
//! reproduce their bugs.

use super::edit::KernelEdit;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Refused, Result};
use crate::handle::{KernelTable, SharedTable};
use crate::memory::TableMemory;
use crate::prot::{CacheMode, Prot};
use crate::sync::DefaultLock;
use crate::tables::EntryPtr;
use lock_api::RawMutex;

/// A kernel edit written as before Linux 6.17: the plain populate helpers,
/// no mask, no sync. Lent by the `unsafe`
/// [`KernelSpace::legacy_edit`](crate::KernelSpace::legacy_edit); only the historical scenarios use it.
pub struct LegacyEdit<'k, 'a, A: Arch, M: TableMemory, L: RawMutex = DefaultLock>(
    pub(crate) KernelEdit<'k, 'a, A, M, L>,
);

impl<'a, A: Arch, M: TableMemory, L: RawMutex> LegacyEdit<'_, 'a, A, M, L> {
    /// As [`KernelEdit::vmap_range`], without recording or syncing.
    pub fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page: crate::PageSize,
    ) -> Result<()> {
        self.0.vmap_range(va, pa, size, prot, max_page)
    }

    /// As [`KernelEdit::vmap_pages`], without recording or syncing.
    pub fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        self.0.vmap_pages(va, frames, prot)
    }

    /// As [`KernelEdit::vunmap_range`], without recording or syncing.
    pub fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<crate::TlbFlush> {
        self.0.vunmap_range(va, size)
    }

    /// `pgd_populate(&init_mm, …)` / `p4d_populate(&init_mm, …)` and the
    /// lower levels: write the table entry and nothing else.
    pub fn populate(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.0.populate_at(level, addr, e, table)
    }

    /// As [`KernelEdit::populate_shared`], without recording.
    pub fn populate_shared(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: SharedTable,
    ) -> Result<()> {
        self.0.populate_shared(level, addr, e, table)
    }

    /// As [`KernelEdit::share`].
    pub fn share(
        &mut self,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<SharedTable, Refused<KernelTable<'a, A, M, L>>> {
        self.0.share(table)
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
    pub fn vunmap(&mut self, va: VirtAddr) -> Result<crate::TlbFlush> {
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
    pub fn alloc_table(&mut self, level: Level) -> Result<KernelTable<'a, A, M, L>> {
        self.0.alloc_table(level)
    }
}
