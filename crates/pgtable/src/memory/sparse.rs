//! Sparse simulated physical memory.

use super::frames::FrameAlloc;
use crate::addr::{PhysAddr, PAGE_SHIFT, PAGE_SIZE};
use crate::error::{Error, Result};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use hashbrown::hash_map::{Entry, HashMap};

mod pages;
#[cfg(test)]
use pages::CHUNK;
use pages::{Index, Page, PageRef};

/// The whole pages of `start..end`, without overflow on any bounds.
fn whole_pages(start: u64, end: u64) -> Range<u64> {
    let start = start
        .checked_next_multiple_of(PAGE_SIZE)
        .unwrap_or(!(PAGE_SIZE - 1));
    let end = end & !(PAGE_SIZE - 1);
    start..end.max(start)
}

/// Physical memory of any size whose pages exist only once written.
///
/// A page never written reads as zero and costs nothing, so a machine with
/// terabytes of address space (and hot-added memory far above it) fits in a
/// few megabytes. Table frames are handed out from `tables`, a range the
/// caller keeps apart from the frames it uses for data.
///
/// The pages of the table ranges are found without a lock, are lent whole
/// through [`TableMemory::table_words`](super::TableMemory::table_words), and are never given back to the
/// host while the memory lives (a freed table is zeroed in place), so a lent
/// page cannot be freed under its borrower. They are stored 512 to a chunk
/// (2 MiB), made zeroed when its first page is touched, so the first touch
/// of each other page is a flag, not an allocation (the host's own page
/// fault for it is still paid, and for a table frame at hand-out: what
/// `pgtable bench` part 3 measures). Pages elsewhere sit in a hash map
/// behind a lock.
///
/// For checkers, the memory also knows which table frames are allocated
/// ([`is_table_allocated`](Self::is_table_allocated)) and can log the pages
/// written ([`log_writes`](Self::log_writes),
/// [`take_written`](Self::take_written)).
pub struct SparseMemory {
    /// Table frames (and high table frames, if any).
    index: Index,
    high_index: Option<Index>,
    /// Every other page.
    pages: spin::RwLock<HashMap<u64, Box<Page>>>,
    frames: spin::Mutex<FrameAlloc>,
    /// High memory: its range and its table frames, if any
    /// (`with_high_tables`).
    high: Option<(Range<u64>, spin::Mutex<FrameAlloc>)>,
    in_use: AtomicUsize,
    limit: AtomicUsize,
    backed: AtomicUsize,
    logging: AtomicBool,
    log: spin::Mutex<Vec<u64>>,
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
    /// Memory whose table frames come from the whole pages of `tables`
    /// (none if it holds no whole page).
    #[must_use]
    pub fn new(tables: Range<PhysAddr>) -> Self {
        SparseMemory {
            index: Index::new(&whole_pages(tables.start.0, tables.end.0)),
            high_index: None,
            pages: spin::RwLock::new(HashMap::new()),
            frames: spin::Mutex::new(FrameAlloc::new(tables.start.0, tables.end.0)),
            high: None,
            in_use: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
            backed: AtomicUsize::new(0),
            logging: AtomicBool::new(false),
            log: spin::Mutex::new(Vec::new()),
        }
    }

    /// Also hand out table frames from `high`, a range of high memory
    /// outside the direct map, for [`TableMemory::alloc_table_high`](super::TableMemory::alloc_table_high) (user
    /// PTE tables under HIGHPTE). Table frames are taken from its whole
    /// pages; the whole range counts as high memory for
    /// [`TableMemory::is_high`](super::TableMemory::is_high).
    #[must_use]
    pub fn with_high_tables(mut self, high: Range<PhysAddr>) -> Self {
        let pages = whole_pages(high.start.0, high.end.0);
        self.high_index = Some(Index::new(&pages));
        let frames = FrameAlloc::new(high.start.0, high.end.0);
        self.high = Some((high.start.0..high.end.0, spin::Mutex::new(frames)));
        self
    }

    /// The allocators `table` may come from, the likelier first (the high
    /// one for an address in the high range).
    fn frames_of(&self, table: u64) -> [Option<&spin::Mutex<FrameAlloc>>; 2] {
        match &self.high {
            Some((range, h)) if range.contains(&table) => [Some(h), Some(&self.frames)],
            Some((_, h)) => [Some(&self.frames), Some(h)],
            None => [Some(&self.frames), None],
        }
    }

