//! The table-frame allocator shared by the memory backends: a bump pointer
//! over a range, a stack of free spans, freed multi-page blocks, and the set
//! of frames handed out.
//!
//! The set of live frames is what makes a bad free harmless: a frame freed
//! twice, a frame never handed out, a block freed with the wrong size or one
//! frame of a block freed alone is refused (the call returns `false`) and
//! changes nothing, so no frame is ever handed out twice. Every arithmetic
//! step is checked, so no address or size a caller passes can overflow.

use crate::addr::PAGE_SIZE;
use crate::error::{Error, Result};
use alloc::vec::Vec;
use hashbrown::HashMap;

/// Table frames taken from one physical range.
pub(crate) struct FrameAlloc {
    /// First frame never handed out (bump pointer).
    next: u64,
    /// End of the range (page-aligned, exclusive).
    end: u64,
    /// Free frames as spans `[start, end)`, the top one served first from
    /// its highest frame: a freed frame is a span of one, the frames skipped
    /// to align a block one span.
    free: Vec<(u64, u64)>,
    /// Freed multi-page blocks: (address, pages).
    blocks: Vec<(u64, u64)>,
    /// Frames handed out and not given back: first frame → pages (1 for a
    /// single table).
    live: HashMap<u64, u64>,
}

impl FrameAlloc {
    /// Frames from the whole pages inside `start..end` (empty if there is
    /// none, including when rounding `start` up would overflow).
    pub(crate) fn new(start: u64, end: u64) -> Self {
        let end = end & !(PAGE_SIZE - 1);
        let next = start.checked_next_multiple_of(PAGE_SIZE).unwrap_or(end);
        FrameAlloc {
            next,
            end,
            free: Vec::new(),
            blocks: Vec::new(),
            live: HashMap::new(),
        }
    }

    /// Start over on the range `start..end`. Refused (returns `false`)
    /// while any frame is handed out: it could be handed out again.
    pub(crate) fn reset(&mut self, start: u64, end: u64) -> bool {
        if !self.live.is_empty() {
            return false;
        }
        *self = FrameAlloc::new(start, end);
        true
    }

