//! The kernel code that populates kernel page tables, each user where
//! Linux's x86-64 memory map puts it.
//!
//! Every user takes the kernel [`Era`] it behaves as: per era and
//! architecture ([`Era::populate`]) its populate is plain (the `unsafe`
//! legacy edit: nothing synced when it ends) or tracked (the library's
//! edit, which syncs when it ends), and x86's late `sync_global_pgds()`
//! follows where that release had it ([`Era::late_sync`]).
//!
//! The page-table work of hotplug, the vmemmap, the KASAN early shadow and
//! the percpu first chunk is the library's (`pgtable::mm`), run on the
//! era's edit through [`KernelEditor`]; what stays here is the simulated
//! kernel's own part: its frames, the ranges it has mapped, the writes it
//! makes, and the era's choices.

mod boot;
mod cea;
mod directmap;
mod kasan;
mod percpu;
pub(crate) mod state;
mod vmalloc;
mod vmemmap;

use crate::arch::SimArch;
use crate::era::{Era, Populate};
use crate::machine::Machine;
use crate::vocab::{FaultRecord, SimError, Strategy};
use pgtable::mm::{KernelEditor, Vmemmap};
use pgtable::{DefaultLock, KernelSpace, SparseMemory, VirtAddr};
use pgtable_mmu::Access;
use state::KernelState;

/// The calls kernel users make, the same for old and new code: the
/// library's [`KernelEditor`] (which its `mm` users take, with the vmalloc
/// area's `vmap`/`vunmap`/`ioremap`), implemented once by the library's
/// kernel edit for both policies. A name for the trait object, not a trait.
pub(crate) type Editor<'e, 'm> =
    dyn KernelEditor<'m, SimArch, SparseMemory, Lock = DefaultLock> + 'e;

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
    pub(crate) fn edit<R>(&mut self, how: Populate, f: impl FnOnce(&mut Editor<'_, 'm>) -> R) -> R {
        match how {
            Populate::Tracked => self.ks.edit(|e| f(e)).0,
            // SAFETY: the old-code scenarios exist to show what happens when
            // the sync comes late or never: every kernel access on the
            // simulated machine goes through the software MMU, which reports
            // the resulting faults instead of crashing.
            Populate::Plain => unsafe { self.ks.legacy_edit(|e| f(e)) },
        }
    }

    /// The kernel's own state, which the machine carries.
    pub(crate) fn state(&self) -> &'m KernelState {
        &self.m.kstate
    }

    /// The edit `user` makes in `era` on this machine.
    pub(crate) fn how(&self, era: Era, user: crate::era::User) -> Populate {
        era.populate(user, self.m.arch)
    }

    /// Where the `struct page`s are: the layout's `vmemmap_base`, its
    /// `sizeof(struct page)`, x86-64's 128 MiB sections.
    pub(crate) fn vmemmap(&self) -> Vmemmap {
        Vmemmap {
            base: VirtAddr(self.m.layout.vmemmap),
            struct_page: self.m.layout.struct_page,
            section_size: crate::layout::SECTION_SIZE,
        }
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
            let start = VirtAddr(pgtable::KernelPolicy::kernel_start(&self.m.arch));
            let last = VirtAddr(pgtable::KernelPolicy::kernel_end(&self.m.arch).wrapping_sub(1));
            self.ks.edit(|e| e.preallocate(start, last)).0?;
        }
        let ram = self.m.layout.boot_ram;
        self.map_direct(Era::V617, 0, ram)?;
        if self.m.layout.has_vmemmap {
            self.vmemmap_populate(Era::V617, 0, ram, 0)?;
        }
        Ok(())
    }
}