    /// Refuse table allocations beyond `max` frames in use (a memory
    /// budget, as a machine with little RAM would have).
    pub fn set_table_limit(&self, max: usize) {
        self.limit.store(max, Ordering::SeqCst);
    }

    /// Pages that hold a non-zero word at some point (memory the simulation
    /// really uses), and table frames ever handed out.
    pub fn pages_backed(&self) -> usize {
        self.backed.load(Ordering::Relaxed) + self.pages.read().len()
    }

    /// Start (`true`) or stop logging the pages written, for
    /// [`take_written`](Self::take_written). Off by default.
    pub fn log_writes(&self, on: bool) {
        self.logging.store(on, Ordering::SeqCst);
    }

    /// The page addresses written since the last call (or since logging
    /// began), each once, in no particular order; the log starts afresh.
    ///
    /// A page counts as written when a word of it is stored to, when it is
    /// allocated or freed as a table frame (which zeroes it), and when it is
    /// lent through [`TableMemory::table_words`](super::TableMemory::table_words) (whose borrower may store).
    pub fn take_written(&self) -> Vec<PhysAddr> {
        let pfns = core::mem::take(&mut *self.log.lock());
        pfns.into_iter()
            .map(|pfn| {
                self.with_page(pfn, |p, _| p.flags.logged.store(false, Ordering::SeqCst));
                PhysAddr(pfn << PAGE_SHIFT)
            })
            .collect()
    }

    /// Whether the frame at `table` (any address inside it) is a table
    /// frame handed out and not given back.
    pub fn is_table_allocated(&self, table: PhysAddr) -> bool {
        let pfn = table.0 >> PAGE_SHIFT;
        let allocated = |p: PageRef<'_>| p.flags.allocated.load(Ordering::SeqCst);
        match self.indexed(pfn, false) {
            Some(page) => page.is_some_and(allocated),
            None => self
                .pages
                .read()
                .get(&pfn)
                .is_some_and(|p| allocated(p.get())),
        }
    }

