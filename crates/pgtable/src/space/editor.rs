//! [`KernelEditor`] for both kernel edits: each call forwards to the edit's
//! own method, so the `mm` users behave the same on either.

use super::edit::KernelEdit;
use super::legacy::LegacyEdit;
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Refused, Result};
use crate::handle::{KernelTable, SharedTable};
use crate::memory::TableMemory;
use crate::mm::KernelEditor;
use crate::prot::Prot;
use crate::tables::EntryPtr;
use crate::tlb::TlbFlush;
use lock_api::RawMutex;

macro_rules! forward {
    ($ty:ident, $inner:ident) => {
        impl<'a, A: Arch, M: TableMemory, L: RawMutex + 'static> KernelEditor<'a, A, M>
            for $ty<'_, 'a, A, M, L>
        {
            type Lock = L;
            fn arch(&self) -> &A {
                forward!(@edit $inner self).ks.pt.arch()
            }
            fn vmap_range(
                &mut self,
                va: VirtAddr,
                pa: PhysAddr,
                size: u64,
                prot: Prot,
                max_page: crate::PageSize,
            ) -> Result<()> {
                $ty::vmap_range(self, va, pa, size, prot, max_page)
            }
            fn vmap_pages(&mut self, va: VirtAddr, frames: &[PhysAddr], prot: Prot) -> Result<()> {
                $ty::vmap_pages(self, va, frames, prot)
            }
            fn vunmap_range(&mut self, va: VirtAddr, size: u64) -> Result<TlbFlush> {
                $ty::vunmap_range(self, va, size)
            }
            fn pgd_offset(&self, va: VirtAddr) -> EntryPtr {
                $ty::pgd_offset(self, va)
            }
            fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
                $ty::offset(self, level, parent, va)
            }
            fn entry(&self, level: Level, e: EntryPtr) -> Decoded {
                $ty::entry(self, level, e)
            }
            fn is_shared(&self, table: PhysAddr) -> bool {
                forward!(@edit $inner self).ks.pt.shared().contains(table)
            }
            fn alloc_track(
                &mut self,
                level: Level,
                e: EntryPtr,
                addr: VirtAddr,
            ) -> Result<EntryPtr> {
                $ty::alloc_track(self, level, e, addr)
            }
            fn set_leaf(
                &mut self,
                level: Level,
                addr: VirtAddr,
                e: EntryPtr,
                pa: PhysAddr,
                prot: Prot,
            ) -> Result<()> {
                $ty::set_leaf(self, level, addr, e, pa, prot)
            }
            fn alloc_table(&mut self, level: Level) -> Result<KernelTable<'a, A, M, L>> {
                $ty::alloc_table(self, level)
            }
            fn share(
                &mut self,
                table: KernelTable<'a, A, M, L>,
            ) -> core::result::Result<SharedTable, Refused<KernelTable<'a, A, M, L>>> {
                $ty::share(self, table)
            }
            fn populate_shared(
                &mut self,
                level: Level,
                addr: VirtAddr,
                e: EntryPtr,
                table: SharedTable,
            ) -> Result<()> {
                $ty::populate_shared(self, level, addr, e, table)
            }
        }
    };
    (@edit tracked $s:ident) => {
        $s
    };
    (@edit legacy $s:ident) => {
        $s.0
    };
}

forward!(KernelEdit, tracked);
forward!(LegacyEdit, legacy);
