//! The map walk: `vmap_range_noflush()` and `vmap_pages_range_noflush()`,
//! one function per level, the mask collected on the way.

use super::pgalloc::Populate;
use super::tables::{for_each_entry, EntryPtr};
use super::unmap::clear_range;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::prot::Prot;
use core::sync::atomic::Ordering;

/// Where the physical pages of a mapping come from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source<'s> {
    /// Physically contiguous from this address (`vmap_range()`, `ioremap()`).
    Contiguous(PhysAddr),
    /// One frame per base page (`vmap_pages_range()`); frames may repeat.
    Pages(&'s [PhysAddr]),
}

/// State of one map walk.
pub(crate) struct MapCtx<'s, 'a, A, M: ?Sized> {
    pub pop: Populate<'a, A, M>,
    pub prot: Prot,
    /// Largest leaf allowed, as a shift (`max_page_shift`).
    pub max_shift: u32,
    pub start: u64,
    pub src: Source<'s>,
    /// End of the last leaf this walk wrote: what to undo on failure.
    pub done: u64,
}

impl<A: Arch, M: TableMemory + ?Sized> MapCtx<'_, '_, A, M> {
    fn pa(&self, addr: u64) -> PhysAddr {
        match self.src {
            Source::Contiguous(base) => PhysAddr(base.0 + (addr - self.start)),
            Source::Pages(frames) => frames[((addr - self.start) / PAGE_SIZE) as usize],
        }
    }

    fn set_leaf(&mut self, level: Level, e: EntryPtr, addr: u64) -> Result<()> {
        let t = self.pop.t;
        if !t.none(level, e) {
            return Err(Error::AlreadyMapped(VirtAddr(addr)));
        }
        t.write(e, t.arch.encode_leaf(level, self.pa(addr), self.prot));
        self.pop.note(level, addr);
        self.done = addr + t.arch.level_size(level);
        Ok(())
    }

    /// `vmap_try_huge_pud()` / `vmap_try_huge_pmd()`.
    fn try_huge(&mut self, level: Level, e: EntryPtr, addr: u64, next: u64) -> Result<bool> {
        let arch = self.pop.t.arch;
        let size = arch.level_size(level);
        let fits = !arch.is_passthrough(level)
            && arch.leaf_allowed(level)
            && self.max_shift >= arch.level_shift(level)
            && next.wrapping_sub(addr) == size
            && matches!(self.src, Source::Contiguous(_))
            && self.pa(addr).is_aligned(size);
        if !fits || !self.pop.t.none(level, e) {
            return Ok(false);
        }
        self.set_leaf(level, e, addr)?;
        Ok(true)
    }

    /// Whether all of `addr..end` can take leaves of `level`.
    fn huge_run(&self, level: Level, addr: u64, end: u64) -> bool {
        let arch = self.pop.t.arch;
        let size = arch.level_size(level);
        !arch.is_passthrough(level)
            && arch.leaf_allowed(level)
            && self.max_shift >= arch.level_shift(level)
            && addr & (size - 1) == 0
            && end.wrapping_sub(addr) & (size - 1) == 0
            && matches!(self.src, Source::Contiguous(_))
            && self.pa(addr).is_aligned(size)
    }

