//! Owned handles to page tables that are not linked yet, and the shared
//! tables that may be linked many times.
//!
//! Linux hands raw `pte_t *` / `pmd_t *` pointers to its populate helpers
//! (`pmd_populate_kernel(&init_mm, pmd, pte)`), so nothing stops a caller
//! from linking one table twice, linking a data page as a table, or linking
//! another machine's frame. Here a table to be linked is a value that only
//! [`KernelEdit::alloc_table`](crate::KernelEdit::alloc_table) or
//! [`UserSpace::alloc_table`](crate::UserSpace::alloc_table) makes: it is
//! not `Copy`, linking consumes it (so it is linked exactly once, which is
//! what lets an unmap free it), it names the machine it came from (a table
//! of another `PageTables` is refused), and dropping it unlinked gives its
//! frame back.
//!
//! The exception is a table meant to be linked under many entries: the
//! KASAN early shadow (`kasan_early_shadow_pte` … `_p4d` in
//! `mm/kasan/init.c`). [`KernelEdit::share`](crate::KernelEdit::share) turns
//! a handle into a [`SharedTable`], which is never freed, whose entries can
//! no longer be written, and which no unmap walks through.

use super::PageTables;
use crate::addr::PhysAddr;
use crate::arch::{Arch, Decoded, Level};
use crate::memory::{RawAccess, TableMemory};
use crate::sync::DefaultLock;
use crate::walk::tables::EntryPtr;
use lock_api::RawMutex;

/// A kernel page table allocated by
/// [`KernelEdit::alloc_table`](crate::KernelEdit::alloc_table) and not
/// linked anywhere yet (Linux's `p4d_alloc_one()` …
/// `pte_alloc_one_kernel()` result).
///
/// Until it is linked, the raw helpers of a kernel edit may write its
/// entries; linking it (`pgd_populate_kernel()` … `pmd_populate_kernel()`)
/// consumes it. Dropped unlinked, it frees its frame and every table linked
/// below it.
#[must_use = "a table handle dropped without being linked frees its table"]
pub struct KernelTable<'p, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pub(crate) pt: &'p PageTables<A, M, L>,
    pub(crate) frame: PhysAddr,
    /// The level whose entries the table holds.
    pub(crate) level: Level,
}

impl<A: Arch, M: TableMemory, L: RawMutex> KernelTable<'_, A, M, L> {
    /// Where the table lives.
    pub fn frame(&self) -> PhysAddr {
        self.frame
    }

    /// The level whose entries the table holds ([`Level::Pte`] for a PTE
    /// table).
    pub fn level(&self) -> Level {
        self.level
    }

    /// The entry at `index` of the table, for the raw helpers of a kernel
    /// edit; `None` past the table's last entry.
    pub fn entry(&self, index: u64) -> Option<EntryPtr> {
        let arch = self.pt.arch();
        (index < 1u64 << arch.level_bits(self.level))
            .then(|| EntryPtr(PhysAddr(self.frame.0 + index * arch.entry_size())))
    }

    /// Hand the frame over to the tables: it is linked now, so it is no
    /// longer this handle's to free.
    pub(crate) fn into_linked(self) -> PhysAddr {
        let frame = self.frame;
        self.pt.forget_unlinked(frame);
        core::mem::forget(self);
        frame
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> core::fmt::Debug for KernelTable<'_, A, M, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KernelTable")
            .field("frame", &self.frame)
            .field("level", &self.level)
            .finish()
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> Drop for KernelTable<'_, A, M, L> {
    fn drop(&mut self) {
        self.pt.forget_unlinked(self.frame);
        self.pt.free_subtree(self.level, self.frame);
    }
}

/// A kernel table linked under many entries and never freed (the KASAN
/// early-shadow tables). Made by
/// [`KernelEdit::share`](crate::KernelEdit::share); linked with
/// [`KernelEdit::populate_shared`](crate::KernelEdit::populate_shared).
/// Copyable: it is a name, and the machine checks the name is one of its
/// shared tables before linking it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedTable {
    pub(crate) owner: u64,
    pub(crate) frame: PhysAddr,
    pub(crate) level: Level,
}

