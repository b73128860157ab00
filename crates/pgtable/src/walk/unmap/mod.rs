//! The unmap walk: `vunmap_range_noflush()`, one function per level.
//!
//! The same walk runs twice for a strict unmap: first as a check that
//! changes nothing and stops at the first hole or split leaf, then as the
//! clear. Tables that become empty are freed, except those the root's own
//! entries point at: clearing a top-level kernel entry would have to be
//! synced into every root, and Linux never does it either.

mod runs;

use super::pgalloc::Populate;
use super::tables::{for_each_entry, for_each_present_entry, EntryPtr};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use runs::LeafRuns;

/// Whether the walk only checks or clears.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Refuse a hole ([`Error::NotMapped`]) or a leaf reaching outside the
    /// range ([`Error::SplitsLeaf`]); change nothing.
    Check,
    /// Clear every leaf (holes are skipped) and free emptied tables.
    Clear,
}

/// Run `pass` over `start..end` through `root`, freeing emptied tables below
/// `keep_level` (`None`: up to the root).
pub(crate) fn unmap_range<A: Arch, M: TableMemory + ?Sized>(
    pop: &mut Populate<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    keep_level: Option<Level>,
    pass: Pass,
) -> Result<Cleared> {
    let mut runs = LeafRuns::default();
    walk(pop, root, start, end, keep_level, pass, &mut runs, false)
}

/// `vunmap_range()`: check that `start..end` is mapped in full and splits
/// no leaf, then clear it, as [`Pass::Check`] then [`Pass::Clear`] over
/// [`unmap_range`] would; the clear pass reuses what the check found (the
/// two run back to back, under the caller's lock, and the check changes
/// nothing).
pub(crate) fn unmap_checked<A: Arch, M: TableMemory + ?Sized>(
    pop: &mut Populate<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    keep_level: Option<Level>,
) -> Result<Cleared> {
    let mut runs = LeafRuns::default();
    let mut pass =
        |pass, checked| walk(pop, root, start, end, keep_level, pass, &mut runs, checked);
    pass(Pass::Check, false)?;
    pass(Pass::Clear, true)
}

#[allow(clippy::too_many_arguments)]
fn walk<A: Arch, M: TableMemory + ?Sized>(
    pop: &mut Populate<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    keep_level: Option<Level>,
    pass: Pass,
    runs: &mut LeafRuns,
    checked: bool,
) -> Result<Cleared> {
    let t = pop.t;
    let mut cx = Unmap {
        pop,
        keep_level,
        pass,
        cleared: Cleared::default(),
        runs,
        checked,
    };
    let first = t.pgd_offset(root, start);
    let body = |cx: &mut Unmap<'_, '_, '_, A, M>, pgd, addr, next| {
        vunmap_p4d_range(cx, pgd, addr, next)?;
        cx.free_if_empty(Level::Pgd, pgd, addr, next);
        Ok(())
    };
    match pass {
        // The check pass goes on to refuse a hole; the clear passes empty
        // top-level entries by, as `cx.hole()` does at the other levels.
        Pass::Check => for_each_entry(t, &mut cx, Level::Pgd, first, start, end, body)?,
        Pass::Clear => for_each_present_entry(t, &mut cx, Level::Pgd, first, start, end, body)?,
    }
    Ok(cx.cleared)
}

/// Clear every leaf in `start..end` (holes are skipped).
pub(crate) fn clear_range<A: Arch, M: TableMemory + ?Sized>(
    pop: &mut Populate<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    keep_level: Option<Level>,
) {
    // The clear pass never fails.
    let _ = unmap_range(pop, root, start, end, keep_level, Pass::Clear);
}

struct Unmap<'p, 'a, 'r, A, M: ?Sized> {
    pop: &'p mut Populate<'a, A, M>,
    keep_level: Option<Level>,
    pass: Pass,
    cleared: Cleared,
    /// The leaf runs the check pass found (recorded by it, read by the
    /// clear pass after it).
    runs: &'r mut LeafRuns,
    /// A clear pass right after a check pass of the same range that
    /// succeeded: every entry of the range is a leaf or a table, no hole.
    checked: bool,
}

/// What a clear pass removed: what the TLB flush after it must cover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cleared {
    /// The smallest level at which a leaf was cleared (its size is the
    /// flush stride, `flush_tlb_mm_range()`'s `stride_shift`).
    pub smallest_leaf: Option<Level>,
    /// Whether a table was freed (`mmu_gather::freed_tables`: cached
    /// paging-structure entries must go too).
    pub freed_tables: bool,
}

impl Cleared {
    fn leaf(&mut self, level: Level) {
        // Deeper levels compare greater (Pgd < … < Pte).
        if self.smallest_leaf.is_none_or(|l| level > l) {
            self.smallest_leaf = Some(level);
        }
    }
}

