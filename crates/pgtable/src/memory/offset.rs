//! Page-table memory reached at a fixed offset: a kernel's direct map, or
//! one buffer owned by the host process.

use super::TableMemory;
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::error::{Error, Result};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// End of the intrusive free list.
const NIL: u64 = u64::MAX;

struct Frames {
    next: u64,
    end: u64,
    /// Physical address of the first free frame; each free frame holds the
    /// next one's address in its first word, so freeing allocates nothing.
    free: u64,
    /// Freed multi-page blocks: (address, pages).
    blocks: alloc::vec::Vec<(u64, u64)>,
}

/// Physical memory `phys_start..phys_start+len` visible at `virt_base`.
///
/// Table frames are taken from that region (or from the part set by
/// [`limit_tables`](Self::limit_tables)). Accesses outside the region read
/// zero and are dropped, as a bus with no device there would; the library
/// itself only touches frames it allocated.
pub struct OffsetMemory {
    base: NonNull<u8>,
    phys_start: u64,
    len: u64,
    frames: spin::Mutex<Frames>,
    in_use: AtomicUsize,
    owned: bool,
}

// SAFETY: the region is only reached through atomic loads and stores
// (`word`/`word32`) and the allocator state sits behind a lock, so sharing
// between threads cannot race; the constructor's contract gives this value
// the region for its whole life.
unsafe impl Send for OffsetMemory {}
// SAFETY: as for `Send`.
unsafe impl Sync for OffsetMemory {}

impl core::fmt::Debug for OffsetMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OffsetMemory")
            .field("phys_start", &self.phys_start)
            .field("len", &self.len)
            .field("tables_in_use", &self.tables_in_use())
            .finish()
    }
}

impl OffsetMemory {
    /// Memory of a kernel's direct map.
    ///
    /// # Safety
    ///
    /// `virt_base..virt_base+len` must be valid for reads and writes, aligned
    /// to 4096, used by nothing else for the life of the value, and
    /// correspond to physical `phys_start..phys_start+len`.
    pub unsafe fn new(virt_base: NonNull<u8>, phys_start: PhysAddr, len: u64) -> Self {
        OffsetMemory {
            base: virt_base,
            phys_start: phys_start.0,
            len,
            frames: spin::Mutex::new(Frames {
                next: phys_start.0,
                end: phys_start.0 + (len & !(PAGE_SIZE - 1)),
                free: NIL,
                blocks: alloc::vec::Vec::new(),
            }),
            in_use: AtomicUsize::new(0),
            owned: false,
        }
    }

    /// A zeroed host buffer of `len` bytes posing as physical memory at
    /// `phys_start`. Returns `None` if the host has no memory for it.
    #[must_use]
    pub fn new_host(phys_start: PhysAddr, len: u64) -> Option<Self> {
        let len = len.next_multiple_of(PAGE_SIZE);
        let layout = core::alloc::Layout::from_size_align(usize::try_from(len).ok()?, 4096).ok()?;
        if layout.size() == 0 {
            return None;
        }
        // SAFETY: the layout has a non-zero size, checked above.
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let base = NonNull::new(ptr)?;
        // SAFETY: the buffer was just allocated with this size and 4096-byte
        // alignment, zeroed, and belongs to the new value alone (freed in Drop).
        let mut m = unsafe { Self::new(base, phys_start, len) };
        m.owned = true;
        Some(m)
    }

    /// Take table frames only from `range` (inside the region); the rest of
    /// the region stays for data the caller manages.
    pub fn limit_tables(&self, range: core::ops::Range<PhysAddr>) {
        let mut fr = self.frames.lock();
        fr.next = range
            .start
            .0
            .max(self.phys_start)
            .next_multiple_of(PAGE_SIZE);
        fr.end = range.end.0.min(self.phys_start + self.len) & !(PAGE_SIZE - 1);
        fr.free = NIL;
        fr.blocks.clear();
    }