    /// The words of the page at `table` (page-aligned) for reading, if it is
    /// a table frame ever handed out. Unlike [`TableMemory::table_words`](super::TableMemory::table_words) it
    /// does not count as a write in the log: it is for checkers, which must
    /// not store through it.
    pub fn peek_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        if table.0 & (PAGE_SIZE - 1) != 0 {
            return None;
        }
        let page = self.indexed(table.0 >> PAGE_SHIFT, false)??;
        page.flags
            .backed
            .load(Ordering::Acquire)
            .then_some(&page.words[..])
    }

    fn split(pa: PhysAddr) -> (u64, usize) {
        (pa.0 >> PAGE_SHIFT, ((pa.0 & (PAGE_SIZE - 1)) / 8) as usize)
    }

    /// An indexed (table-range) page: `None` outside the table ranges,
    /// `Some(None)` where its chunk does not exist yet; `create` makes it.
    #[inline]
    fn indexed(&self, pfn: u64, create: bool) -> Option<Option<PageRef<'_>>> {
        match self.index.page(pfn, create) {
            Some(p) => Some(p),
            None => self.high_index.as_ref()?.page(pfn, create),
        }
    }

    /// The indexed page `pfn`, marked backed, and whether it was backed
    /// already (if not, it holds only zeroes).
    #[inline]
    fn indexed_page(&self, pfn: u64) -> Option<(PageRef<'_>, bool)> {
        let page = self.indexed(pfn, true)??;
        let backed = &page.flags.backed;
        // Marked before anything is stored into it, so an unmarked page
        // holds only the zeroes its chunk was made with.
        let was = backed.load(Ordering::Acquire) || backed.swap(true, Ordering::AcqRel);
        if !was {
            self.backed.fetch_add(1, Ordering::Relaxed);
        }
        Some((page, was))
    }

    #[inline]
    fn note_written(&self, pfn: u64, page: PageRef<'_>) {
        let logged = &page.flags.logged;
        if self.logging.load(Ordering::Relaxed)
            && !logged.load(Ordering::Relaxed)
            && !logged.swap(true, Ordering::SeqCst)
        {
            self.log.lock().push(pfn);
        }
    }

    /// Run `f` on page `pfn`, created zeroed if missing, with whether it
    /// was backed before (if not, it holds only zeroes).
    fn with_page<R>(&self, pfn: u64, f: impl FnOnce(PageRef<'_>, bool) -> R) -> R {
        if let Some((page, was)) = self.indexed_page(pfn) {
            return f(page, was);
        }
        if let Some(page) = self.pages.read().get(&pfn) {
            return f(page.get(), true);
        }
        match self.pages.write().entry(pfn) {
            Entry::Occupied(page) => f(page.get().get(), true),
            Entry::Vacant(slot) => f(slot.insert(Page::zeroed()).get(), false),
        }
    }

    fn with_word<R>(&self, pa: PhysAddr, f: impl FnOnce(&AtomicU64) -> R) -> R {
        let (pfn, idx) = Self::split(pa);
        self.with_page(pfn, |p, _| {
            self.note_written(pfn, p);
            f(&p.words[idx])
        })
    }

    /// A table frame handed out: back it, zeroed, and mark it allocated.
    /// A page never backed is zero already: its first touch stores nothing.
    fn hand_out(&self, pa: u64) {
        let pfn = pa >> PAGE_SHIFT;
        self.with_page(pfn, |p, was_backed| {
            if was_backed {
                for w in p.words {
                    w.store(0, Ordering::Relaxed);
                }
            } else {
                // Still as its chunk was made: zero already. One store
                // makes the host back the page now, so its first-touch
                // price (a host page fault) is paid when the table is
                // handed out, as `pagetable_alloc()`'s zeroing pays it,
                // not by whoever writes the table first (the sync).
                p.words[0].store(0, Ordering::Relaxed);
            }
            p.flags.allocated.store(true, Ordering::SeqCst);
            self.note_written(pfn, p);
        });
    }

    /// A table frame given back: zero it in place (the page stays, so no
    /// lent reference dangles) and mark it free.
    fn take_back(&self, pa: u64) {
        let pfn = pa >> PAGE_SHIFT;
        self.with_page(pfn, |p, _| {
            for w in p.words {
                w.store(0, Ordering::Relaxed);
            }
            p.flags.allocated.store(false, Ordering::SeqCst);
            self.note_written(pfn, p);
        });
    }
}

/// The backend's own accessors: sound for any address (outside the
/// table frames nothing happens), so they are public here; the library
/// reaches them through [`TableMemory`](super::TableMemory).
impl SparseMemory {
    /// Allocate one zeroed table frame ([`TableMemory::alloc_table`](super::TableMemory::alloc_table)).
    pub fn alloc_table(&self) -> Result<PhysAddr> {
        if self.in_use.load(Ordering::SeqCst) >= self.limit.load(Ordering::SeqCst) {
            return Err(Error::OutOfMemory);
        }
        let pa = self.frames.lock().alloc()?;
        self.hand_out(pa);
        self.in_use.fetch_add(1, Ordering::SeqCst);
        Ok(PhysAddr(pa))
    }

    /// The same as [`alloc_table`](Self::alloc_table): a frame is zeroed
    /// when it is given back, so no cheaper kind exists here.
    pub fn alloc_table_for_overwrite(&self) -> Result<PhysAddr> {
        self.alloc_table()
    }

