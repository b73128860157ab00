//! The raw walk helpers of the kernel edit: offsets, entries and the
//! populate helpers one level at a time, for kernel code that builds its
//! tables by hand (`pcpu_populate_pte()`, the KASAN zero tables).
//!
//! Every helper checks that the entry it is given is the kernel tables'
//! entry of that level for the address it is given (or an entry of a table
//! this edit allocated and has not linked yet): the mask records the
//! address, so an entry of another address would be written but never
//! synced.

use super::edit::KernelEdit;
use super::forget_in;
use super::handle::{KernelTable, SharedTable};
use super::policy::{EditPolicy, Legacy, Tracked};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Decoded, Level};
use crate::args::{check_kernel_prot, check_phys, check_range, Half};
use crate::error::{Error, Refused, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use crate::walk::pgalloc::Tracker;
use crate::walk::tables::EntryPtr;
use alloc::vec::Vec;
use lock_api::RawMutex;

/// The lock over the unlinked tables, held while the raw helpers write into
/// one of them.
type UnlinkedGuard<'a, L> = crate::sync::LockGuard<'a, L, Vec<super::Unlinked>>;

impl<'a, A: Arch, M: TableMemory, L: RawMutex, P: EditPolicy> KernelEdit<'_, 'a, A, M, L, P> {
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
    /// helpers may write its entries for any kernel address; dropped
    /// unlinked, it is freed. A folded level (or the root's) has no such
    /// table: [`Error::FoldedLevel`].
    pub fn alloc_table(&mut self, level: Level) -> Result<KernelTable<'a, A, M, L>> {
        let pt = self.ks.pt;
        let t = pt.tables();
        if t.arch.is_folded(level) || level == Level::Pgd {
            return Err(Error::FoldedLevel(level));
        }
        let frame = t.alloc(level)?;
        pt.add_unlinked(frame, t.arch.table_bytes(level), level);
        Ok(KernelTable { pt, frame, level })
    }

    /// Refuse `e` unless it is the kernel tables' entry of `level` for
    /// `addr`, or an entry of an unlinked table from
    /// [`alloc_table`](Self::alloc_table); and refuse an entry of a shared
    /// table. For an unlinked table, returns the lock that keeps it from
    /// being freed until the write is done.
    fn own_entry(
        &self,
        level: Level,
        e: EntryPtr,
        addr: VirtAddr,
    ) -> Result<Option<UnlinkedGuard<'a, L>>> {
        let pt = self.ks.pt;
        check_range(
            pt.arch(),
            Half::Kernel,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        if pt.shared().holds_entry(e.0) {
            return Err(Error::SharedTable(addr));
        }
        let unlinked = pt.unlinked();
        if let Some(u) = unlinked
            .iter()
            .find(|u| e.0 .0.wrapping_sub(u.table) < u.bytes)
        {
            // An entry of an unlinked table is written only as an entry of
            // the table's own level: anything else would later be read at
            // another level (a leaf as a table pointer, a table in a table
            // of leaves) when the table is linked, walked or freed.
            if u.level != level {
                return Err(Error::ForeignEntry(addr));
            }
            return Ok(Some(unlinked));
        }
        drop(unlinked);
        match pt.tables().entry_at(self.ks.root(), level, addr.0) {
            Some(k) if k == e => Ok(None),
            _ => Err(Error::ForeignEntry(addr)),
        }
    }

    /// Check that `table` (of the entries of `holds`, of machine `pt`) may
    /// be linked at the entry `e` of `level` for `addr`.
    fn check_link(
        &self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        mine: bool,
        holds: Level,
    ) -> Result<Option<UnlinkedGuard<'a, L>>> {
        let t = self.ks.pt.tables();
        if !mine {
            return Err(Error::Foreign);
        }
        let guard = self.own_entry(level, e, addr)?;
        t.link_fits(level, holds)?;
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
        Ok(guard)
    }

    pub(super) fn populate_at(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        let mine = core::ptr::eq(table.pt, self.ks.pt);
        match self.check_link(level, addr, e, mine, table.level) {
            Ok(guard) => {
                let frame = match guard {
                    // The entry is in an unlinked table whose lock we hold.
                    Some(mut list) => {
                        forget_in(&mut list, table.frame);
                        let frame = table.frame;
                        core::mem::forget(table);
                        self.populate_unlinked(&mut Tracker::default())
                            .populate(level, addr.0, e, frame);
                        return Ok(());
                    }
                    None => table.into_linked(),
                };
                self.pop().populate(level, addr.0, e, frame);
                Ok(())
            }
            Err(error) => Err(Refused {
                error,
                value: table,
            }),
        }
    }

    /// Link the shared table `table` at the entry `e` of `level` for
    /// `addr` (as `kasan_populate_early_shadow()` links
    /// `kasan_early_shadow_pte` under every PMD entry of the shadow), and
    /// record `level` in the mask.
    pub fn populate_shared(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: SharedTable,
    ) -> Result<()> {
        let pt = self.ks.pt;
        let mine = table.owner == pt.id() && pt.shared().contains(table.frame);
        let guard = self.check_link(level, addr, e, mine, table.level)?;
        match guard {
            Some(_) => self.populate_unlinked(&mut Tracker::default()).populate(
                level,
                addr.0,
                e,
                table.frame,
            ),
            None => self.pop().populate(level, addr.0, e, table.frame),
        }
        Ok(())
    }

    /// Make `table` a shared table: linked under any number of entries with
    /// [`populate_shared`](Self::populate_shared), never written again,
    /// never walked through by an unmap, never freed (the KASAN early
    /// shadow's `kasan_early_shadow_pte` … `_p4d`). The tables already
    /// linked below it become shared with it.
    pub fn share(
        &mut self,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<SharedTable, Refused<KernelTable<'a, A, M, L>>> {
        let pt = self.ks.pt;
        let mut below = Vec::new();
        let r = if !core::ptr::eq(table.pt, pt) {
            Err(Error::Foreign)
        } else {
            pt.subtree(table.level, table.frame, &mut below);
            if below.len() > pt.shared().room() {
                Err(Error::TooManySharedTables)
            } else {
                Ok(())
            }
        };
        if let Err(error) = r {
            return Err(Refused {
                error,
                value: table,
            });
        }
        for (frame, level) in below {
            pt.shared().insert(frame, pt.arch().table_bytes(level));
        }
        let level = table.level;
        let frame = table.into_linked();
        Ok(SharedTable {
            owner: pt.id(),
            frame,
            level,
        })
    }

    /// `p4d_alloc_track()` … `pte_alloc_kernel_track()`: the entry of the
    /// level below `level` for `addr`, allocating its table when `e` (an
    /// entry of `level`) is none and recording `level` in the mask.
    pub fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: VirtAddr) -> Result<EntryPtr> {
        let guard = self.own_entry(level, e, addr)?;
        match guard {
            Some(_) => self
                .populate_unlinked(&mut Tracker::default())
                .alloc_track(level, e, addr.0),
            None => self.pop().alloc_track(level, e, addr.0),
        }
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
        check_kernel_prot(prot, self.allow_wx)?;
        let guard = self.own_entry(level, e, addr)?;
        if t.arch.is_passthrough(level) || !t.arch.leaf_allowed(level) || !pa.is_aligned(size) {
            return Err(Error::Misaligned(pa.0));
        }
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
        t.write(e, t.arch.encode_leaf(level, pa, prot));
        // A leaf in an unlinked table is recorded when the table is linked.
        if guard.is_none() {
            self.pop().note(level, addr.0);
        }
        Ok(())
    }
}