impl<A: Arch, M: TableMemory + ?Sized> Unmap<'_, '_, '_, A, M> {
    /// The entry below `e` for `addr`, if `e` points at a table; a hole is
    /// an error in the check pass.
    fn descend(&self, level: Level, e: EntryPtr, addr: u64) -> Result<Option<EntryPtr>> {
        let t = self.pop.t;
        let Some(child) = level.next() else {
            return Ok(None);
        };
        if t.arch.is_folded(child) {
            return Ok(Some(e));
        }
        match t.decode(level, e) {
            // A shared table is linked elsewhere too: clearing below it
            // would unmap every alias, and freeing it would free a table
            // still linked.
            Decoded::Table(table) if t.shared.contains(table) => match self.pass {
                Pass::Check => Err(Error::SharedTable(VirtAddr(addr))),
                Pass::Clear => Ok(None),
            },
            // The table just decoded: `offset()` would read and decode
            // the entry again.
            Decoded::Table(table) => Ok(Some(t.entry_in(table, child, addr))),
            Decoded::None if self.pass == Pass::Check => Err(Error::NotMapped(VirtAddr(addr))),
            _ => Ok(None),
        }
    }

    /// Handle `e` if it is a leaf of `level` covering `addr..next`: check
    /// that it lies inside the range, or clear it. Returns whether it was a
    /// leaf.
    fn leaf(&mut self, level: Level, e: EntryPtr, addr: u64, next: u64) -> Result<bool> {
        let t = self.pop.t;
        if t.arch.is_passthrough(level) || !t.arch.is_leaf(level, t.read(e)) {
            return Ok(false);
        }
        let size = t.arch.level_size(level);
        match self.pass {
            Pass::Check if addr & (size - 1) != 0 || next.wrapping_sub(addr) != size => {
                Err(Error::SplitsLeaf(VirtAddr(addr & !(size - 1))))
            }
            Pass::Check => Ok(true),
            Pass::Clear => {
                t.write(e, 0);
                self.pop.note(level, addr);
                self.cleared.leaf(level);
                Ok(true)
            }
        }
    }

    /// Free the table under `e` if nothing is left in it.
    /// Whether the clear pass may pass `e` by: an empty entry has nothing
    /// below it to clear or free (`p?d_none_or_clear_bad()` and `continue`
    /// in `vunmap_p?d_range()`), found without decoding it. The check
    /// pass still goes on to refuse the hole.
    #[inline]
    fn hole(&self, e: EntryPtr) -> bool {
        self.pass == Pass::Clear && self.pop.t.read(e) == 0
    }

    fn free_if_empty(&mut self, level: Level, e: EntryPtr, addr: u64, next: u64) {
        let t = self.pop.t;
        if self.pass == Pass::Check
            || t.arch.is_passthrough(level)
            || self.keep_level.is_some_and(|k| level <= k)
        {
            return;
        }
        let Decoded::Table(table) = t.decode(level, e) else {
            return;
        };
        if t.shared.contains(table) {
            return;
        }
        let size = t.arch.level_size(level);
        let whole = addr & (size - 1) == 0 && next.wrapping_sub(addr) == size;
        let child = level.next().unwrap_or(Level::Pte);
        if whole || t.table_is_empty(child, table) {
            t.write(e, 0);
            t.free(child, table);
            self.pop.note(level, addr);
            self.cleared.freed_tables = true;
        }
    }
}

fn vunmap_p4d_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, '_, A, M>,
    pgd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    // A folded P4D is the PGD entry itself (`p4d_offset()` returns it in
    // `pgtable-nop4d.h`), one entry over the same range that holds no
    // leaf: no descent and no loop over one entry, straight on to the PUD
    // level, then the P4D's own freeing of the table below it.
    if cx.pop.t.arch.is_folded(Level::P4d) {
        vunmap_pud_range(cx, pgd, addr, end)?;
        cx.free_if_empty(Level::P4d, pgd, addr, end);
        return Ok(());
    }
    let Some(p4d) = cx.descend(Level::Pgd, pgd, addr)? else {
        return Ok(());
    };
    for_each_entry(
        cx.pop.t,
        cx,
        Level::P4d,
        p4d,
        addr,
        end,
        |cx, p4d, addr, next| {
            if cx.hole(p4d) {
                return Ok(());
            }
            vunmap_pud_range(cx, p4d, addr, next)?;
            cx.free_if_empty(Level::P4d, p4d, addr, next);
            Ok(())
        },
    )
}

fn vunmap_pud_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, '_, A, M>,
    p4d: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(pud) = cx.descend(Level::P4d, p4d, addr)? else {
        return Ok(());
    };
    let stop = cx.leaf_run(Level::Pud, pud, addr, end);
    if stop == end {
        return Ok(());
    }
    let first = cx.entry_for(Level::Pud, pud, addr, stop);
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pud,
        first,
        stop,
        end,
        |cx, pud, addr, next| {
            if cx.hole(pud) {
                return Ok(());
            }
            if !cx.leaf(Level::Pud, pud, addr, next)? {
                vunmap_pmd_range(cx, pud, addr, next)?;
                cx.free_if_empty(Level::Pud, pud, addr, next);
            }
            Ok(())
        },
    )
}

fn vunmap_pmd_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, '_, A, M>,
    pud: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(pmd) = cx.descend(Level::Pud, pud, addr)? else {
        return Ok(());
    };
    let stop = cx.leaf_run(Level::Pmd, pmd, addr, end);
    if stop == end {
        return Ok(());
    }
    let first = cx.entry_for(Level::Pmd, pmd, addr, stop);
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pmd,
        first,
        stop,
        end,
        |cx, pmd, addr, next| {
            if cx.hole(pmd) {
                return Ok(());
            }
            if !cx.leaf(Level::Pmd, pmd, addr, next)? {
                vunmap_pte_range(cx, pmd, addr, next)?;
                cx.free_if_empty(Level::Pmd, pmd, addr, next);
            }
            Ok(())
        },
    )
}

fn vunmap_pte_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, '_, A, M>,
    pmd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    match cx.descend(Level::Pmd, pmd, addr)? {
        Some(pte) => cx.ptes(pte, addr, end),
        None => Ok(()),
    }
}
