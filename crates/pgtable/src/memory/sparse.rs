//! Sparse simulated physical memory.

use super::TableMemory;
use crate::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use hashbrown::HashMap;

const WORDS: usize = (PAGE_SIZE / 8) as usize;

struct Page([AtomicU64; WORDS]);

impl Page {
    fn zeroed() -> Box<Page> {
        Box::new(Page([const { AtomicU64::new(0) }; WORDS]))
    }
}

struct Frames {
    next: u64,
    end: u64,
    free: Vec<u64>,
    /// Freed multi-page blocks: (address, pages).
    blocks: Vec<(u64, u64)>,
}

/// Physical memory of any size whose pages exist only once written.
///
/// A page never written reads as zero and costs nothing, so a machine with
/// terabytes of address space (and hot-added memory far above it) fits in a
/// few megabytes. Table frames are handed out from `tables`, a range the
/// caller keeps apart from the frames it uses for data.
pub struct SparseMemory {
    pages: spin::RwLock<HashMap<u64, Box<Page>>>,
    frames: spin::Mutex<Frames>,
    /// High memory: its range and its table frames, if any
    /// (`with_high_tables`).
    high: Option<(Range<u64>, spin::Mutex<Frames>)>,
    in_use: AtomicUsize,
    limit: AtomicUsize,
}

impl core::fmt::Debug for SparseMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SparseMemory")
            .field("tables_in_use", &self.tables_in_use())
            .field("pages_backed", &self.pages_backed())
            .finish()
    }
}

impl SparseMemory {
    /// Memory whose table frames come from `tables` (page-aligned bounds).
    #[must_use]
    pub fn new(tables: Range<PhysAddr>) -> Self {
        SparseMemory {
            pages: spin::RwLock::new(HashMap::new()),
            frames: spin::Mutex::new(Frames {
                next: tables.start.0.next_multiple_of(PAGE_SIZE),
                end: tables.end.0 & !(PAGE_SIZE - 1),
                free: Vec::new(),
                blocks: Vec::new(),
            }),
            high: None,
            in_use: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
        }
    }

    /// Also hand out table frames from `high`, a range of high memory
    /// outside the direct map, for [`TableMemory::alloc_table_high`] (user
    /// PTE tables under HIGHPTE).
    #[must_use]
    pub fn with_high_tables(mut self, high: Range<PhysAddr>) -> Self {
        let (start, end) = (
            high.start.0.next_multiple_of(PAGE_SIZE),
            high.end.0 & !(PAGE_SIZE - 1),
        );
        let frames = Frames {
            next: start,
            end,
            free: Vec::new(),
            blocks: Vec::new(),
        };
        self.high = Some((start..end, spin::Mutex::new(frames)));
        self
    }

    /// Refuse table allocations beyond `max` frames in use (a memory
    /// budget, as a machine with little RAM would have).
    pub fn set_table_limit(&self, max: usize) {
        self.limit.store(max, Ordering::SeqCst);
    }

    /// Pages that hold a non-zero word at some point (memory the simulation
    /// really uses).
    pub fn pages_backed(&self) -> usize {
        self.pages.read().len()
    }

    fn split(pa: PhysAddr) -> (u64, usize) {
        (pa.0 >> PAGE_SHIFT, ((pa.0 & (PAGE_SIZE - 1)) / 8) as usize)
    }

    fn with_word<R>(&self, pa: PhysAddr, f: impl FnOnce(&AtomicU64) -> R) -> R {
        let (pfn, idx) = Self::split(pa);
        if let Some(page) = self.pages.read().get(&pfn) {
            return f(&page.0[idx]);
        }
        let mut pages = self.pages.write();
        let page = pages.entry(pfn).or_insert_with(Page::zeroed);
        f(&page.0[idx])
    }
}

impl TableMemory for SparseMemory {
    fn alloc_table(&self) -> Result<PhysAddr> {
        if self.in_use.load(Ordering::SeqCst) >= self.limit.load(Ordering::SeqCst) {
            return Err(Error::OutOfMemory);
        }
        let mut fr = self.frames.lock();
        let pa = match fr.free.pop() {
            Some(pa) => pa,
            None if fr.next < fr.end => {
                let pa = fr.next;
                fr.next += PAGE_SIZE;
                pa
            }
            None => return Err(Error::OutOfMemory),
        };
        self.in_use.fetch_add(1, Ordering::SeqCst);
        Ok(PhysAddr(pa))
    }

    fn free_table(&self, table: PhysAddr) {
        // Dropping the page zeroes it for its next user and gives the host
        // memory back.
        self.pages.write().remove(&(table.0 >> PAGE_SHIFT));
        match &self.high {
            Some((range, h)) if range.contains(&table.0) => h.lock().free.push(table.0),
            _ => self.frames.lock().free.push(table.0),
        }
        self.in_use.fetch_sub(1, Ordering::SeqCst);
    }

    fn alloc_table_high(&self) -> Option<Result<PhysAddr>> {
        let (_, high) = self.high.as_ref()?;
        if self.in_use.load(Ordering::SeqCst) >= self.limit.load(Ordering::SeqCst) {
            return Some(Err(Error::OutOfMemory));
        }
        let mut fr = high.lock();
        let pa = match fr.free.pop() {
            Some(pa) => pa,
            None if fr.next < fr.end => {
                fr.next += PAGE_SIZE;
                fr.next - PAGE_SIZE
            }
            None => return Some(Err(Error::OutOfMemory)),
        };
        self.in_use.fetch_add(1, Ordering::SeqCst);
        Some(Ok(PhysAddr(pa)))
    }

