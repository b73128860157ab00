//! The table-level calls on a user space: `pte_alloc_one()`, `pte_free()`,
//! `p?d_populate(mm, …)` and `pte_offset_map()` with its `pte_unmap()`.

use super::UserSpace;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::args::{check_range, Half};
use crate::error::Refused;
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::space::handle::UserTable;
use crate::space::PageTables;
use crate::sync::DefaultLock;
use crate::walk::pgalloc::Tracker;
use crate::walk::tables::EntryPtr;
use lock_api::RawMutex;

impl<'s, A: Arch, M: TableMemory, L: RawMutex> UserSpace<'s, A, M, L> {
    /// `pte_alloc_one()`: a user PTE table (`pgtable_t`), from high memory
    /// under HIGHPTE when the table memory has some.
    pub fn pte_alloc_one(&mut self) -> Result<UserTable<'s, A, M, L>> {
        let (frame, high) = self.pt.tables().alloc_user_pte()?;
        Ok(UserTable {
            pt: self.pt,
            frame,
            level: Level::Pte,
            high,
        })
    }

    /// `p4d_alloc_one()` / `pud_alloc_one()` / `pmd_alloc_one()` (and
    /// `pte_alloc_one()` for [`Level::Pte`]): a zeroed user table of the
    /// entries of `level`, to link with the populate helpers below. A
    /// folded level (or the root's) has none: [`Error::FoldedLevel`].
    pub fn alloc_table(&mut self, level: Level) -> Result<UserTable<'s, A, M, L>> {
        let t = self.pt.tables();
        if t.arch.is_folded(level) || level == Level::Pgd {
            return Err(Error::FoldedLevel(level));
        }
        if level == Level::Pte {
            return self.pte_alloc_one();
        }
        Ok(UserTable {
            pt: self.pt,
            frame: t.alloc(level)?,
            level,
            high: false,
        })
    }

    /// `pte_free()`: give back a user table that was never linked (what
    /// dropping it does too).
    pub fn pte_free(&mut self, pte: UserTable<'s, A, M, L>) {
        drop(pte);
    }

    /// `pte_offset_map()`: the PTE for `va` below the PMD entry `pmd` of
    /// this space, or `None` if `pmd` holds no PTE table. A table in high
    /// memory is reached through a temporary kernel mapping
    /// (`kmap_local_page()`), counted in
    /// [`PageTables::temporary_maps`] until the returned map is dropped
    /// (`pte_unmap()`); a lowmem table needs none.
    pub fn pte_offset_map(&self, pmd: EntryPtr, va: VirtAddr) -> Option<PteMap<'s, A, M, L>> {
        let t = self.pt.tables();
        let e = t.offset(Level::Pte, pmd, va.0)?;
        let table = PhysAddr(e.0 .0 & !(t.arch.table_bytes(Level::Pte) - 1));
        let temporary = t.arch.highpte() && t.mem.is_high(table);
        if temporary {
            self.pt
                .kmaps
                .fetch_add(1, core::sync::atomic::Ordering::AcqRel);
        }
        Some(PteMap {
            pt: self.pt,
            entry: e,
            temporary,
        })
    }

    /// `pgd_offset()`: this space's root entry for a user address.
    pub fn pgd_offset(&self, va: VirtAddr) -> Result<EntryPtr> {
        check_range(
            self.pt.arch(),
            Half::User,
            VirtAddr(va.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        Ok(self.pt.tables().pgd_offset(self.space.root, va.0))
    }

    /// `p4d_offset()` … `pte_offset_map()`: the entry of `level` below
    /// `parent`; `None` if `parent` holds no table.
    pub fn offset(&self, level: Level, parent: EntryPtr, va: VirtAddr) -> Option<EntryPtr> {
        self.pt.tables().offset(level, parent, va.0)
    }

    /// Link `table` at the entry `e` of `level` for the user address
    /// `addr`, which must be this space's (empty) entry of that level for
    /// `addr`: anything else could reach the kernel half or another space.
    /// The table must be this machine's and hold the entries of the level
    /// below `level`.
    fn populate_at(
        &mut self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        match self.check_slot(level, addr, e, &table) {
            Ok(()) => {
                let frame = table.into_linked();
                self.populate(&mut Tracker::default())
                    .populate(level, addr.0, e, frame);
                self.mirror(addr.0, addr.0 + 1);
                Ok(())
            }
            Err(error) => Err(Refused {
                error,
                value: table,
            }),
        }
    }

    fn check_slot(
        &self,
        level: Level,
        addr: VirtAddr,
        e: EntryPtr,
        table: &UserTable<'s, A, M, L>,
    ) -> Result<()> {
        check_range(
            self.pt.arch(),
            Half::User,
            VirtAddr(addr.0 & !(PAGE_SIZE - 1)),
            PAGE_SIZE,
        )?;
        let t = self.pt.tables();
        if !core::ptr::eq(table.pt, self.pt) {
            return Err(Error::Foreign);
        }
        t.link_fits(level, table.level)?;
        if t.entry_at(self.space.root, level, addr.0) != Some(e) {
            return Err(Error::ForeignEntry(addr));
        }
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(addr));
        }
        Ok(())
    }

    /// `pgd_populate(mm, pgd, p4d)` for the user address `addr`.
    pub fn pgd_populate(
        &mut self,
        addr: VirtAddr,
        pgd: EntryPtr,
        p4d: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pgd, addr, pgd, p4d)
    }

    /// `p4d_populate(mm, p4d, pud)` for the user address `addr`.
    pub fn p4d_populate(
        &mut self,
        addr: VirtAddr,
        p4d: EntryPtr,
        pud: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::P4d, addr, p4d, pud)
    }

    /// `pud_populate(mm, pud, pmd)` for the user address `addr`.
    pub fn pud_populate(
        &mut self,
        addr: VirtAddr,
        pud: EntryPtr,
        pmd: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pud, addr, pud, pmd)
    }

    /// `pmd_populate(mm, pmd, pte)` for the user address `addr`: takes the
    /// user PTE table by value, so it is linked in exactly once; a refused
    /// call hands it back.
    pub fn pmd_populate(
        &mut self,
        addr: VirtAddr,
        pmd: EntryPtr,
        pte: UserTable<'s, A, M, L>,
    ) -> core::result::Result<(), Refused<UserTable<'s, A, M, L>>> {
        self.populate_at(Level::Pmd, addr, pmd, pte)
    }
}

/// A user PTE reached by [`UserSpace::pte_offset_map`]; dropping it is
/// `pte_unmap()`.
pub struct PteMap<'s, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pt: &'s PageTables<A, M, L>,
    entry: EntryPtr,
    temporary: bool,
}

impl<A: Arch, M: TableMemory, L: RawMutex> PteMap<'_, A, M, L> {
    /// The entry.
    pub fn entry(&self) -> EntryPtr {
        self.entry
    }

    /// Whether a temporary mapping was needed (the table is in high memory).
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }

    /// The entry, decoded.
    pub fn read(&self) -> crate::arch::Decoded {
        self.pt.tables().decode(Level::Pte, self.entry)
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> Drop for PteMap<'_, A, M, L> {
    fn drop(&mut self) {
        if self.temporary {
            self.pt
                .kmaps
                .fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
        }
    }
}
