//! The unmap walk: `vunmap_range_noflush()`, one function per level. Tables
//! that become empty are freed, except those the root's own entries point
//! at: clearing a top-level kernel entry would have to be synced into every
//! root, and Linux never does it either.

use crate::arch::{Arch, Decoded, Level};
use crate::memory::TableMemory;
use crate::pgalloc::Populate;
use crate::tables::{for_each_entry, EntryPtr};
use crate::{addr::PhysAddr, Result};

/// Clear every leaf in `start..end` through `root` (holes are skipped) and
/// free emptied tables below `keep_level` (`None`: free up to the root).
pub(crate) fn clear_range<A: Arch, M: TableMemory + ?Sized>(
    pop: &mut Populate<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    keep_level: Option<Level>,
) {
    let t = pop.t;
    let mut cx = Unmap { pop, keep_level };
    // The closures below never fail; the Result only fits the shared loop.
    let _ = for_each_entry(
        t,
        &mut cx,
        Level::Pgd,
        t.pgd_offset(root, start),
        start,
        end,
        |cx, pgd, addr, next| {
            vunmap_p4d_range(cx, pgd, addr, next)?;
            cx.free_if_empty(Level::Pgd, pgd, addr, next);
            Ok(())
        },
    );
}

struct Unmap<'p, 'a, A, M: ?Sized> {
    pop: &'p mut Populate<'a, A, M>,
    keep_level: Option<Level>,
}

impl<A: Arch, M: TableMemory + ?Sized> Unmap<'_, '_, A, M> {
    /// The entry below `e` for `addr`, if `e` points at a table.
    fn descend(&self, level: Level, e: EntryPtr, addr: u64) -> Option<EntryPtr> {
        let t = self.pop.t;
        let child = level.next()?;
        if t.arch.is_folded(child) {
            return Some(e);
        }
        t.offset(child, e, addr)
    }

    /// Clear `e` if it is a leaf; the range was checked not to split it.
    fn clear_leaf(&mut self, level: Level, e: EntryPtr, addr: u64) -> bool {
        let t = self.pop.t;
        if t.arch.is_passthrough(level) || !matches!(t.decode(level, e), Decoded::Leaf(..)) {
            return false;
        }
        t.write(e, 0);
        self.pop.note(level, addr);
        true
    }

    /// Free the table under `e` if nothing is left in it.
    fn free_if_empty(&mut self, level: Level, e: EntryPtr, addr: u64, next: u64) {
        let t = self.pop.t;
        if t.arch.is_passthrough(level) || self.keep_level.is_some_and(|k| level <= k) {
            return;
        }
        let Decoded::Table(table) = t.decode(level, e) else {
            return;
        };
        let size = t.arch.level_size(level);
        let whole = addr & (size - 1) == 0 && next.wrapping_sub(addr) == size;
        let child = level.next().unwrap_or(Level::Pte);
        if whole || t.table_is_empty(child, table) {
            t.write(e, 0);
            t.mem.free_table(table);
            self.pop.note(level, addr);
        }
    }
}

fn vunmap_p4d_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, A, M>,
    pgd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(p4d) = cx.descend(Level::Pgd, pgd, addr) else {
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
            vunmap_pud_range(cx, p4d, addr, next)?;
            cx.free_if_empty(Level::P4d, p4d, addr, next);
            Ok(())
        },
    )
}

fn vunmap_pud_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, A, M>,
    p4d: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(pud) = cx.descend(Level::P4d, p4d, addr) else {
        return Ok(());
    };
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pud,
        pud,
        addr,
        end,
        |cx, pud, addr, next| {
            if !cx.clear_leaf(Level::Pud, pud, addr) {
                vunmap_pmd_range(cx, pud, addr, next)?;
                cx.free_if_empty(Level::Pud, pud, addr, next);
            }
            Ok(())
        },
    )
}

fn vunmap_pmd_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, A, M>,
    pud: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(pmd) = cx.descend(Level::Pud, pud, addr) else {
        return Ok(());
    };
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pmd,
        pmd,
        addr,
        end,
        |cx, pmd, addr, next| {
            if !cx.clear_leaf(Level::Pmd, pmd, addr) {
                vunmap_pte_range(cx, pmd, addr, next)?;
                cx.free_if_empty(Level::Pmd, pmd, addr, next);
            }
            Ok(())
        },
    )
}

fn vunmap_pte_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut Unmap<'_, '_, A, M>,
    pmd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let Some(pte) = cx.descend(Level::Pmd, pmd, addr) else {
        return Ok(());
    };
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pte,
        pte,
        addr,
        end,
        |cx, pte, addr, _| {
            cx.clear_leaf(Level::Pte, pte, addr);
            Ok(())
        },
    )
}
