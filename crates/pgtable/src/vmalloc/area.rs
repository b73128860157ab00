//! The vmalloc area's virtual-range allocator (Linux's `vmap_area` tree,
//! first fit, one guard page after each area).

use crate::addr::PAGE_SIZE;
use alloc::collections::BTreeMap;

/// Free and busy ranges of a region of kernel virtual addresses.
#[derive(Default)]
pub struct VmapAreas {
    /// Free ranges, start → end (exclusive).
    free: BTreeMap<u64, u64>,
    /// Busy areas, start → mapped size (the guard page is not counted).
    busy: BTreeMap<u64, u64>,
    /// Ranges mapped at fixed addresses (`vmap_range()` of a caller that
    /// chose the address), start → end: taken out of `free` so no later
    /// area lands on them, and given back as they are unmapped.
    fixed: BTreeMap<u64, u64>,
    /// Fixed ranges unmapped and not yet given back to `free`: the first
    /// `released_len` of them. Every other `&mut` call settles them first.
    released: [(u64, u64); RELEASED],
    released_len: usize,
}

impl core::fmt::Debug for VmapAreas {
    /// The ranges as they stand, with the fixed ranges released but not
    /// yet given back to `free` (the next `&mut` call gives them back).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VmapAreas")
            .field("free", &self.free)
            .field("busy", &self.busy)
            .field("fixed", &self.fixed)
            .field("released", &&self.released[..self.released_len])
            .finish()
    }
}

/// Fixed ranges an unmap may leave to be given back later.
const RELEASED: usize = 4;

/// Remove `start..end` from the ranges of `map` (start → end), handing
/// each piece removed to `removed`. The ranges are disjoint, so the last
/// one starting below `end` is the only one that can overlap once the
/// pieces after it are gone; a range cut in two keeps its left part in
/// place and gets its right part inserted at `end`, and the first range
/// starting at or below `start` is the last one met. Nothing is allocated
/// beyond the map's own nodes.
fn cut(map: &mut BTreeMap<u64, u64>, start: u64, end: u64, mut removed: impl FnMut(u64, u64)) {
    loop {
        let Some((&s, e)) = map.range_mut(..end).next_back() else {
            return;
        };
        let old_end = *e;
        if old_end <= start {
            return;
        }
        if s < start {
            *e = start;
        } else {
            map.remove(&s);
        }
        if old_end > end {
            map.insert(end, old_end);
        }
        removed(s.max(start), old_end.min(end));
        if s <= start {
            return;
        }
    }
}

/// Add `start..end` (overlapping nothing in `map`) to `map`, merged with
/// the ranges it touches: one search finds both neighbours, and a range
/// ending at `start` grows in place.
fn join(map: &mut BTreeMap<u64, u64>, start: u64, end: u64) {
    let mut near = map.range_mut(..=end);
    let mut below = near.next_back();
    // A range starting at `end` is merged in (and removed below).
    let after = match below {
        Some((&s, &mut e)) if s == end => {
            below = near.next_back();
            Some(e)
        }
        _ => None,
    };
    let merged_end = after.unwrap_or(end);
    let grown = match below {
        Some((_, e)) if *e == start => {
            *e = merged_end;
            true
        }
        _ => false,
    };
    if after.is_some() {
        map.remove(&end);
    }
    if !grown {
        map.insert(start, merged_end);
    }
}

impl VmapAreas {
    /// Areas over `start..end`.
    #[must_use]
    pub fn new(start: u64, end: u64) -> Self {
        let mut free = BTreeMap::new();
        if end > start {
            free.insert(start, end);
        }
        VmapAreas {
            free,
            ..VmapAreas::default()
        }
    }

    /// Give the fixed ranges released since the last call back to `free`.
    fn settle(&mut self) {
        let (free, fixed) = (&mut self.free, &mut self.fixed);
        for &(start, end) in &self.released[..self.released_len] {
            cut(fixed, start, end, |s, e| join(free, s, e));
        }
        self.released_len = 0;
    }

