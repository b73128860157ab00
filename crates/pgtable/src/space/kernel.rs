//! The kernel space (init_mm): reading it, and lending edits of it.

use super::edit::{KernelEdit, LegacyEdit};
use super::report::SyncReport;
use super::{KernelSpace, KernelState, PageTables};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::Arch;
use crate::args::check_kernel_span;
use crate::error::Result;
use crate::memory::TableMemory;
use crate::sync::LockGuard;
use crate::walk::visit::Mapping;
use lock_api::RawMutex;

impl<'a, A: Arch, M: TableMemory, L: RawMutex> KernelSpace<'a, A, M, L> {
    pub(crate) fn new(pt: &'a PageTables<A, M, L>, state: LockGuard<'a, L, KernelState>) -> Self {
        KernelSpace { pt, state }
    }

    /// The page tables this space belongs to.
    pub fn page_tables(&self) -> &'a PageTables<A, M, L> {
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

    /// Change kernel mappings: run `f` with an edit, then sync.
    ///
    /// The edit collects the modification mask and the touched range, and
    /// once `f` returns the library runs the architecture's sync over that
    /// range if the mask requires it (Linux's `pgd_populate_kernel()` …
    /// `arch_sync_kernel_mappings()`), even when `f` returned an error, so
    /// whatever was populated before a failure reaches every root too.
    /// Returns what `f` returned and what the sync did.
    ///
    /// The edit is lent, never handed out, in the way `std::thread::scope`
    /// lends its scope: no value exists whose leak would skip the sync.
    ///
    /// ```
    /// # use pgtable::{PageSize, PageTables, SparseMemory, PhysAddr, VirtAddr, Prot, X86_64};
    /// let mem = SparseMemory::new(PhysAddr(0x10_0000)..PhysAddr(0x100_0000));
    /// let pt = PageTables::new(X86_64::FOUR_LEVEL, mem)?;
    /// let other = pt.create_space()?;
    /// let va = VirtAddr(0xffff_c900_0000_0000);
    /// let (r, report) = pt.kernel().edit(|e| {
    ///     e.vmap_range(va, PhysAddr(0x20_0000), 0x1000, Prot::KERNEL, PageSize::Base)
    /// });
    /// r?;
    /// assert!(report.synced());
    /// assert!(pt.translate(other.root(), va).is_some());
    /// # pt.destroy_space(other).unwrap();
    /// # Ok::<(), pgtable::Error>(())
    /// ```
    ///
    /// The edit cannot escape the closure:
    ///
    /// ```compile_fail
    /// # use pgtable::{PageTables, SparseMemory, PhysAddr, X86_64};
    /// let pt = PageTables::new(X86_64::FOUR_LEVEL, SparseMemory::new(PhysAddr(0)..PhysAddr(1 << 24))).unwrap();
    /// let mut ks = pt.kernel();
    /// let mut kept = None;
    /// let _ = ks.edit(|e| kept = Some(e));
    /// std::mem::forget(kept);
    /// ```
    ///
    /// Nor can anything read through the kernel space before the sync (the
    /// ordering bug of Linux commit 8d400913c231). Linux syncs at each
    /// `pgd/p4d_populate_kernel()` call; the library syncs once, when the
    /// closure returns, which is the same for every reader:
    ///
    /// ```compile_fail
    /// # use pgtable::{PageSize, PageTables, SparseMemory, PhysAddr, VirtAddr, Prot, X86_64};
    /// let pt = PageTables::new(X86_64::FOUR_LEVEL, SparseMemory::new(PhysAddr(0)..PhysAddr(1 << 24))).unwrap();
    /// let va = VirtAddr(0xffff_c900_0000_0000);
    /// let mut ks = pt.kernel();
    /// let _ = ks.edit(|e| {
    ///     e.vmap_range(va, PhysAddr(0x20_0000), 0x1000, Prot::KERNEL, PageSize::Base).unwrap();
    ///     ks.translate(va) // `ks` is borrowed by the edit
    /// });
    /// ```
    pub fn edit<R>(
        &mut self,
        f: impl FnOnce(&mut KernelEdit<'_, 'a, A, M, L>) -> R,
    ) -> (R, SyncReport) {
        let mut edit: KernelEdit<'_, 'a, A, M, L> = KernelEdit::new(self);
        let r = f(&mut edit);
        let report = edit.complete();
        (r, report)
    }

    /// Change kernel mappings the way kernels before Linux 6.17 wrote it:
    /// the plain populate helpers, no mask, no sync. Kept to reproduce the
    /// old bugs.
    ///
    /// # Safety
    ///
    /// The caller must run [`sync_global_pgds`](Self::sync_global_pgds) over
    /// every range whose top-level entries the edit may have populated
    /// before any CPU runs kernel code on another root that reaches that
    /// range. Otherwise that code faults in kernel mode, which a real kernel
    /// does not survive.
    pub unsafe fn legacy_edit<R>(
        &mut self,
        f: impl FnOnce(&mut LegacyEdit<'_, 'a, A, M, L>) -> R,
    ) -> R {
        let mut edit: LegacyEdit<'_, 'a, A, M, L> = KernelEdit::new(self);
        f(&mut edit)
    }

    /// `sync_global_pgds(start, end)`: copy the kernel's entries for
    /// `start..=last` into every registered root, whatever the mask says.
    /// Only the legacy path needs to call it. Both ends must be canonical
    /// kernel addresses with `start <= last`: a user-half range would copy
    /// the kernel root's (empty) user entries over every space's own.
    pub fn sync_global_pgds(&mut self, start: VirtAddr, last: VirtAddr) -> Result<()> {
        let arch = self.pt.arch();
        check_kernel_span(arch, start, last)?;
        self.pt.sync_kernel_mappings(start, last);
        Ok(())
    }
}
