//! [`KernelEditor`] for the kernel edit of either policy: each call is the
//! edit's own method, so the `mm` users behave the same on either.

use super::KernelEditor;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Refused, Result};
use crate::memory::TableMemory;
use crate::page_size::PageSize;
use crate::prot::{CacheMode, Prot};
use crate::space::EditPolicy;
use crate::space::KernelEdit;
use crate::space::{KernelTable, SharedTable};
use crate::tlb::TlbFlush;
use crate::walk::tables::EntryPtr;
use lock_api::RawMutex;

impl<'a, A: Arch, M: TableMemory, L: RawMutex + 'static, P: EditPolicy> KernelEditor<'a, A, M>
    for KernelEdit<'_, 'a, A, M, L, P>
{
    type Lock = L;
    fn arch(&self) -> &A {
        self.tables().arch()
    }
    fn vmap_range(
        &mut self,
        va: VirtAddr,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        max_page: PageSize,
    ) -> Result<()> {
        KernelEdit::vmap_range(self, va, pa, size, prot, max_page)
    }
    fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
        KernelEdit::vmap_pages(self, va, frames, prot)
    }
    fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
        KernelEdit::vunmap_range(self, va, size)
    }
    fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> Result<VirtAddr> {
        KernelEdit::vmap(self, frames, prot)
    }
    fn vunmap(&mut self, va: VirtAddr) -> Result<TlbFlush> {
        KernelEdit::vunmap(self, va)
    }
    fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> Result<VirtAddr> {
        KernelEdit::ioremap(self, pa, size, cache)
    }
    fn pgd_offset(&self, va: VirtAddr) -> EntryPtr {
        KernelEdit::pgd_offset(self, va)
    }
    fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
        KernelEdit::offset(self, level, parent, va)
    }
    fn entry(&self, level: Level, e: EntryPtr) -> Decoded {
        KernelEdit::entry(self, level, e)
    }
    fn is_shared(&self, table: PhysAddr) -> bool {
        self.tables().shared().contains(table)
    }
    fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<EntryPtr> {
        KernelEdit::alloc_track(self, level, e, addr)
    }
    fn set_leaf(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        pa: PhysAddr,
        prot: Prot,
    ) -> Result<()> {
        KernelEdit::set_leaf(self, level, addr, e, pa, prot)
    }
    fn alloc_table(&mut self, level: Level) -> Result<KernelTable<'a, A, M, L>> {
        KernelEdit::alloc_table(self, level)
    }
    fn share(
        &mut self,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<SharedTable, Refused<KernelTable<'a, A, M, L>>> {
        KernelEdit::share(self, table)
    }
    fn populate_shared(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: SharedTable,
    ) -> Result<()> {
        KernelEdit::populate_shared(self, level, addr, e, table)
    }
}
