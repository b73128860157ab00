//! The kernel space (init_mm).

use super::edit::KernelEdit;
use super::legacy::LegacyEdit;
use super::{KernelState, PageTables};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Arch;
use crate::memory::TableMemory;
use crate::pgalloc::Side;
use crate::walk::Mapping;

/// The kernel's address space, locked for one user at a time.
///
/// Reading it ([`translate`](Self::translate)) takes `&self`; changing it
/// takes an edit ([`edit`](Self::edit)), which borrows it mutably until the
/// edit has synced. So no code holding the kernel space can look at a
/// mapping between its populate and its sync: the ordering bug of Linux
/// commit 8d400913c231 does not compile.
pub struct KernelSpace<'a, A: Arch, M: TableMemory> {
    pub(crate) pt: &'a PageTables<A, M>,
    pub(crate) state: spin::MutexGuard<'a, KernelState>,
}

impl<'a, A: Arch, M: TableMemory> KernelSpace<'a, A, M> {
    pub(crate) fn new(pt: &'a PageTables<A, M>, state: spin::MutexGuard<'a, KernelState>) -> Self {
        KernelSpace { pt, state }
    }

    /// The page tables this space belongs to.
    pub fn page_tables(&self) -> &'a PageTables<A, M> {
        self.pt
    }

    /// The kernel root (`swapper_pg_dir`).
    pub fn root(&self) -> PhysAddr {
        self.pt.kernel_root()
    }

    /// The leaf mapping `va` in the kernel's tables.
    pub fn translate(&self, va: VirtAddr) -> Option<Mapping> {
        self.pt.translate(self.root(), va)
    }

    /// Start a change of kernel mappings. The edit collects the
    /// modification mask and the touched range, and syncs once when it is
    /// [finished](KernelEdit::finish) or dropped.
    pub fn edit(&mut self) -> KernelEdit<'_, 'a, A, M> {
        KernelEdit::new(self, Side::Kernel)
    }

    /// Start a change the way kernels before Linux 6.17 wrote it: the plain
    /// populate helpers, no mask, no sync. Kept to reproduce the old bugs.
    ///
    /// # Safety
    ///
    /// The caller must run [`sync_global_pgds`](Self::sync_global_pgds) over
    /// every range whose top-level entries the edit may have populated
    /// before any CPU runs kernel code on another root that reaches that
    /// range. Otherwise that code faults in kernel mode, which a real kernel
    /// does not survive.
    pub unsafe fn legacy_edit(&mut self) -> LegacyEdit<'_, 'a, A, M> {
        LegacyEdit(KernelEdit::new(self, Side::LegacyKernel))
    }

    /// `sync_global_pgds(start, end)`: copy the kernel's entries for
    /// `start..=last` into every registered root, whatever the mask says.
    /// Only the legacy path needs to call it.
    pub fn sync_global_pgds(&mut self, start: VirtAddr, last: VirtAddr) {
        self.pt.sync_kernel_mappings(start, last);
    }
}
