//! The populate helpers of `include/linux/pgalloc.h` and the
//! `*_alloc_track()` helpers of `mm/vmalloc.c`.
//!
//! Only this module writes non-leaf entries. The plain variants
//! (`pgd_populate` …) serve user address spaces and the `unsafe` legacy
//! path; the `_kernel` variants also record the level they changed in the
//! edit's [`SyncMask`], which is what makes the sync impossible to forget.

use super::tables::{EntryPtr, Tables};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::mask::SyncMask;
use crate::memory::TableMemory;

/// Which variant of the populate helpers a walk uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// `*_populate_kernel()`: record the level in the mask.
    Kernel,
    /// Plain `*_populate(&init_mm, …)`: the pre-6.17 kernel code.
    LegacyKernel,
    /// Plain `*_populate(mm, …)` on a user address space.
    User,
}

/// The mask and touched range an edit collects (`pgtbl_mod_mask` plus the
/// `start`/`end` handed to `arch_sync_kernel_mappings()`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tracker {
    pub mask: SyncMask,
    pub start: u64,
    pub last: u64,
}

impl Tracker {
    /// Note that an entry of `level` covering `addr` changed.
    #[inline]
    pub fn record(&mut self, level: Level, addr: u64) {
        if self.mask.is_empty() {
            self.start = addr;
            self.last = addr;
        } else {
            self.start = self.start.min(addr);
            self.last = self.last.max(addr);
        }
        self.mask |= SyncMask::of(level);
    }

    /// The range to sync, if the mask meets `sync`.
    pub fn needs_sync(&self, sync: SyncMask) -> Option<(VirtAddr, VirtAddr)> {
        self.mask
            .intersects(sync)
            .then_some((VirtAddr(self.start), VirtAddr(self.last)))
    }
}

/// A walk's populate state: the tables, which variant, and the mask. The
/// mask is the edit's own, borrowed: a walk records into it directly, so no
/// caller has a copy to write back (or to forget to).
pub(crate) struct Populate<'a, A, M: ?Sized> {
    pub t: Tables<'a, A, M>,
    pub side: Side,
    pub tracker: &'a mut Tracker,
}

impl<A: Arch, M: TableMemory + ?Sized> Populate<'_, A, M> {
    /// The same state for a shorter walk, recording into the same mask.
    #[inline]
    pub fn reborrow(&mut self) -> Populate<'_, A, M> {
        Populate {
            t: self.t,
            side: self.side,
            tracker: &mut *self.tracker,
        }
    }

    /// `pgd_populate()` … `pmd_populate_kernel()`: make the entry `e` of
    /// `level` point at `table`. A pass-through level has no entry of its
    /// own: populating it does nothing, as `pgd_populate()` does when the P4D
    /// is folded. The kernel variant records `level` in the mask.
    #[inline]
    pub fn populate(&mut self, level: Level, addr: u64, e: EntryPtr, table: PhysAddr) {
        if self.t.arch.is_passthrough(level) {
            return;
        }
        let raw = self
            .t
            .arch
            .encode_table(level, table, self.side == Side::User);
        self.t.write(e, raw);
        if self.side == Side::Kernel {
            self.tracker.record(level, addr);
        }
    }

    /// Record a leaf or clear at `level` (`PGTBL_PTE_MODIFIED` and friends).
    #[inline]
    pub fn note(&mut self, level: Level, addr: u64) {
        if self.side == Side::Kernel {
            self.tracker.record(level, addr);
        }
    }

    /// `p4d_alloc_track()` … `pte_alloc_kernel_track()`: the entry of the
    /// level below `level` for `addr`, allocating and populating its table
    /// if `e` is none.
    pub fn alloc_track(&mut self, level: Level, e: EntryPtr, addr: u64) -> Result<EntryPtr> {
        let child = level.next().ok_or(Error::AlreadyMapped(VirtAddr(addr)))?;
        if self.t.arch.is_folded(child) {
            return Ok(e);
        }
        let table = match self.t.decode(level, e) {
            Decoded::None => {
                let table = if self.side == Side::User && child == Level::Pte {
                    self.t.alloc_user_pte()?.0
                } else {
                    self.t.alloc(child)?
                };
                self.populate(level, addr, e, table);
                table
            }
            Decoded::Leaf(..) => return Err(Error::AlreadyMapped(VirtAddr(addr))),
            // Writing below a shared table would change every alias of it.
            Decoded::Table(t) if self.t.shared.contains(t) => {
                return Err(Error::SharedTable(VirtAddr(addr)))
            }
            Decoded::Table(t) => t,
        };
        // The table just decoded or linked (`level` is no pass-through: its
        // child is not folded), whose entry `offset()` would read and
        // decode again.
        Ok(self.t.entry_in(table, child, addr))
    }
}