    #[inline]
    fn offset(&self, pa: u64, size: u64) -> Option<usize> {
        // One subtraction and one comparison: `off + size <= len` written so
        // that it cannot overflow (`size` is 4 or 8, or a frame).
        let off = pa.wrapping_sub(self.phys_start);
        if pa < self.phys_start || size > self.len || off > self.len - size || pa % size != 0 {
            return None;
        }
        usize::try_from(off).ok()
    }

    #[inline]
    fn word(&self, pa: u64) -> Option<&AtomicU64> {
        let off = self.offset(pa, 8)?;
        // SAFETY: `offset` checked that the 8 bytes lie inside the region and
        // are 8-byte aligned; the constructor's contract makes the region
        // valid for the life of `self`, and every access to it is atomic.
        Some(unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast::<u64>()) })
    }

    #[inline]
    fn word32(&self, pa: u64) -> Option<&AtomicU32> {
        let off = self.offset(pa, 4)?;
        // SAFETY: as in `word`, for a 4-byte aligned word inside the region.
        Some(unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast::<u32>()) })
    }

    /// Zero the frame at `pa`, which the caller has just taken from the
    /// allocator: no entry points at it yet, so nothing else can reach it.
    fn zero_frame(&self, pa: u64) {
        let whole = self.offset(pa, 8).filter(|off| {
            (*off as u64)
                .checked_add(PAGE_SIZE)
                .is_some_and(|e| e <= self.len)
        });
        let Some(off) = whole else {
            // A frame reaching past the region: word by word, as far as it
            // lies inside.
            for i in 0..PAGE_SIZE / 8 {
                if let Some(w) = self.word(pa + i * 8) {
                    w.store(0, Ordering::Relaxed);
                }
            }
            return;
        };
        // SAFETY: `offset` and the check above put the whole frame inside
        // the region; the region is valid for writes for the life of `self`.
        // The frame was just handed out under the allocator lock and is not yet
        // linked into any table, so no other access to it can happen while
        // it is cleared (one `memset` instead of 512 checked word stores);
        // the Release store that later links it publishes the zeroes.
        unsafe { core::ptr::write_bytes(self.base.as_ptr().add(off), 0, PAGE_SIZE as usize) };
    }
}

impl Drop for OffsetMemory {
    fn drop(&mut self) {
        if self.owned {
            // Both values were accepted by `Layout::from_size_align` in
            // `new_host`, so this cannot fail there.
            if let Ok(layout) = core::alloc::Layout::from_size_align(self.len as usize, 4096) {
                // SAFETY: `owned` is set only by `new_host`, which allocated
                // `base` with exactly this layout.
                unsafe { alloc::alloc::dealloc(self.base.as_ptr(), layout) };
            }
        }
    }
}

impl TableMemory for OffsetMemory {
    fn alloc_table(&self) -> Result<PhysAddr> {
        let pa = self.alloc_table_for_overwrite()?;
        self.zero_frame(pa.0);
        Ok(pa)
    }

    fn alloc_table_for_overwrite(&self) -> Result<PhysAddr> {
        let mut fr = self.frames.lock();
        let pa = if fr.free != NIL {
            let pa = fr.free;
            fr.free = self.read_u64(PhysAddr(pa));
            pa
        } else if fr.next < fr.end {
            let pa = fr.next;
            fr.next += PAGE_SIZE;
            pa
        } else {
            return Err(Error::OutOfMemory);
        };
        drop(fr);
        self.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(PhysAddr(pa))
    }

    fn free_table(&self, table: PhysAddr) {
        let mut fr = self.frames.lock();
        self.write_u64(table, fr.free);
        fr.free = table.0;
        self.in_use.fetch_sub(1, Ordering::Relaxed);
    }

    fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            return self.alloc_table();
        }
        let bytes = pages.checked_mul(PAGE_SIZE).ok_or(Error::OutOfMemory)?;
        let mut fr = self.frames.lock();
        let pa = if let Some(i) = fr.blocks.iter().position(|b| b.1 == pages) {
            fr.blocks.swap_remove(i).0
        } else {
            let start = fr.next.next_multiple_of(bytes);
            if start.checked_add(bytes).is_none_or(|e| e > fr.end) {
                return Err(Error::OutOfMemory);
            }
            // The frames skipped to align the block serve single tables.
            let mut f = fr.next;
            while f < start {
                self.write_u64(PhysAddr(f), fr.free);
                fr.free = f;
                f += PAGE_SIZE;
            }
            fr.next = start + bytes;
            start
        };
        drop(fr);
        for i in 0..pages {
            self.zero_frame(pa + i * PAGE_SIZE);
        }
        self.in_use.fetch_add(pages as usize, Ordering::Relaxed);
        Ok(PhysAddr(pa))
    }

    fn free_table_block(&self, block: PhysAddr, pages: u64) {
        if pages == 1 {
            return self.free_table(block);
        }
        self.frames.lock().blocks.push((block.0, pages));
        self.in_use.fetch_sub(pages as usize, Ordering::Relaxed);
    }

    #[inline]
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.word(pa.0).map_or(0, |w| w.load(Ordering::Acquire))
    }

    #[inline]
    fn write_u64(&self, pa: PhysAddr, value: u64) {
        if let Some(w) = self.word(pa.0) {
            w.store(value, Ordering::Release);
        }
    }

    #[inline]
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        self.word32(pa.0).map_or(0, |w| w.load(Ordering::Acquire))
    }

    #[inline]
    fn write_u32(&self, pa: PhysAddr, value: u32) {
        if let Some(w) = self.word32(pa.0) {
            w.store(value, Ordering::Release);
        }
    }

    #[inline]
    fn table_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        let off = self.offset(table.0, PAGE_SIZE)?;
        // SAFETY: `offset` checked that the whole frame lies inside the
        // region and is frame-aligned (so 8-byte aligned); the region is
        // valid for the life of `self`, and the slice only allows atomic
        // access, like `word`.
        Some(unsafe {
            core::slice::from_raw_parts(
                self.base.as_ptr().add(off).cast::<AtomicU64>(),
                (PAGE_SIZE / 8) as usize,
            )
        })
    }

    #[inline]
    fn tables_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_zeroed_frames_and_reuses_freed_ones() {
        let m = OffsetMemory::new_host(PhysAddr(0x10_0000), 3 * PAGE_SIZE).unwrap();
        let a = m.alloc_table().unwrap();
        m.write_u64(PhysAddr(a.0 + 8), 42);
        assert_eq!(m.read_u64(PhysAddr(a.0 + 8)), 42);
        let b = m.alloc_table().unwrap();
        let c = m.alloc_table().unwrap();
        assert_eq!(m.alloc_table(), Err(Error::OutOfMemory));
        m.free_table(a);
        m.free_table(c);
        assert_eq!(m.tables_in_use(), 1);
        assert_eq!(m.alloc_table().unwrap(), c);
        let again = m.alloc_table().unwrap();
        assert_eq!(again, a);
        assert_eq!(m.read_u64(PhysAddr(a.0 + 8)), 0, "reused frame is zeroed");
        assert_ne!(b, a);
        assert_eq!(
            m.read_u64(PhysAddr(0x1000)),
            0,
            "outside the region reads zero"
        );
    }

    #[test]
    fn blocks_are_aligned_zeroed_and_reused() {
        let m = OffsetMemory::new_host(PhysAddr(0x1000), 0x20000).unwrap();
        let b = m.alloc_table_block(4).unwrap();
        assert_eq!(b, PhysAddr(0x4000));
        assert_eq!(m.tables_in_use(), 4);
        let singles: alloc::vec::Vec<_> = (0..3).map(|_| m.alloc_table().unwrap()).collect();
        assert!(
            singles.iter().all(|s| s.0 < 0x4000),
            "skipped frames are used"
        );
        m.write_u64(PhysAddr(b.0 + 0x2000), 9);
        m.free_table_block(b, 4);
        assert_eq!(m.alloc_table_block(4).unwrap(), b);
        assert_eq!(m.read_u64(PhysAddr(b.0 + 0x2000)), 0);
    }
}
