//! The calls the populating users make on an edit of init_mm, the same for
//! the tracked edit and the legacy one.

use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Refused, Result};
use crate::memory::TableMemory;
use crate::prot::{CacheMode, Prot};
use crate::space::handle::{KernelTable, SharedTable};
use crate::tlb::TlbFlush;
use crate::walk::tables::EntryPtr;
use lock_api::RawMutex;

/// An edit of the kernel's page tables: [`KernelEdit`](crate::KernelEdit)
/// of either policy, [`Tracked`](crate::Tracked) (Linux 6.17's
/// `*_populate_kernel()`, synced when the edit ends) or
/// [`Legacy`](crate::Legacy) ([`LegacyEdit`](crate::LegacyEdit): the plain
/// `pXd_populate(&init_mm, …)` of earlier kernels, never synced).
///
/// The memory-hotplug, vmemmap, KASAN and percpu functions of
/// [`mm`](crate::mm) take any editor, so the same code populates the tables
/// whichever edit runs it; only what happens when the edit ends differs.
/// Each method is the edit's method of the same name. The trait is
/// object-safe, so a caller that picks the edit at run time can hold a
/// `&mut dyn KernelEditor`.
pub trait KernelEditor<'a, A: Arch, M: TableMemory> {
    /// The edit's lock type (see [`PageTables::with_lock`](crate::PageTables::with_lock)).
    type Lock: RawMutex + 'static;
    /// The paging mode being edited.
    fn arch(&self) -> &A;
    /// `vmap_range()`: see [`KernelEdit::vmap_range`](crate::KernelEdit::vmap_range).
    fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page: crate::PageSize,
    ) -> Result<()>;
    /// `vmap_pages_range()`: see [`KernelEdit::vmap_pages`](crate::KernelEdit::vmap_pages).
    fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()>;
    /// `vunmap_range()`: see [`KernelEdit::vunmap_range`](crate::KernelEdit::vunmap_range).
    fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush>;
    /// `vmap()`: see [`KernelEdit::vmap`](crate::KernelEdit::vmap).
    fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr>;
    /// `vunmap()` / `vfree()` / `iounmap()`: see
    /// [`KernelEdit::vunmap`](crate::KernelEdit::vunmap).
    fn vunmap(&mut self, va: VirtAddr) -> Result<TlbFlush>;
    /// `ioremap_prot()`: see [`KernelEdit::ioremap`](crate::KernelEdit::ioremap).
    fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> Result<VirtAddr>;
    /// `pgd_offset_k()`: see [`KernelEdit::pgd_offset`](crate::KernelEdit::pgd_offset).
    fn pgd_offset(&self, va: VirtAddr) -> EntryPtr;
    /// `p4d_offset()` … `pte_offset_kernel()`: see
    /// [`KernelEdit::offset`](crate::KernelEdit::offset).
    fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr>;
    /// Decode an entry: see [`KernelEdit::entry`](crate::KernelEdit::entry).
    fn entry(&self, level: Level, e: EntryPtr) -> Decoded;
    /// Whether `table` is a [`SharedTable`] of these page tables: linked
    /// under many entries, never written or unmapped through.
    fn is_shared(&self, table: PhysAddr) -> bool;
    /// `p4d_alloc_track()` … `pte_alloc_kernel_track()`: see
    /// [`KernelEdit::alloc_track`](crate::KernelEdit::alloc_track).
    fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<EntryPtr>;
    /// `set_pte()` … `set_pud()` of a kernel leaf: see
    /// [`KernelEdit::set_leaf`](crate::KernelEdit::set_leaf).
    fn set_leaf(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        pa: PhysAddr,
        prot: Prot,
    ) -> Result<()>;
    /// `pte_alloc_one_kernel()` …: see
    /// [`KernelEdit::alloc_table`](crate::KernelEdit::alloc_table).
    fn alloc_table(&mut self, level: Level) -> Result<KernelTable<'a, A, M, Self::Lock>>;
    /// Make a table shared: see [`KernelEdit::share`](crate::KernelEdit::share).
    fn share(
        &mut self,
        table: KernelTable<'a, A, M, Self::Lock>,
    ) -> core::result::Result<SharedTable, Refused<KernelTable<'a, A, M, Self::Lock>>>;
    /// Link a shared table: see
    /// [`KernelEdit::populate_shared`](crate::KernelEdit::populate_shared).
    fn populate_shared(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: SharedTable,
    ) -> Result<()>;
}
