//! The kernel code that populates kernel page tables, each user where
//! Linux's x86-64 memory map puts it.
//!
//! Every user takes the kernel [`Era`] it behaves as: per era and
//! architecture ([`Era::populate`]) its populate is plain (the `unsafe`
//! legacy edit: nothing synced when it ends) or tracked (the library's
//! edit, which syncs when it ends), and x86's late `sync_global_pgds()`
//! follows where that release had it ([`Era::late_sync`]).

mod cea;
mod directmap;
pub(crate) mod kasan;
mod percpu;
mod vmalloc;
mod vmemmap;

pub use vmemmap::Memmap;

use crate::arch::SimArch;
use crate::era::{Era, Populate};
use crate::machine::{Machine, SimError, Strategy};
use crate::report::FaultRecord;
use pgtable::{
    CacheMode, EntryPtr, KernelEdit, KernelSpace, KernelTable, LegacyEdit, Level, PhysAddr, Prot,
    SharedTable, SparseMemory, TlbFlush, VirtAddr,
};
use pgtable_mmu::Access;

/// The calls kernel users make, the same for old and new code.
pub(crate) trait Editor<'m> {
    fn vmap_range(
        &mut self,
        va: u64,
        pa: PhysAddr,
        size: u64,
        prot: Prot,
        shift: u32,
    ) -> pgtable::Result<()>;
    fn vmap_pages(&mut self, va: u64, frames: &[PhysAddr], prot: Prot) -> pgtable::Result<()>;
    fn vunmap_range(&mut self, va: u64, size: u64) -> pgtable::Result<TlbFlush>;
    fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> pgtable::Result<VirtAddr>;
    fn vunmap(&mut self, va: VirtAddr) -> pgtable::Result<TlbFlush>;
    fn ioremap(&mut self, pa: PhysAddr, size: u64, cache: CacheMode) -> pgtable::Result<VirtAddr>;
    fn pgd_offset(&self, va: u64) -> EntryPtr;
    fn offset(&self, level: Level, parent: EntryPtr, va: u64) -> Option<EntryPtr>;
    fn alloc_track(&mut self, level: Level, e: EntryPtr, va: u64) -> pgtable::Result<EntryPtr>;
    fn set_leaf(
        &mut self,
        level: Level,
        va: u64,
        e: EntryPtr,
        pa: PhysAddr,
        prot: Prot,
    ) -> pgtable::Result<()>;
    fn alloc_table(
        &mut self,
        level: Level,
    ) -> pgtable::Result<KernelTable<'m, SimArch, SparseMemory>>;
    fn is_none(&self, level: Level, e: EntryPtr) -> bool;
    /// Make a table shared (the KASAN early-shadow tables).
    fn share(
        &mut self,
        table: KernelTable<'m, SimArch, SparseMemory>,
    ) -> pgtable::Result<SharedTable>;
    /// `pXd_populate_kernel()` (new) or `pXd_populate(&init_mm, …)` (old)
    /// of a shared table.
    fn populate_shared(
        &mut self,
        level: Level,
        va: u64,
        e: EntryPtr,
        table: SharedTable,
    ) -> pgtable::Result<()>;
}

macro_rules! forward_editor {
    ($ty:ident) => {
        impl<'m> Editor<'m> for $ty<'_, 'm, SimArch, SparseMemory> {
            fn vmap_range(
                &mut self,
                va: u64,
                pa: PhysAddr,
                size: u64,
                prot: Prot,
                shift: u32,
            ) -> pgtable::Result<()> {
                $ty::vmap_range(self, VirtAddr(va), pa, size, prot, shift)
            }
            fn vmap_pages(
                &mut self,
                va: u64,
                frames: &[PhysAddr],
                prot: Prot,
            ) -> pgtable::Result<()> {
                $ty::vmap_pages(self, VirtAddr(va), frames, prot)
            }
            fn vunmap_range(&mut self, va: u64, size: u64) -> pgtable::Result<TlbFlush> {
                $ty::vunmap_range(self, VirtAddr(va), size)
            }
            fn vmap(&mut self, frames: &[PhysAddr], prot: Prot) -> pgtable::Result<VirtAddr> {
                $ty::vmap(self, frames, prot)
            }
            fn vunmap(&mut self, va: VirtAddr) -> pgtable::Result<TlbFlush> {
                $ty::vunmap(self, va)
            }
            fn ioremap(
                &mut self,
                pa: PhysAddr,
                size: u64,
                cache: CacheMode,
            ) -> pgtable::Result<VirtAddr> {
                $ty::ioremap(self, pa, size, cache)
            }
            fn pgd_offset(&self, va: u64) -> EntryPtr {
                $ty::pgd_offset(self, VirtAddr(va))
            }
            fn offset(&self, level: Level, parent: EntryPtr, va: u64) -> Option<EntryPtr> {
                $ty::offset(self, level, parent, VirtAddr(va))
            }
            fn alloc_track(
                &mut self,
                level: Level,
                e: EntryPtr,
                va: u64,
            ) -> pgtable::Result<EntryPtr> {
                $ty::alloc_track(self, level, e, VirtAddr(va))
            }
            fn set_leaf(
                &mut self,
                level: Level,
                va: u64,
                e: EntryPtr,
                pa: PhysAddr,
                prot: Prot,
            ) -> pgtable::Result<()> {
                $ty::set_leaf(self, level, VirtAddr(va), e, pa, prot)
            }
            fn alloc_table(
                &mut self,
                level: Level,
            ) -> pgtable::Result<KernelTable<'m, SimArch, SparseMemory>> {
                $ty::alloc_table(self, level)
            }
            fn is_none(&self, level: Level, e: EntryPtr) -> bool {
                $ty::entry(self, level, e) == pgtable::Decoded::None
            }
            fn share(
                &mut self,
                table: KernelTable<'m, SimArch, SparseMemory>,
            ) -> pgtable::Result<SharedTable> {
                Ok($ty::share(self, table)?)
            }
            fn populate_shared(
                &mut self,
                level: Level,
                va: u64,
                e: EntryPtr,
                table: SharedTable,
            ) -> pgtable::Result<()> {
                $ty::populate_shared(self, level, VirtAddr(va), e, table)
            }
        }
    };
}