    /// Whether nothing is handed out.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.live.is_empty()
    }

    /// Take one frame.
    pub(crate) fn alloc(&mut self) -> Result<u64> {
        // Room for the record first, so that a host out of memory leaves
        // everything as it was.
        self.live.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        let pa = if let Some(top) = self.free.last_mut() {
            // A span is never empty: it is popped with its last frame.
            top.1 -= PAGE_SIZE;
            let pa = top.1;
            if top.0 == top.1 {
                self.free.pop();
            }
            pa
        } else if self.next < self.end {
            // `next < end <= !(PAGE_SIZE - 1)`: no overflow.
            self.next += PAGE_SIZE;
            self.next - PAGE_SIZE
        } else {
            return Err(Error::OutOfMemory);
        };
        self.live.insert(pa, 1);
        Ok(pa)
    }

    /// Take the single frame `pa` (a table someone else built, adopted):
    /// from the frames never handed out or from a freed span. Returns
    /// `false`, changing nothing, if `pa` is not a free frame of the range
    /// (or lies in a freed multi-page block).
    pub(crate) fn take(&mut self, pa: u64) -> bool {
        if !pa.is_multiple_of(PAGE_SIZE) || self.live.contains_key(&pa) {
            return false;
        }
        if self.live.try_reserve(1).is_err() || self.free.try_reserve(1).is_err() {
            return false;
        }
        if pa >= self.next && pa < self.end {
            // The frames skipped over stay free, as one span.
            if pa > self.next {
                self.free.insert(0, (self.next, pa));
            }
            self.next = pa + PAGE_SIZE;
        } else if let Some(i) = self.free.iter().position(|&(s, e)| s <= pa && pa < e) {
            let (s, e) = self.free[i];
            match (s == pa, pa + PAGE_SIZE == e) {
                (true, true) => {
                    self.free.remove(i);
                }
                (true, false) => self.free[i].0 = pa + PAGE_SIZE,
                (false, true) => self.free[i].1 = pa,
                (false, false) => {
                    self.free[i].1 = pa;
                    self.free.insert(i, (pa + PAGE_SIZE, e));
                }
            }
        } else {
            return false;
        }
        self.live.insert(pa, 1);
        true
    }

    /// Whether `pa` is a single frame handed out (or taken) and not given
    /// back.
    pub(crate) fn is_live(&self, pa: u64) -> bool {
        self.live.get(&pa) == Some(&1)
    }

    /// Give back the single frame `pa`. Returns `false`, changing nothing,
    /// if `pa` is not a single frame handed out by [`alloc`](Self::alloc).
    pub(crate) fn free(&mut self, pa: u64) -> bool {
        if self.live.get(&pa) != Some(&1) {
            return false;
        }
        self.live.remove(&pa);
        // If the host cannot grow the stack the frame is lost to the
        // allocator; it is not live any more either, so it is never handed
        // out twice.
        if self.free.try_reserve(1).is_ok() {
            self.free.push((pa, pa + PAGE_SIZE));
        }
        true
    }

    /// Take `pages` (2 or more) contiguous frames aligned to their total
    /// size.
    pub(crate) fn alloc_block(&mut self, pages: u64) -> Result<u64> {
        if pages < 2 {
            return Err(Error::OutOfMemory);
        }
        self.live.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
        if let Some(i) = self.blocks.iter().position(|b| b.1 == pages) {
            let pa = self.blocks.swap_remove(i).0;
            self.live.insert(pa, pages);
            return Ok(pa);
        }
        let bytes = pages.checked_mul(PAGE_SIZE).ok_or(Error::OutOfMemory)?;
        let start = self
            .next
            .checked_next_multiple_of(bytes)
            .ok_or(Error::OutOfMemory)?;
        if start.checked_add(bytes).is_none_or(|e| e > self.end) {
            return Err(Error::OutOfMemory);
        }
        if start > self.next {
            // The frames skipped to align the block serve single tables.
            self.free.try_reserve(1).map_err(|_| Error::OutOfMemory)?;
            self.free.push((self.next, start));
        }
        self.next = start + bytes;
        self.live.insert(start, pages);
        Ok(start)
    }

    /// Give back the block of `pages` frames at `pa`. Returns `false`,
    /// changing nothing, unless [`alloc_block`](Self::alloc_block) handed
    /// out exactly that block.
    pub(crate) fn free_block(&mut self, pa: u64, pages: u64) -> bool {
        if pages < 2 || self.live.get(&pa) != Some(&pages) {
            return false;
        }
        self.live.remove(&pa);
        if self.blocks.try_reserve(1).is_ok() {
            self.blocks.push((pa, pages));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_frees_are_refused_and_nothing_is_handed_out_twice() {
        let mut f = FrameAlloc::new(0x1000, 0x20000);
        let a = f.alloc().unwrap();
        let b = f.alloc_block(4).unwrap();
        assert_eq!(b, 0x4000);
        assert!(f.free(a));
        assert!(!f.free(a), "double free");
        assert!(!f.free(0x1_0000), "never handed out");
        assert!(!f.free(a + 8), "not a frame");
        assert!(!f.free(b + PAGE_SIZE), "inside a block");
        assert!(!f.free(b), "a block freed as a single frame");
        assert!(!f.free_block(b, 2), "wrong size");
        assert!(!f.free_block(b, 8), "wrong size");
        assert!(!f.free_block(a, 4), "not a block");
        assert!(f.free_block(b, 4));
        assert!(!f.free_block(b, 4), "double free of a block");
        let mut seen = hashbrown::HashSet::new();
        while let Ok(pa) = f.alloc() {
            assert!(seen.insert(pa), "{pa:#x} handed out twice");
        }
        assert!(!seen.contains(&b), "the freed block is kept for blocks");
        assert_eq!(f.alloc_block(4), Ok(b));
        assert!(!f.is_idle());
        assert!(!f.reset(0, 0x1000), "frames are in use");
    }

    #[test]
    fn hostile_sizes_and_ranges_do_not_overflow() {
        let mut f = FrameAlloc::new(u64::MAX, u64::MAX);
        assert_eq!(f.alloc(), Err(Error::OutOfMemory));
        let mut f = FrameAlloc::new(u64::MAX - 0x3fff, u64::MAX);
        for pages in [0, 1, 4, u64::MAX, u64::MAX / PAGE_SIZE, 1 << 51, 1 << 52] {
            assert_eq!(f.alloc_block(pages), Err(Error::OutOfMemory), "{pages}");
        }
        let a = f.alloc().unwrap();
        assert_eq!(a, u64::MAX - 0x3fff);
        assert_eq!(f.alloc().unwrap(), a + PAGE_SIZE);
        assert_eq!(f.alloc().unwrap(), a + 2 * PAGE_SIZE);
        assert_eq!(f.alloc(), Err(Error::OutOfMemory));
        assert!(!f.free(u64::MAX));
        assert!(!f.free_block(u64::MAX, u64::MAX));
        let mut f = FrameAlloc::new(0x5000, 0x1000);
        assert_eq!(f.alloc(), Err(Error::OutOfMemory), "empty range");
        assert!(f.reset(0x1000, 0x2000));
        assert_eq!(f.alloc(), Ok(0x1000));
    }

    #[test]
    fn taken_frames_are_never_handed_out_and_free_like_any_other() {
        let mut f = FrameAlloc::new(0x1000, 0x9000);
        assert!(f.take(0x4000), "from the bump range");
        assert!(!f.take(0x4000), "twice");
        assert!(!f.take(0x9000) && !f.take(0x4008), "outside, misaligned");
        let a = f.alloc().unwrap();
        assert!(f.free(a));
        assert!(f.take(a), "from a freed span");
        let mut got = Vec::new();
        while let Ok(pa) = f.alloc() {
            got.push(pa);
        }
        got.sort();
        assert_eq!(
            got,
            [0x1000, 0x2000, 0x3000, 0x5000, 0x6000, 0x7000, 0x8000]
                .into_iter()
                .filter(|&p| p != a)
                .collect::<Vec<_>>()
        );
        assert!(f.is_live(0x4000) && f.free(0x4000) && !f.is_live(0x4000));
        assert_eq!(f.alloc(), Ok(0x4000));
    }

    #[test]
    fn skipped_frames_serve_singles_highest_first() {
        let mut f = FrameAlloc::new(0x1000, 0x20000);
        assert_eq!(f.alloc_block(4), Ok(0x4000));
        assert_eq!(f.alloc(), Ok(0x3000));
        assert_eq!(f.alloc(), Ok(0x2000));
        assert!(f.free(0x3000));
        assert_eq!(f.alloc(), Ok(0x3000), "last freed, first served");
        assert_eq!(f.alloc(), Ok(0x1000));
        assert_eq!(f.alloc(), Ok(0x8000));
    }
}