    /// Reserve `size` bytes aligned to `align` (both powers of two or page
    /// multiples), plus a guard page.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        self.settle();
        let need = size.checked_add(PAGE_SIZE)?;
        let align = align.max(PAGE_SIZE);
        let (start, end, va) = self.free.iter().find_map(|(&s, &e)| {
            let va = s.checked_next_multiple_of(align)?;
            (va.checked_add(need)? <= e).then_some((s, e, va))
        })?;
        self.free.remove(&start);
        if va > start {
            self.free.insert(start, va);
        }
        if va + need < end {
            self.free.insert(va + need, end);
        }
        self.busy.insert(va, size);
        Some(va)
    }

    /// The size of the busy area starting at `va`.
    #[must_use]
    pub fn size_of(&self, va: u64) -> Option<u64> {
        self.busy.get(&va).copied()
    }

    /// Release the area starting at `va`; returns its size.
    pub fn free(&mut self, va: u64) -> Option<u64> {
        self.settle();
        let size = self.busy.remove(&va)?;
        join(&mut self.free, va, va + size + PAGE_SIZE);
        Some(size)
    }

    /// Record `start..end` as mapped at a fixed address: whatever part of it
    /// is free is taken, so no later [`alloc`](Self::alloc) lands on it.
    pub fn reserve_fixed(&mut self, start: u64, end: u64) {
        self.settle();
        let fixed = &mut self.fixed;
        cut(&mut self.free, start, end, |s, e| join(fixed, s, e));
    }

    /// `start..end` was unmapped: the parts of it that
    /// [`reserve_fixed`](Self::reserve_fixed) took become free again, as
    /// every later call of this allocator sees (its `Debug` shows them
    /// still pending). They are given back when
    /// the next call needs them (as Linux's `free_vmap_area_noflush()`
    /// leaves a freed area to `purge_vmap_area_lazy()`, which the next
    /// `alloc_vmap_area()` runs), so an unmap does not search the trees;
    /// with nothing reserved there is nothing to give back.
    pub fn release_fixed(&mut self, start: u64, end: u64) {
        if self.fixed.is_empty() || start >= end {
            return;
        }
        if self.released_len == RELEASED {
            self.settle();
        }
        self.released[self.released_len] = (start, end);
        self.released_len += 1;
    }

    /// Number of busy areas.
    #[must_use]
    pub fn busy_count(&self) -> usize {
        self.busy.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_ranges_are_never_handed_out_until_released() {
        let p = PAGE_SIZE;
        let mut a = VmapAreas::new(0x10_0000, 0x10_0000 + 16 * p);
        let first = a.alloc(p, p).unwrap();
        assert_eq!(first, 0x10_0000);
        // Fixed mapping right after the first area's guard page.
        a.reserve_fixed(first + 2 * p, first + 6 * p);
        let next = a.alloc(4 * p, p).unwrap();
        assert!(next >= first + 6 * p, "{next:#x} overlaps the fixed range");
        // Partly released: only that part is free again.
        a.release_fixed(first + 2 * p, first + 4 * p);
        assert_eq!(a.alloc(p, p), Some(first + 2 * p));
        a.release_fixed(first + 4 * p, first + 6 * p);
        assert_eq!(a.alloc(p, p), Some(first + 4 * p));
        // Releasing what was never reserved frees nothing (a busy area's
        // guard page stays).
        a.release_fixed(first, first + 2 * p);
        assert_eq!(a.size_of(first), Some(p));
        a.settle();
        assert!(a.fixed.is_empty());
    }

    #[test]
    fn a_fixed_range_over_several_free_ranges_takes_each_piece() {
        let p = PAGE_SIZE;
        let mut a = VmapAreas::new(0, 16 * p);
        let (x, y, z) = (a.alloc(p, p), a.alloc(p, p), a.alloc(p, p));
        assert_eq!((x, y, z), (Some(0), Some(2 * p), Some(4 * p)));
        a.free(2 * p);
        // Free now: 2p..4p and 6p..16p, with busy areas around them.
        a.reserve_fixed(p, 12 * p);
        assert_eq!(
            a.fixed
                .iter()
                .map(|(&s, &e)| (s, e))
                .collect::<alloc::vec::Vec<_>>(),
            [(2 * p, 4 * p), (6 * p, 12 * p)]
        );
        assert_eq!(a.alloc(p, p), Some(12 * p), "only 12p..16p is left free");
        a.free(12 * p);
        a.release_fixed(0, 16 * p);
        a.settle();
        assert!(a.fixed.is_empty());
        assert_eq!(a.alloc(p, p), Some(2 * p), "both pieces free again");
        assert_eq!(a.alloc(9 * p, p), Some(6 * p), "6p..16p joined back whole");
    }

    /// The pages of `map`'s ranges, checking the map is canonical: ranges
    /// non-empty, in order, none touching the next (they would be one).
    fn pages_of(map: &BTreeMap<u64, u64>) -> alloc::vec::Vec<u64> {
        let mut last_end = None;
        let mut pages = alloc::vec::Vec::new();
        for (&s, &e) in map {
            assert!(s < e, "empty range {s:#x}..{e:#x}");
            assert!(last_end.is_none_or(|l| l < s), "{map:x?} not coalesced");
            last_end = Some(e);
            pages.extend((s..e).step_by(PAGE_SIZE as usize));
        }
        pages
    }

    #[test]
    fn fixed_reservations_match_a_page_model() {
        let p = PAGE_SIZE;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        // Under Miri (CI runs the library's unit tests there) a few rounds.
        let rounds = if cfg!(miri) { 3 } else { 200 };
        for _ in 0..rounds {
            let mut a = VmapAreas::new(0, 64 * p);
            for _ in 0..next(6) {
                let _ = a.alloc((1 + next(4)) * p, p);
            }
            let busy: alloc::vec::Vec<u64> = (0..64 * p)
                .step_by(p as usize)
                .filter(|pg| !pages_of(&a.free).contains(pg))
                .collect();
            // Each page: free, fixed, or neither (busy or a guard page).
            let mut fixed = [false; 64];
            let mut free: alloc::vec::Vec<bool> =
                (0..64).map(|i| !busy.contains(&(i * p))).collect();
            for _ in 0..40 {
                let s = next(64);
                let e = s + 1 + next(64 - s);
                if next(2) == 0 {
                    a.reserve_fixed(s * p, e * p);
                    for i in s..e {
                        fixed[i as usize] |= free[i as usize];
                        free[i as usize] = false;
                    }
                } else {
                    a.release_fixed(s * p, e * p);
                    for i in s..e {
                        free[i as usize] |= fixed[i as usize];
                        fixed[i as usize] = false;
                    }
                }
                // Releases wait for the next call (or this settle): some
                // steps look, others go on with releases still pending.
                if next(3) != 0 {
                    continue;
                }
                a.settle();
                let want = |m: &[bool]| -> alloc::vec::Vec<u64> {
                    (0..64).filter(|&i| m[i as usize]).map(|i| i * p).collect()
                };
                assert_eq!(pages_of(&a.free), want(&free), "free after {s}..{e}");
                assert_eq!(pages_of(&a.fixed), want(&fixed), "fixed after {s}..{e}");
            }
            a.settle();
            let fixed_pages = (0..64).filter(|&i| fixed[i as usize]).map(|i| i * p);
            assert_eq!(
                pages_of(&a.fixed),
                fixed_pages.collect::<alloc::vec::Vec<_>>()
            );
        }
    }

    #[test]
    fn a_release_is_seen_by_every_later_call() {
        let p = PAGE_SIZE;
        let mut a = VmapAreas::new(0, 16 * p);
        a.reserve_fixed(0, 16 * p);
        assert_eq!(a.alloc(p, p), None, "all of it fixed");
        // More releases than wait at once: the first ones are given back
        // to make room, the rest by the calls below.
        for i in 0..6 {
            a.release_fixed(i * 2 * p, (i * 2 + 1) * p);
        }
        assert_eq!(
            a.alloc(p, p),
            None,
            "no free piece fits a page and its guard"
        );
        a.release_fixed(12 * p, 16 * p);
        assert_eq!(
            a.alloc(3 * p, p),
            Some(12 * p),
            "the last release, pending, is free"
        );
        // Reserving again after a release takes the released part back.
        a.release_fixed(p, 2 * p);
        a.reserve_fixed(0, 4 * p);
        a.settle();
        assert_eq!(pages_of(&a.fixed).first(), Some(&0));
        assert_eq!(pages_of(&a.free).first(), Some(&(4 * p)));
    }

    #[test]
    fn first_fit_with_guard_and_coalescing() {
        let mut a = VmapAreas::new(0x10000, 0x20000);
        let x = a.alloc(0x2000, PAGE_SIZE).unwrap();
        let y = a.alloc(0x1000, PAGE_SIZE).unwrap();
        assert_eq!(x, 0x10000);
        assert_eq!(y, 0x13000, "one guard page after the first area");
        assert_eq!(a.free(x), Some(0x2000));
        assert_eq!(a.free(x), None);
        assert_eq!(a.alloc(0x2000, PAGE_SIZE), Some(0x10000));
        a.free(0x10000);
        a.free(y);
        assert_eq!(a.alloc(0xf000, PAGE_SIZE), Some(0x10000), "all merged back");
        assert_eq!(a.alloc(0x1000, PAGE_SIZE), None);
    }
}