forward_editor!(KernelEdit);
forward_editor!(LegacyEdit);

/// The running kernel of a [`Machine`]: init_mm is locked while it lives.
pub struct Kernel<'m> {
    /// The machine.
    pub m: &'m Machine,
    /// init_mm. Kernel accesses borrow it, so none can happen while an edit
    /// (which borrows it mutably) has not synced.
    pub ks: KernelSpace<'m, SimArch, SparseMemory>,
}

impl<'m> Kernel<'m> {
    /// Run `f` on an edit of the chosen kind. The tracked edit syncs when
    /// `f` returns; the plain one does not.
    pub(crate) fn edit<R>(&mut self, how: Populate, f: impl FnOnce(&mut dyn Editor<'m>) -> R) -> R {
        match how {
            Populate::Tracked => self.ks.edit(|e| f(e)).0,
            // SAFETY: the old-code scenarios exist to show what happens when
            // the sync comes late or never: every kernel access on the
            // simulated machine goes through the software MMU, which reports
            // the resulting faults instead of crashing.
            Populate::Plain => unsafe { self.ks.legacy_edit(|e| f(e)) },
        }
    }

    /// The edit `user` makes in `era` on this machine.
    pub(crate) fn how(&self, era: Era, user: crate::era::User) -> Populate {
        era.populate(user, self.m.arch)
    }

    /// `sync_global_pgds(start, last)`, as old callers did it by hand.
    pub(crate) fn sync_global_pgds(&mut self, start: u64, last: u64) -> Result<(), SimError> {
        Ok(self.ks.sync_global_pgds(VirtAddr(start), VirtAddr(last))?)
    }

    /// A kernel access by `cpu` on whatever root it runs.
    pub fn access(
        &self,
        cpu: usize,
        va: u64,
        access: Access,
        what: &str,
    ) -> Result<(), FaultRecord> {
        let _witness = &self.ks;
        self.m.access(cpu, va, access, what)
    }

    /// `memset()` of `start..end` by `cpu`, one write per page; the first
    /// fault stops it (the kernel would oops there).
    pub fn memset(&self, cpu: usize, start: u64, end: u64, what: &str) -> Result<(), FaultRecord> {
        let mut va = start;
        while va < end {
            self.access(cpu, va, Access::Write, what)?;
            va = (va & !0xfff) + 0x1000;
        }
        Ok(())
    }

    /// Boot: map boot memory in the direct map and vmemmap; under
    /// [`Strategy::Prealloc`], fill every kernel top-level slot.
    pub(crate) fn boot(&mut self) -> Result<(), SimError> {
        if self.m.strategy == Strategy::Prealloc {
            let start = VirtAddr(pgtable::Arch::kernel_start(&self.m.arch));
            let last = VirtAddr(pgtable::Arch::kernel_end(&self.m.arch).wrapping_sub(1));
            self.ks.edit(|e| e.preallocate(start, last)).0?;
        }
        let ram = self.m.layout.boot_ram;
        self.map_direct(Era::V617, 0, ram)?;
        if self.m.layout.has_vmemmap {
            self.vmemmap_populate(Era::V617, 0, ram, Memmap::Huge, 0)?;
        }
        Ok(())
    }
}
