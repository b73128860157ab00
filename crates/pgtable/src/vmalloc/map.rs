//! The map walk: `vmap_range_noflush()` and `vmap_pages_range_noflush()`,
//! one function per level, the mask collected on the way.

use super::unmap::clear_range;
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::pgalloc::Populate;
use crate::prot::Prot;
use crate::tables::{for_each_entry, EntryPtr};

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
    let pmd = cx.pop.alloc_track(Level::Pud, pud, addr)?;
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
    let pte = cx.pop.alloc_track(Level::Pmd, pmd, addr)?;
    // One tight loop over the entries of this PTE table: each leaf is
    // checked and written, and the mask and undo point are updated once for
    // the run of leaves written (the same mask, range and `done` as one
    // `set_leaf` per entry would leave, failure included).
    let written = match cx.src {
        Source::Contiguous(base) => {
            let delta = base.0.wrapping_sub(cx.start);
            fill_ptes(cx, pte, addr, end, |a| PhysAddr(a.wrapping_add(delta)))
        }
        Source::Pages(frames) => {
            let first = ((addr - cx.start) / PAGE_SIZE) as usize;
            let frames = &frames[first..];
            fill_ptes(cx, pte, addr, end, |a| {
                frames[((a - addr) / PAGE_SIZE) as usize]
            })
        }
    };
    if written != addr {
        let step = cx.pop.t.arch.level_size(Level::Pte);
        cx.pop.note(Level::Pte, addr);
        cx.pop.note(Level::Pte, written.wrapping_sub(step));
        cx.done = written;
    }
    if written == end {
        Ok(())
    } else {
        Err(Error::AlreadyMapped(VirtAddr(written)))
    }
}

/// Write PTE leaves for `addr..end` from the entry `first` until one is not
/// none; returns where it stopped (`end` when all were written).
#[inline(always)]
fn fill_ptes<A: Arch, M: TableMemory + ?Sized>(
    cx: &MapCtx<'_, '_, A, M>,
    first: EntryPtr,
    addr: u64,
    end: u64,
    pa: impl Fn(u64) -> PhysAddr,
) -> u64 {
    let t = cx.pop.t;
    let step = t.arch.level_size(Level::Pte);
    let prot = cx.prot;
    let mut e = first;
    let mut a = addr;
    loop {
        if !t.none(Level::Pte, e) {
            return a;
        }
        t.write(e, t.arch.encode_leaf(Level::Pte, pa(a), prot));
        a = a.wrapping_add(step);
        if a == end {
            return a;
        }
        e = t.next_entry(e);
    }
}