    /// Write leaves of `level` for `addr..end` (all in the table of `first`)
    /// in one loop, recording the mask and undo point once for the run.
    /// Stops at the first entry that is not none, unless `fresh` (a table
    /// nobody has seen, every entry of which is overwritten). Returns where
    /// it stopped (`end` when all were written).
    #[inline(always)]
    fn fill(&mut self, level: Level, first: EntryPtr, addr: u64, end: u64, fresh: bool) -> u64 {
        let arch = *self.pop.t.arch;
        let prot = self.prot;
        let step = arch.level_size(level);
        let shift = arch.level_shift(level);
        let count = (end.wrapping_sub(addr) / step) as usize;
        let from = (addr - self.start) as usize;
        let first_pa = match self.src {
            Source::Contiguous(base) => base.0.wrapping_add(addr - self.start),
            Source::Pages(frames) => frames.get(from / PAGE_SIZE as usize).map_or(0, |f| f.0),
        };
        // With a linear address part, a leaf is the template (the leaf for
        // address 0) or'ed with the frame number times the unit (the
        // address part of one frame); the callers checked every address
        // (aligned, below the physical limit), as the contract requires.
        let unit = arch.leaf_addr_bits(level, PhysAddr(step));
        let template = arch.encode_leaf(level, PhysAddr(0), prot);
        debug_assert!(unit.is_none_or(|unit| {
            template | (first_pa >> shift).wrapping_mul(unit)
                == arch.encode_leaf(level, PhysAddr(first_pa), prot)
        }));
        let written = match (self.src, unit) {
            (Source::Contiguous(_), Some(unit)) => {
                let mut bits = (first_pa >> shift).wrapping_mul(unit);
                fill_entries(self, level, first, addr, fresh, count, |_| {
                    let raw = template | bits;
                    bits = bits.wrapping_add(unit);
                    raw
                })
            }
            (Source::Contiguous(_), None) => {
                fill_entries(self, level, first, addr, fresh, count, |k| {
                    let pa = first_pa.wrapping_add(k as u64 * step);
                    arch.encode_leaf(level, PhysAddr(pa), prot)
                })
            }
            // One frame per base page of the walk (`vmap_pages` sized the
            // range from them): one bounds check for the run. Here the
            // address part is the address itself (x86, arm64).
            (Source::Pages(frames), Some(unit)) if unit == step => {
                let frames = &frames[from / PAGE_SIZE as usize..][..count];
                fill_entries(self, level, first, addr, fresh, count, |k| {
                    template | (frames[k].0 & !(step - 1))
                })
            }
            (Source::Pages(frames), Some(unit)) => {
                let frames = &frames[from / PAGE_SIZE as usize..][..count];
                fill_entries(self, level, first, addr, fresh, count, |k| {
                    template | (frames[k].0 >> shift).wrapping_mul(unit)
                })
            }
            (Source::Pages(frames), None) => {
                let frames = &frames[from / PAGE_SIZE as usize..][..count];
                fill_entries(self, level, first, addr, fresh, count, |k| {
                    arch.encode_leaf(level, frames[k], prot)
                })
            }
        };
        if written != addr {
            let size = self.pop.t.arch.level_size(level);
            self.pop.note(level, addr);
            self.pop.note(level, written.wrapping_sub(size));
            self.done = written;
        }
        written
    }

    /// Map `addr..end` with leaves of `level` from the entry `first` where
    /// the entries are empty; where one holds a table, map that part below
    /// it as the per-entry walk would.
    fn huge_entries(
        &mut self,
        level: Level,
        first: EntryPtr,
        addr: u64,
        end: u64,
        below: fn(&mut Self, EntryPtr, u64, u64) -> Result<()>,
    ) -> Result<()> {
        let stop = self.fill(level, first, addr, end, false);
        if stop == end {
            return Ok(());
        }
        let t = self.pop.t;
        let skipped = (stop - addr) / t.arch.level_size(level) * t.arch.entry_size();
        let e = EntryPtr(PhysAddr(first.0 .0 + skipped));
        for_each_entry(t, self, level, e, stop, end, |cx, e, addr, next| {
            if cx.try_huge(level, e, addr, next)? {
                return Ok(());
            }
            below(cx, e, addr, next)
        })
    }
}

/// Map `cx.start..end` through `root`. On failure, the leaves already written
/// are cleared again; the tables linked in stay (and stay in the mask).
pub(crate) fn map_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    root: PhysAddr,
    end: u64,
    keep_level: Option<Level>,
) -> Result<()> {
    let t = cx.pop.t;
    let start = cx.start;
    let r = for_each_entry(
        t,
        cx,
        Level::Pgd,
        t.pgd_offset(root, start),
        start,
        end,
        vmap_p4d_range,
    );
    if r.is_err() && cx.done != start {
        clear_range(&mut cx.pop, root, start, cx.done, keep_level);
    }
    r
}

fn vmap_p4d_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    pgd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let p4d = cx.pop.alloc_track(Level::Pgd, pgd, addr)?;
    for_each_entry(cx.pop.t, cx, Level::P4d, p4d, addr, end, vmap_pud_range)
}

fn vmap_pud_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    p4d: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    let pud = cx.pop.alloc_track(Level::P4d, p4d, addr)?;
    if cx.huge_run(Level::Pud, addr, end) {
        return cx.huge_entries(Level::Pud, pud, addr, end, vmap_pmd_range);
    }
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pud,
        pud,
        addr,
        end,
        |cx, pud, addr, next| {
            if cx.try_huge(Level::Pud, pud, addr, next)? {
                return Ok(());
            }
            vmap_pmd_range(cx, pud, addr, next)
        },
    )
}

