//! The pages of [`SparseMemory`](super::SparseMemory): table-range pages
//! in chunks of [`CHUNK`] found without a lock.

use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use alloc::boxed::Box;
use core::ops::Range;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::Once;

const WORDS: usize = (PAGE_SIZE / 8) as usize;

/// Pages per chunk of an [`Index`]: one host allocation (2 MiB of words;
/// under Miri, which checks every store of its zeroing, 64 KiB).
pub(super) const CHUNK: usize = if cfg!(miri) { 16 } else { 512 };
/// The most table frames an [`Index`] covers.
const MAX_INDEXED_PAGES: u64 = 1 << 24;

/// The state of one page besides its words.
pub(super) struct Flags {
    /// Backed: written, lent or handed out at some point. A page that is
    /// not holds only zeroes (every store marks it first).
    pub(super) backed: AtomicBool,
    /// In the write log since it was last taken.
    pub(super) logged: AtomicBool,
    /// Handed out as a table frame and not given back.
    pub(super) allocated: AtomicBool,
}

impl Flags {
    const fn new() -> Flags {
        Flags {
            backed: AtomicBool::new(false),
            logged: AtomicBool::new(false),
            allocated: AtomicBool::new(false),
        }
    }
}

pub(super) type Words = [AtomicU64; WORDS];

/// A page outside the table ranges, allocated on its own.
pub(super) struct Page {
    words: Words,
    flags: Flags,
}

impl Page {
    pub(super) fn zeroed() -> Box<Page> {
        Box::new(Page {
            words: [const { AtomicU64::new(0) }; WORDS],
            flags: Flags::new(),
        })
    }

    pub(super) fn get(&self) -> PageRef<'_> {
        PageRef {
            words: &self.words,
            flags: &self.flags,
        }
    }
}

/// One page, wherever it is stored.
#[derive(Clone, Copy)]
pub(super) struct PageRef<'a> {
    pub(super) words: &'a Words,
    pub(super) flags: &'a Flags,
}

/// The pages of one chunk: their words in one host allocation, zeroed when
/// the chunk is made, so a page's first touch costs no allocation or hash
/// insert of its own (the host's page faults for the chunk's memory are
/// paid when it is made: the floor `pgtable bench` shows beside it).
struct Chunk {
    words: Box<[Words]>,
    flags: Box<[Flags]>,
}

impl Chunk {
    fn new(pages: usize) -> Chunk {
        let words = (0..pages)
            .map(|_| [const { AtomicU64::new(0) }; WORDS])
            .collect();
        let flags = (0..pages).map(|_| Flags::new()).collect();
        Chunk { words, flags }
    }
}

/// The pages of one range of table frames, found without a lock through
/// one level of [`Once`] cells, each a chunk of [`CHUNK`] pages created on
/// first use. A chunk, once created, lives as long as the memory (freeing
/// a table zeroes it), so references to its pages may be lent out for
/// `&self`'s lifetime.
pub(super) struct Index {
    first_pfn: u64,
    pages: u64,
    chunks: Box<[Once<Chunk>]>,
}

impl Index {
    pub(super) fn new(range: &Range<u64>) -> Index {
        let first_pfn = range.start >> PAGE_SHIFT;
        // Index at most MAX_INDEXED_PAGES frames (64 GiB of tables, 32 Ki
        // chunk cells): a huge or hostile range must not allocate a huge
        // index. Frames past it live in the hash map like other pages.
        let pages = (range.end >> PAGE_SHIFT)
            .saturating_sub(first_pfn)
            .min(MAX_INDEXED_PAGES);
        let chunks = (0..pages.div_ceil(CHUNK as u64))
            .map(|_| Once::new())
            .collect();
        Index {
            first_pfn,
            pages,
            chunks,
        }
    }

    /// Word `idx` of page `pfn`: `None` if the range does not hold the
    /// page, zero if its chunk does not exist yet. The readers' hot path.
    #[inline]
    pub(super) fn read(&self, pfn: u64, idx: usize) -> Option<u64> {
        let i = pfn.wrapping_sub(self.first_pfn);
        if i >= self.pages {
            return None;
        }
        let chunk = self.chunks[(i / CHUNK as u64) as usize].get();
        Some(chunk.map_or(0, |c| {
            c.words[(i % CHUNK as u64) as usize][idx].load(Ordering::Acquire)
        }))
    }

    /// Page `pfn`: `None` if the range does not hold it, `Some(None)` if it
    /// does but its chunk does not exist yet (it reads as zero); `create`
    /// makes the chunk when missing. The page is not marked backed.
    #[inline]
    pub(super) fn page(&self, pfn: u64, create: bool) -> Option<Option<PageRef<'_>>> {
        let i = pfn.wrapping_sub(self.first_pfn);
        if i >= self.pages {
            return None;
        }
        let c = (i / CHUNK as u64) as usize;
        let cell = &self.chunks[c];
        let chunk = match cell.get() {
            Some(chunk) => chunk,
            None if create => cell.call_once(|| {
                // `i < pages`, so the chunk holds at least one page.
                let first = c as u64 * CHUNK as u64;
                Chunk::new((self.pages - first).min(CHUNK as u64) as usize)
            }),
            None => return Some(None),
        };
        let j = (i % CHUNK as u64) as usize;
        Some(Some(PageRef {
            words: &chunk.words[j],
            flags: &chunk.flags[j],
        }))
    }
}