    /// Give back a table frame; frames not handed out are ignored ([`TableMemory::free_table`](super::TableMemory::free_table)).
    pub fn free_table(&self, table: PhysAddr) {
        // A frame not handed out (or already given back) is left alone: its
        // page may hold someone's data.
        for frames in self.frames_of(table.0).into_iter().flatten() {
            let mut frames = frames.lock();
            if frames.free(table.0) {
                // Zeroed in place (the page stays: a lent `table_words`
                // cannot dangle) before the lock lets anyone take it again.
                self.take_back(table.0);
                drop(frames);
                self.in_use.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    }

    /// Allocate a table frame from high memory, if this memory has a high part ([`TableMemory::alloc_table_high`](super::TableMemory::alloc_table_high)).
    pub fn alloc_table_high(&self) -> Option<Result<PhysAddr>> {
        let (_, high) = self.high.as_ref()?;
        if self.in_use.load(Ordering::SeqCst) >= self.limit.load(Ordering::SeqCst) {
            return Some(Err(Error::OutOfMemory));
        }
        let pa = high.lock().alloc();
        Some(pa.map(|pa| {
            self.hand_out(pa);
            self.in_use.fetch_add(1, Ordering::SeqCst);
            PhysAddr(pa)
        }))
    }

    /// Whether `table` lies in high memory.
    pub fn is_high(&self, table: PhysAddr) -> bool {
        self.high
            .as_ref()
            .is_some_and(|(range, _)| range.contains(&table.0))
    }

    /// Allocate `pages` contiguous, aligned table frames ([`TableMemory::alloc_table_block`](super::TableMemory::alloc_table_block)).
    pub fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            return self.alloc_table();
        }
        let in_use = self.in_use.load(Ordering::SeqCst) as u64;
        if in_use.saturating_add(pages) > self.limit.load(Ordering::SeqCst) as u64 {
            return Err(Error::OutOfMemory);
        }
        let count = usize::try_from(pages).map_err(|_| Error::OutOfMemory)?;
        let pa = self.frames.lock().alloc_block(pages)?;
        for i in 0..pages {
            self.hand_out(pa + i * PAGE_SIZE);
        }
        self.in_use.fetch_add(count, Ordering::SeqCst);
        Ok(PhysAddr(pa))
    }

    /// Give back a block of `pages` frames ([`TableMemory::free_table_block`](super::TableMemory::free_table_block)).
    pub fn free_table_block(&self, block: PhysAddr, pages: u64) {
        if pages == 1 {
            return self.free_table(block);
        }
        let mut frames = self.frames.lock();
        if frames.free_block(block.0, pages) {
            for i in 0..pages {
                self.take_back(block.0 + i * PAGE_SIZE);
            }
            drop(frames);
            // `alloc_table_block` checked that `pages` fits.
            self.in_use
                .fetch_sub(usize::try_from(pages).unwrap_or(0), Ordering::SeqCst);
        }
    }

    /// Read the 8-byte word at `pa` (zero where nothing is).
    #[inline]
    pub fn read_u64(&self, pa: PhysAddr) -> u64 {
        let (pfn, idx) = Self::split(pa);
        if let Some(word) = self.index.read(pfn, idx) {
            return word;
        }
        if let Some(word) = self.high_index.as_ref().and_then(|h| h.read(pfn, idx)) {
            return word;
        }
        self.pages
            .read()
            .get(&pfn)
            .map_or(0, |p| p.get().words[idx].load(Ordering::Acquire))
    }

    /// Write the 8-byte word at `pa`.
    pub fn write_u64(&self, pa: PhysAddr, value: u64) {
        if value == 0 && self.read_u64(pa) == 0 {
            return;
        }
        self.with_word(pa, |w| w.store(value, Ordering::Release));
    }

    /// Read the 4-byte word at `pa`.
    #[inline]
    pub fn read_u32(&self, pa: PhysAddr) -> u32 {
        let shift = (pa.0 & 4) * 8;
        (self.read_u64(PhysAddr(pa.0 & !7)) >> shift) as u32
    }