fn vmap_pmd_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    pud: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    if cx.huge_run(Level::Pmd, addr, end) && fill_new_table(cx, Level::Pud, pud, addr, end)? {
        return Ok(());
    }
    let pmd = cx.pop.alloc_track(Level::Pud, pud, addr)?;
    if cx.huge_run(Level::Pmd, addr, end) {
        return cx.huge_entries(Level::Pmd, pmd, addr, end, vmap_pte_range);
    }
    for_each_entry(
        cx.pop.t,
        cx,
        Level::Pmd,
        pmd,
        addr,
        end,
        |cx, pmd, addr, next| {
            if cx.try_huge(Level::Pmd, pmd, addr, next)? {
                return Ok(());
            }
            vmap_pte_range(cx, pmd, addr, next)
        },
    )
}

fn vmap_pte_range<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    pmd: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<()> {
    if fill_new_table(cx, Level::Pmd, pmd, addr, end)? {
        return Ok(());
    }
    let pte = cx.pop.alloc_track(Level::Pmd, pmd, addr)?;
    match cx.fill(Level::Pte, pte, addr, end, false) {
        stop if stop == end => Ok(()),
        stop => Err(Error::AlreadyMapped(VirtAddr(stop))),
    }
}

/// Where the entry `e` of `parent` is none and `addr..end` is all it
/// maps, a whole new table of leaves below it (the caller knows every one
/// may be a leaf): filled before it is linked, so it need not be cleared
/// first (`pte_alloc_kernel_track()` then `set_pte()`s, in the other order
/// but with the same result). Returns whether it did.
#[inline(always)]
fn fill_new_table<A: Arch, M: TableMemory + ?Sized>(
    cx: &mut MapCtx<'_, '_, A, M>,
    parent: Level,
    e: EntryPtr,
    addr: u64,
    end: u64,
) -> Result<bool> {
    let t = cx.pop.t;
    let Some(child) = parent.next() else {
        return Ok(false);
    };
    let span = t.arch.level_size(parent);
    if t.arch.is_passthrough(parent)
        || t.arch.is_folded(child)
        || span / t.arch.level_size(child) != 1 << t.arch.level_bits(child)
        || addr & (span - 1) != 0
        || end.wrapping_sub(addr) != span
        || !t.none(parent, e)
    {
        return Ok(false);
    }
    let table = t.alloc_for_overwrite(child)?;
    cx.fill(child, EntryPtr(table), addr, end, true);
    cx.pop.populate(parent, addr, e, table);
    Ok(true)
}

/// The loop of [`MapCtx::fill`]: write the leaves `raw(0)`, `raw(1)`, …
/// (`count` of them, of `level`) from the entry `first`; returns where it
/// stopped.
#[inline(always)]
fn fill_entries<A: Arch, M: TableMemory + ?Sized>(
    cx: &MapCtx<'_, '_, A, M>,
    level: Level,
    first: EntryPtr,
    addr: u64,
    fresh: bool,
    count: usize,
    // Called once per entry, in order, with the entry's index in the run.
    mut raw: impl FnMut(usize) -> u64,
) -> u64 {
    let t = cx.pop.t;
    let step = t.arch.level_size(level);
    if let Some((words, index)) = t.words_of(first) {
        // The direct-map case: one bounds check for the whole run.
        let words = &words[index..index + count];
        if fresh {
            for (k, w) in words.iter().enumerate() {
                w.store(raw(k), Ordering::Release);
            }
            return addr.wrapping_add(count as u64 * step);
        }
        // A table others may have written into (`pte_none()` before every
        // `set_pte()`): sixteen entries checked none at once, by the or of
        // their words, then written; the block holding an entry is left to
        // the loop after, which writes up to it.
        let mut k = 0;
        for block in words.chunks_exact(16) {
            if block.iter().fold(0, |or, w| or | w.load(Ordering::Relaxed)) != 0 {
                break;
            }
            for w in block {
                w.store(raw(k), Ordering::Release);
                k += 1;
            }
        }
        for w in &words[k..] {
            if w.load(Ordering::Relaxed) != 0 {
                break;
            }
            w.store(raw(k), Ordering::Release);
            k += 1;
        }
        return addr.wrapping_add(k as u64 * step);
    }
    let mut a = addr;
    let mut e = first;
    for k in 0..count {
        if !fresh && !t.none(level, e) {
            return a;
        }
        t.write(e, raw(k));
        a = a.wrapping_add(step);
        e = t.next_entry(e);
    }
    a
}