    fn is_high(&self, table: PhysAddr) -> bool {
        self.high
            .as_ref()
            .is_some_and(|(range, _)| range.contains(&table.0))
    }

    fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            return self.alloc_table();
        }
        let in_use = self.in_use.load(Ordering::SeqCst) as u64;
        if in_use + pages > self.limit.load(Ordering::SeqCst) as u64 {
            return Err(Error::OutOfMemory);
        }
        let mut fr = self.frames.lock();
        let pa = if let Some(i) = fr.blocks.iter().position(|b| b.1 == pages) {
            fr.blocks.swap_remove(i).0
        } else {
            let bytes = pages * PAGE_SIZE;
            let start = fr.next.next_multiple_of(bytes);
            if start.checked_add(bytes).is_none_or(|e| e > fr.end) {
                return Err(Error::OutOfMemory);
            }
            // The frames skipped to align the block serve single tables.
            let skipped = (fr.next..start).step_by(PAGE_SIZE as usize);
            let skipped: Vec<u64> = skipped.collect();
            fr.free.extend(skipped);
            fr.next = start + bytes;
            start
        };
        self.in_use.fetch_add(pages as usize, Ordering::SeqCst);
        Ok(PhysAddr(pa))
    }

    fn free_table_block(&self, block: PhysAddr, pages: u64) {
        if pages == 1 {
            return self.free_table(block);
        }
        let mut map = self.pages.write();
        for i in 0..pages {
            map.remove(&((block.0 >> PAGE_SHIFT) + i));
        }
        drop(map);
        self.frames.lock().blocks.push((block.0, pages));
        self.in_use.fetch_sub(pages as usize, Ordering::SeqCst);
    }

    fn read_u64(&self, pa: PhysAddr) -> u64 {
        let (pfn, idx) = Self::split(pa);
        self.pages
            .read()
            .get(&pfn)
            .map_or(0, |p| p.0[idx].load(Ordering::Acquire))
    }

    fn write_u64(&self, pa: PhysAddr, value: u64) {
        if value == 0 && self.read_u64(pa) == 0 {
            return;
        }
        self.with_word(pa, |w| w.store(value, Ordering::Release));
    }

    fn read_u32(&self, pa: PhysAddr) -> u32 {
        let shift = (pa.0 & 4) * 8;
        (self.read_u64(PhysAddr(pa.0 & !7)) >> shift) as u32
    }

    fn write_u32(&self, pa: PhysAddr, value: u32) {
        let shift = (pa.0 & 4) * 8;
        let mask = 0xffff_ffffu64 << shift;
        self.with_word(PhysAddr(pa.0 & !7), |w| {
            let mut old = w.load(Ordering::Acquire);
            loop {
                let new = (old & !mask) | (u64::from(value) << shift);
                match w.compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => break,
                    Err(cur) => old = cur,
                }
            }
        });
    }

    fn tables_in_use(&self) -> usize {
        self.in_use.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_memory_reads_zero_and_costs_nothing() {
        let m = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x4000));
        assert_eq!(m.read_u64(PhysAddr(0xffff_0000_0000)), 0);
        assert_eq!(m.pages_backed(), 0);
        m.write_u64(PhysAddr(0xf_0000_0008), 7);
        assert_eq!(m.read_u64(PhysAddr(0xf_0000_0008)), 7);
        m.write_u32(PhysAddr(0xf_0000_000c), 9);
        assert_eq!(m.read_u32(PhysAddr(0xf_0000_0008)), 7);
        assert_eq!(m.read_u32(PhysAddr(0xf_0000_000c)), 9);
        assert_eq!(m.pages_backed(), 1);
    }

    #[test]
    fn table_frames_come_from_the_range_and_are_reused_zeroed() {
        let m = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x3000));
        let a = m.alloc_table().unwrap();
        let b = m.alloc_table().unwrap();
        assert_eq!((a, b), (PhysAddr(0x1000), PhysAddr(0x2000)));
        assert_eq!(m.alloc_table(), Err(Error::OutOfMemory));
        m.write_u64(a, 0xdead);
        m.free_table(a);
        assert_eq!(m.tables_in_use(), 1);
        let c = m.alloc_table().unwrap();
        assert_eq!(c, a);
        assert_eq!(m.read_u64(c), 0);
    }

    #[test]
    fn blocks_are_aligned_counted_per_frame_and_reused() {
        let m = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x20000));
        let b = m.alloc_table_block(4).unwrap();
        assert_eq!(b, PhysAddr(0x4000), "aligned to its 16 KiB");
        assert_eq!(m.tables_in_use(), 4);
        let single = m.alloc_table().unwrap();
        assert!(single.0 < 0x4000, "skipped frames serve single tables");
        m.write_u64(PhysAddr(b.0 + 0x3ff8), 5);
        m.free_table_block(b, 4);
        assert_eq!(m.tables_in_use(), 1);
        let again = m.alloc_table_block(4).unwrap();
        assert_eq!(again, b);
        assert_eq!(
            m.read_u64(PhysAddr(b.0 + 0x3ff8)),
            0,
            "reused blocks are zeroed"
        );
        m.set_table_limit(6);
        assert_eq!(m.alloc_table_block(4), Err(Error::OutOfMemory));
    }
}