    /// Write the 4-byte word at `pa`, atomically with respect to the other half of its 8-byte word.
    pub fn write_u32(&self, pa: PhysAddr, value: u32) {
        let shift = (pa.0 & 4) * 8;
        let mask = 0xffff_ffffu64 << shift;
        if value == 0 && self.read_u64(PhysAddr(pa.0 & !7)) & mask == 0 {
            return;
        }
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

    /// Table frames allocated and not yet freed.
    pub fn tables_in_use(&self) -> usize {
        self.in_use.load(Ordering::SeqCst)
    }

    /// The page at `table` (page-aligned) if it lies in a table-frame range
    /// (backed, zeroed, on first use). Pages there are never freed while the
    /// memory lives, so the borrow cannot dangle. Logged as written.
    #[inline]
    pub fn table_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        if table.0 & (PAGE_SIZE - 1) != 0 {
            return None;
        }
        let pfn = table.0 >> PAGE_SHIFT;
        let (page, _) = self.indexed_page(pfn)?;
        self.note_written(pfn, page);
        Some(page.words)
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
    fn a_new_memory_over_a_dropped_ones_range_looks_new() {
        let range = PhysAddr(0x1000_0000)..PhysAddr(0x1000_0000 + 2 * CHUNK as u64 * PAGE_SIZE);
        let m = SparseMemory::new(range.clone());
        for i in 0..CHUNK as u64 + 3 {
            m.write_u64(PhysAddr(range.start.0 + i * PAGE_SIZE + 8), !0);
        }
        let t = m.alloc_table().unwrap();
        m.table_words(t).unwrap()[511].store(3, Ordering::SeqCst);
        drop(m);
        for _ in 0..4 {
            let m = SparseMemory::new(range.clone());
            assert_eq!(m.pages_backed(), 0);
            assert!(m.peek_words(range.start).is_none());
            for i in 0..2 * CHUNK as u64 {
                let page = PhysAddr(range.start.0 + i * PAGE_SIZE);
                assert_eq!(m.read_u64(PhysAddr(page.0 + 8)), 0);
                assert!(!m.is_table_allocated(page));
            }
            let t = m.alloc_table().unwrap();
            assert!(m
                .table_words(t)
                .unwrap()
                .iter()
                .all(|w| w.load(Ordering::SeqCst) == 0));
            assert_eq!(m.pages_backed(), 1);
        }
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

    #[test]
    fn hostile_addresses_and_sizes_neither_panic_nor_corrupt() {
        // Rounding the start up used to overflow.
        let m = SparseMemory::new(PhysAddr(u64::MAX)..PhysAddr(u64::MAX));
        assert_eq!(m.alloc_table(), Err(Error::OutOfMemory));
        let m = m.with_high_tables(PhysAddr(u64::MAX - 5)..PhysAddr(u64::MAX));
        assert_eq!(m.alloc_table_high(), Some(Err(Error::OutOfMemory)));
        m.write_u64(PhysAddr(u64::MAX - 7), 1);
        m.write_u32(PhysAddr(u64::MAX - 3), 2);
        assert_eq!(m.read_u64(PhysAddr(u64::MAX - 7)), 2 << 32 | 1);
        m.free_table(PhysAddr(u64::MAX));
        m.free_table_block(PhysAddr(!0xfff_u64), u64::MAX);
        assert_eq!(m.tables_in_use(), 0);
        assert_eq!(m.read_u64(PhysAddr(u64::MAX - 7)), 2 << 32 | 1, "kept");

        let m = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x20000));
        for pages in [0, 3 << 60, u64::MAX, u64::MAX / PAGE_SIZE, 1 << 52] {
            assert_eq!(m.alloc_table_block(pages), Err(Error::OutOfMemory));
        }
        m.set_table_limit(usize::MAX);
        assert_eq!(m.alloc_table_block(u64::MAX), Err(Error::OutOfMemory));
    }

    #[test]
    fn bad_frees_are_ignored_and_leave_data_alone() {
        let m = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000))
            .with_high_tables(PhysAddr(0x10_0000)..PhysAddr(0x10_2000));
        let a = m.alloc_table().unwrap();
        let h = m.alloc_table_high().unwrap().unwrap();
        let b = m.alloc_table_block(2).unwrap();
        m.write_u64(a, 1);
        m.write_u64(PhysAddr(0x8000), 2);
        // Never handed out: data there stays.
        m.free_table(PhysAddr(0x8000));
        assert_eq!(m.read_u64(PhysAddr(0x8000)), 2);
        m.free_table(a);
        m.free_table(a);
        m.free_table(h);
        m.free_table(h);
        m.free_table(PhysAddr(b.0 + PAGE_SIZE));
        m.free_table_block(b, 4);
        m.free_table_block(b, 1);
        assert_eq!(m.tables_in_use(), 2, "the block is still in use");
        let mut seen = alloc::vec::Vec::new();
        while let Ok(t) = m.alloc_table() {
            assert!(!seen.contains(&t), "{t} handed out twice");
            assert!(
                t.0 < b.0 || t.0 >= b.0 + 2 * PAGE_SIZE,
                "{t} is in a live block"
            );
            seen.push(t);
        }
        assert!(seen.contains(&a));
        assert_eq!(m.alloc_table_high(), Some(Ok(h)));
        assert_eq!(m.alloc_table_high().map(|r| r.is_ok()), Some(true));
        assert_eq!(m.alloc_table_high(), Some(Err(Error::OutOfMemory)));
    }
}
