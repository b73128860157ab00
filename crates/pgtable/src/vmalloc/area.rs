//! The vmalloc area's virtual-range allocator (Linux's `vmap_area` tree,
//! first fit, one guard page after each area).

use crate::addr::PAGE_SIZE;
use alloc::collections::BTreeMap;

/// Free and busy ranges of a region of kernel virtual addresses.
#[derive(Debug, Default)]
pub struct VmapAreas {
    /// Free ranges, start → end (exclusive).
    free: BTreeMap<u64, u64>,
    /// Busy areas, start → mapped size (the guard page is not counted).
    busy: BTreeMap<u64, u64>,
    /// Ranges mapped at fixed addresses (`vmap_range()` of a caller that
    /// chose the address), start → end: taken out of `free` so no later
    /// area lands on them, and given back as they are unmapped.
    fixed: BTreeMap<u64, u64>,
}

/// Remove `start..end` from the ranges of `map` (start → end), handing
/// each piece removed to `removed`. The ranges are disjoint, so the last
/// one starting below `end` is the only one that can still overlap once
/// the pieces after it are gone; what is left of a range cut in two starts
/// at or after `end`, or ends at `start`, and is not met again. Nothing is
/// allocated beyond the map's own nodes: an unmap pays no vector for it.
fn cut(map: &mut BTreeMap<u64, u64>, start: u64, end: u64, mut removed: impl FnMut(u64, u64)) {
    while let Some((s, e)) = map
        .range(..end)
        .next_back()
        .filter(|&(_, &e)| e > start)
        .map(|(&s, &e)| (s, e))
    {
        map.remove(&s);
        if s < start {
            map.insert(s, start);
        }
        if e > end {
            map.insert(end, e);
        }
        removed(s.max(start), e.min(end));
    }
}

/// Add `start..end` (overlapping nothing in `map`) to `map`, merged with
/// the ranges it touches.
fn join(map: &mut BTreeMap<u64, u64>, mut start: u64, mut end: u64) {
    if let Some((&s, &e)) = map.range(..start).next_back() {
        if e == start {
            map.remove(&s);
            start = s;
        }
    }
    if let Some(e) = map.remove(&end) {
        end = e;
    }
    map.insert(start, end);
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
            busy: BTreeMap::new(),
            fixed: BTreeMap::new(),
        }
    }

    /// Reserve `size` bytes aligned to `align` (both powers of two or page
    /// multiples), plus a guard page.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
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
        let size = self.busy.remove(&va)?;
        join(&mut self.free, va, va + size + PAGE_SIZE);
        Some(size)
    }

    /// Record `start..end` as mapped at a fixed address: whatever part of it
    /// is free is taken, so no later [`alloc`](Self::alloc) lands on it.
    pub fn reserve_fixed(&mut self, start: u64, end: u64) {
        let fixed = &mut self.fixed;
        cut(&mut self.free, start, end, |s, e| join(fixed, s, e));
    }

    /// `start..end` was unmapped: the parts of it that
    /// [`reserve_fixed`](Self::reserve_fixed) took become free again.
    pub fn release_fixed(&mut self, start: u64, end: u64) {
        let free = &mut self.free;
        cut(&mut self.fixed, start, end, |s, e| join(free, s, e));
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
        assert!(a.fixed.is_empty());
        assert_eq!(a.alloc(p, p), Some(2 * p), "both pieces free again");
        assert_eq!(a.alloc(9 * p, p), Some(6 * p), "6p..16p joined back whole");
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
