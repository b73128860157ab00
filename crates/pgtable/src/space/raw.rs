//! The raw walk helpers of the kernel edit: offsets, entries and the
//! populate helpers one level at a time, for kernel code that builds its
//! tables by hand (`pcpu_populate_pte()`, the KASAN zero tables).
//!
//! Every helper checks that the entry it is given is the kernel tables'
//! entry of that level for the address it is given (or an entry of a table
//! this edit allocated and has not linked yet): the mask records the
//! address, so an entry of another address would be written but never
//! synced.

use super::args::{check_phys, check_range, Half};
use super::edit::KernelEdit;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::pgalloc::PteTable;
use crate::prot::Prot;
use crate::tables::EntryPtr;

impl<A: Arch, M: TableMemory> KernelEdit<'_, '_, A, M> {
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

    /// Allocate a zeroed table of the entries of `level` (`p4d_alloc_one()`
    /// … `pte_alloc_one_kernel()`: [`Level::Pte`] for a PTE table), of the
    /// architecture's size for that level. Until it is linked, the raw
    /// helpers may write its entries for any kernel address. A folded level
    /// (or the root's) has no such table: [`Error::FoldedLevel`].
    pub fn alloc_table(&mut self, level: Level) -> Result<PhysAddr> {
        let t = self.ks.pt.tables();
        if t.arch.is_folded(level) || level == Level::Pgd {
            return Err(Error::FoldedLevel(level));
        }
        let table = t.alloc(level)?;
        self.fresh.push((table, t.arch.table_bytes(level)));
        Ok(table)
    }

    /// Refuse `e` unless it is the kernel tables' entry of `level` for
    /// `addr`, or an entry of a table this edit allocated.
    fn own_entry(&self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<()> {
        check_range(
            self.ks.pt.arch(),
            Half::Kernel,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        if self
            .fresh
            .iter()
            .any(|(t, bytes)| (t.0..t.0 + bytes).contains(&e.0 .0))
        {
            return Ok(());
        }
        match self.ks.pt.tables().entry_at(self.ks.root(), level, addr.0) {
            Some(k) if k == e => Ok(()),
            _ => Err(Error::ForeignEntry(addr)),
        }
    }

    pub(super) fn populate_at(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: PhysAddr,
    ) -> Result<()> {
        self.own_entry(level, e, addr)?;
        let t = self.ks.pt.tables();
        if !t.arch.is_passthrough(level) && !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
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
        self.own_entry(level, e, addr)?;
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
        self.own_entry(level, e, addr)?;
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
}