impl<'a, A: Arch, M: TableMemory, L: RawMutex> KernelEdit<'_, 'a, A, M, L, Tracked> {
    /// `pgd_populate_kernel()`: point the kernel PGD entry `pgd` (for `addr`)
    /// at the P4D table `p4d`, and record `PGTBL_PGD_MODIFIED`.
    pub fn pgd_populate_kernel(
        &mut self,
        addr: VirtAddr,
        pgd: EntryPtr,
        p4d: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.populate_at(Level::Pgd, addr, pgd, p4d)
    }

    /// `p4d_populate_kernel()`: point `p4d` at the PUD table `pud`, and
    /// record `PGTBL_P4D_MODIFIED`.
    pub fn p4d_populate_kernel(
        &mut self,
        addr: VirtAddr,
        p4d: EntryPtr,
        pud: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.populate_at(Level::P4d, addr, p4d, pud)
    }

    /// `pud_populate(&init_mm, …)`: point `pud` at the PMD table `pmd`,
    /// and record `PGTBL_PUD_MODIFIED`.
    pub fn pud_populate(
        &mut self,
        addr: VirtAddr,
        pud: EntryPtr,
        pmd: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.populate_at(Level::Pud, addr, pud, pmd)
    }

    /// `pmd_populate_kernel()` (the architecture's primitive in Linux):
    /// point `pmd` at the kernel PTE table `pte`, and record
    /// `PGTBL_PMD_MODIFIED`.
    pub fn pmd_populate_kernel(
        &mut self,
        addr: VirtAddr,
        pmd: EntryPtr,
        pte: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.populate_at(Level::Pmd, addr, pmd, pte)
    }
}

impl<'a, A: Arch, M: TableMemory, L: RawMutex> KernelEdit<'_, 'a, A, M, L, Legacy> {
    /// `pgd_populate(&init_mm, …)` / `p4d_populate(&init_mm, …)` and the
    /// lower levels: write the table entry and nothing else.
    pub fn populate(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: KernelTable<'a, A, M, L>,
    ) -> core::result::Result<(), Refused<KernelTable<'a, A, M, L>>> {
        self.populate_at(level, addr, e, table)
    }
}