impl SharedTable {
    /// Where the table lives.
    pub fn frame(&self) -> PhysAddr {
        self.frame
    }

    /// The level whose entries the table holds.
    pub fn level(&self) -> Level {
        self.level
    }
}

/// A user page table not linked yet: Linux's `pgtable_t` from
/// `pte_alloc_one()` for a PTE table, or a `p4d`/`pud`/`pmd_alloc_one()`
/// result. Made by [`UserSpace::alloc_table`](crate::UserSpace::alloc_table)
/// or [`UserSpace::pte_alloc_one`](crate::UserSpace::pte_alloc_one); linking
/// it consumes it; dropping it unlinked frees it.
///
/// A distinct type from [`KernelTable`] because user tables have their own
/// life: they are freed with the address space, and under HIGHPTE (x86-32,
/// [`KernelPolicy::highpte`](crate::KernelPolicy::highpte)) a user PTE table may sit in high memory, which the
/// kernel has no permanent mapping of, so its entries are only reached
/// through [`UserSpace::pte_offset_map`](crate::UserSpace::pte_offset_map).
/// A kernel table cannot be passed where a user one is expected, nor the
/// reverse.
#[must_use = "a table handle dropped without being linked frees its table"]
pub struct UserTable<'p, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pub(crate) pt: &'p PageTables<A, M, L>,
    pub(crate) frame: PhysAddr,
    pub(crate) level: Level,
    pub(crate) high: bool,
}

/// Linux's `pgtable_t`: a user PTE table.
pub type UserPteTable<'p, A, M, L = DefaultLock> = UserTable<'p, A, M, L>;

impl<A: Arch, M: TableMemory, L: RawMutex> UserTable<'_, A, M, L> {
    /// The frame holding the table.
    pub fn frame(&self) -> PhysAddr {
        self.frame
    }

    /// The level whose entries the table holds.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Whether the table is in high memory (outside the direct map).
    pub fn is_high(&self) -> bool {
        self.high
    }

    pub(crate) fn into_linked(self) -> PhysAddr {
        let frame = self.frame;
        core::mem::forget(self);
        frame
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> core::fmt::Debug for UserTable<'_, A, M, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UserTable")
            .field("frame", &self.frame)
            .field("level", &self.level)
            .field("high", &self.high)
            .finish()
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> Drop for UserTable<'_, A, M, L> {
    fn drop(&mut self) {
        // Nothing can be linked below an unlinked user table: the user
        // populate helpers only write entries reachable from a root.
        let t = self.pt.tables();
        if self.high {
            t.mem.free_table(RawAccess::new(), self.frame);
        } else {
            t.free(self.level, self.frame);
        }
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// The table `frame` holding entries of `level` and every table linked
    /// below it that is not shared, each once, as (address, level).
    pub(crate) fn subtree(
        &self,
        level: Level,
        frame: PhysAddr,
        out: &mut alloc::vec::Vec<(PhysAddr, Level)>,
    ) {
        let t = self.tables();
        out.push((frame, level));
        let entries = crate::walk::tables::entry_level(t.arch, level);
        if let Some(child) = entries.next() {
            for i in 0..1u64 << t.arch.level_bits(level) {
                let e = EntryPtr(PhysAddr(frame.0 + i * t.arch.entry_size()));
                if let Decoded::Table(below) = t.decode(entries, e) {
                    if !t.shared.contains(below) && !out.iter().any(|(f, _)| *f == below) {
                        self.subtree(child, below, out);
                    }
                }
            }
        }
    }

    /// Free the table `frame` holding entries of `level`, and every table
    /// linked below it that is not shared (each was linked exactly once,
    /// through a consumed handle, so nothing else points at it).
    pub(crate) fn free_subtree(&self, level: Level, frame: PhysAddr) {
        let mut tables = alloc::vec::Vec::new();
        self.subtree(level, frame, &mut tables);
        let t = self.tables();
        for (table, level) in tables {
            t.free(level, table);
        }
    }
}
