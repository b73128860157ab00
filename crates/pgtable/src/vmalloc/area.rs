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
        let (mut start, mut end) = (va, va + size + PAGE_SIZE);
        if let Some((&s, &e)) = self.free.range(..start).next_back() {
            if e == start {
                self.free.remove(&s);
                start = s;
            }
        }
        if let Some(e) = self.free.remove(&end) {
            end = e;
        }
        self.free.insert(start, end);
        Some(size)
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
