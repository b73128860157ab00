//! Page-table memory reached at a fixed offset: a kernel's direct map, or
//! one buffer owned by the host process.

use super::frames::FrameAlloc;
use super::word::{half_shift, load_half, store_half, zero};
use super::MemoryError;
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::error::{Error, Result};
use core::alloc::Layout;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Physical memory `phys_start..phys_start+len` visible at `virt_base`.
///
/// Table frames are taken from that region (or from the part set by
/// [`limit_tables`](Self::limit_tables)). Accesses outside the region, or
/// not aligned to their size, read zero and are dropped, as a bus with no
/// device there would; the library itself only touches frames it allocated.
///
/// Every access to the region is an atomic access to an aligned 8-byte
/// word, the 4-byte ones included (a 4-byte write is a compare-and-swap of
/// its word), so accesses of any size to any address from any thread never
/// race in the sense of the Rust memory model.
pub struct OffsetMemory {
    base: NonNull<u8>,
    phys_start: u64,
    len: u64,
    frames: spin::Mutex<FrameAlloc>,
    in_use: AtomicUsize,
    /// The layout of the host buffer this value owns (`new_host`), freed in
    /// `Drop`; `None` for a region lent by `new`'s caller.
    host: Option<Layout>,
}

// SAFETY: the region is only reached through atomic accesses to aligned
// 8-byte words inside it (`word`, `table_words`), so sharing between threads
// cannot race; the allocator state sits behind a lock; the constructor's
// contract (or the host allocation `new_host` owns) gives this value the
// region for its whole life, whichever thread it lives on or is dropped on.
unsafe impl Send for OffsetMemory {}
// SAFETY: as for `Send`.
unsafe impl Sync for OffsetMemory {}

impl core::fmt::Debug for OffsetMemory {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OffsetMemory")
            .field("phys_start", &format_args!("{:#x}", self.phys_start))
            .field("len", &format_args!("{:#x}", self.len))
            .field("tables_in_use", &self.tables_in_use())
            .finish()
    }
}

impl OffsetMemory {
    /// Memory of a kernel's direct map.
    ///
    /// Returns [`MemoryError::Misaligned`] if `virt_base` or `phys_start` is
    /// not aligned to [`PAGE_SIZE`], [`MemoryError::Overflow`] if
    /// `phys_start + len` or `virt_base + len` passes the top of its address
    /// space, and [`MemoryError::TooLarge`] if `len` is more than `isize::MAX`
    /// bytes (no Rust allocation is that large).
    ///
    /// # Safety
    ///
    /// `virt_base..virt_base+len` must be valid for reads and writes, used
    /// by nothing else for the life of the value (except through atomic
    /// accesses of the same 8-byte words, or by hardware such as an MMU
    /// reading it), and correspond to physical `phys_start..phys_start+len`.
    pub unsafe fn new(
        virt_base: NonNull<u8>,
        phys_start: PhysAddr,
        len: u64,
    ) -> core::result::Result<Self, MemoryError> {
        if !virt_base.as_ptr().addr().is_multiple_of(PAGE_SIZE as usize)
            || !phys_start.0.is_multiple_of(PAGE_SIZE)
        {
            return Err(MemoryError::Misaligned);
        }
        let phys_end = phys_start.0.checked_add(len).ok_or(MemoryError::Overflow)?;
        let bytes = usize::try_from(len).map_err(|_| MemoryError::TooLarge)?;
        if isize::try_from(bytes).is_err() {
            return Err(MemoryError::TooLarge);
        }
        virt_base
            .as_ptr()
            .addr()
            .checked_add(bytes)
            .ok_or(MemoryError::Overflow)?;
        Ok(OffsetMemory {
            base: virt_base,
            phys_start: phys_start.0,
            len,
            frames: spin::Mutex::new(FrameAlloc::new(phys_start.0, phys_end)),
            in_use: AtomicUsize::new(0),
            host: None,
        })
    }

    /// A zeroed host buffer of `len` bytes (rounded up to whole pages)
    /// posing as physical memory at `phys_start`.
    ///
    /// Returns [`MemoryError::Misaligned`] if `phys_start` is not aligned to
    /// [`PAGE_SIZE`], [`MemoryError::Empty`] if `len` is 0,
    /// [`MemoryError::Overflow`] if the region would pass the top of the
    /// physical address space, [`MemoryError::TooLarge`] if the host cannot
    /// address that much and [`MemoryError::NoHostMemory`] if its allocator
    /// has none left.
    pub fn new_host(phys_start: PhysAddr, len: u64) -> core::result::Result<Self, MemoryError> {
        if !phys_start.0.is_multiple_of(PAGE_SIZE) {
            return Err(MemoryError::Misaligned);
        }
        if len == 0 {
            return Err(MemoryError::Empty);
        }
        let len = len
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(MemoryError::Overflow)?;
        phys_start.0.checked_add(len).ok_or(MemoryError::Overflow)?;
        let size = usize::try_from(len).map_err(|_| MemoryError::TooLarge)?;
        let layout =
            Layout::from_size_align(size, PAGE_SIZE as usize).map_err(|_| MemoryError::TooLarge)?;
        // SAFETY: the layout has a non-zero size (`len` is at least one
        // page).
        let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
        let base = NonNull::new(ptr).ok_or(MemoryError::NoHostMemory)?;
        // SAFETY: the buffer was just allocated with this size and
        // page alignment, zeroed, and belongs to the new value alone (freed
        // in Drop, through `host`). Should `new` refuse it, the buffer is
        // freed right here.
        match unsafe { Self::new(base, phys_start, len) } {
            Ok(mut m) => {
                m.host = Some(layout);
                Ok(m)
            }
            Err(e) => {
                // SAFETY: allocated above with this layout, and not used
                // by anything since.
                unsafe { alloc::alloc::dealloc(ptr, layout) };
                Err(e)
            }
        }
    }

    /// Take table frames only from the whole pages of `range` that lie
    /// inside the region (none if they do not overlap); the rest of the
    /// region stays for data the caller manages. Frames given back so far
    /// are forgotten.
    ///
    /// Returns [`MemoryError::InUse`], changing nothing, while any table
    /// frame is allocated.
    pub fn limit_tables(
        &self,
        range: core::ops::Range<PhysAddr>,
    ) -> core::result::Result<(), MemoryError> {
        // `new` checked that the end of the region does not overflow.
        let region_end = self.phys_start + self.len;
        let start = range.start.0.max(self.phys_start);
        let end = range.end.0.min(region_end);
        if self.frames.lock().reset(start, end) {
            Ok(())
        } else {
            Err(MemoryError::InUse)
        }
    }

    /// The byte offset in the region of the `size`-byte access at `pa`, if
    /// it lies wholly inside the region and is aligned to `size`.
    #[inline]
    fn offset(&self, pa: u64, size: u64) -> Option<usize> {
        // One subtraction and one comparison: `off + size <= len` written so
        // that it cannot overflow (`size` is 8 or a frame).
        let off = pa.wrapping_sub(self.phys_start);
        if pa < self.phys_start
            || size > self.len
            || off > self.len - size
            || !pa.is_multiple_of(size)
        {
            return None;
        }
        usize::try_from(off).ok()
    }

    /// The 8-byte word at `pa`, if it lies inside the region and `pa` is
    /// 8-byte aligned.
    #[inline]
    fn word(&self, pa: u64) -> Option<&AtomicU64> {
        let off = self.offset(pa, 8)?;
        // SAFETY: `offset` checked that the 8 bytes lie inside the region
        // and that `pa` is 8-byte aligned; `phys_start` and `base` are
        // page-aligned (checked by `new`), so `base + off` is 8-byte aligned
        // too. The constructor's contract makes the region valid for reads
        // and writes for the life of `self`, and every access to it is an
        // atomic access of an aligned 8-byte word (never of another size,
        // which could race with this one).
        Some(unsafe { AtomicU64::from_ptr(self.base.as_ptr().add(off).cast::<u64>()) })
    }

    /// The 8-byte word holding the 4-byte word at `pa` (4-byte aligned), and
    /// the shift of the latter in the former.
    #[inline]
    fn word32(&self, pa: u64) -> Option<(&AtomicU64, u32)> {
        if !pa.is_multiple_of(4) {
            return None;
        }
        Some((self.word(pa & !7)?, half_shift(pa)))
    }

    /// Zero the frame at `pa`, which the caller has just taken from the
    /// allocator.
    ///
    /// The stores are atomic, like every access to the region: a safe
    /// caller may be reading any address of it (`read_u64`, `table_words`)
    /// from another thread even though nothing links the frame yet. Relaxed
    /// is enough (and compiles to plain stores): the frame reaches other
    /// threads' walks only through the Release store of the entry that links
    /// it, which orders these zeroes before it.
    fn zero_frame(&self, pa: u64) {
        if let Some(words) = self.table_words(PhysAddr(pa)) {
            zero(words);
        }
    }
}

impl Drop for OffsetMemory {
    fn drop(&mut self) {
        if let Some(layout) = self.host {
            // SAFETY: `host` is set only by `new_host`, which allocated
            // `base` with exactly this layout; `&mut self` means no borrow
            // of the region (such as a `table_words` slice) is left.
            unsafe { alloc::alloc::dealloc(self.base.as_ptr(), layout) };
        }
    }
}

/// The backend's own accessors: sound for any address (outside the
/// table frames nothing happens), so they are public here; the library
/// reaches them through [`TableMemory`](super::TableMemory).
impl OffsetMemory {
    /// Allocate one zeroed table frame ([`TableMemory::alloc_table`](super::TableMemory::alloc_table)).
    pub fn alloc_table(&self) -> Result<PhysAddr> {
        let pa = self.alloc_table_for_overwrite()?;
        self.zero_frame(pa.0);
        Ok(pa)
    }

    /// Allocate a table frame its caller fills whole ([`TableMemory::alloc_table_for_overwrite`](super::TableMemory::alloc_table_for_overwrite)).
    pub fn alloc_table_for_overwrite(&self) -> Result<PhysAddr> {
        let pa = self.frames.lock().alloc()?;
        self.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(PhysAddr(pa))
    }

    /// `None`: this memory has no high part.
    pub fn alloc_table_high(&self) -> Option<Result<PhysAddr>> {
        None
    }

    /// `false`: this memory has no high part.
    pub fn is_high(&self, table: PhysAddr) -> bool {
        let _ = table;
        false
    }

    /// Give back a table frame; frames not handed out are ignored ([`TableMemory::free_table`](super::TableMemory::free_table)).
    pub fn free_table(&self, table: PhysAddr) {
        if self.frames.lock().free(table.0) {
            self.in_use.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Allocate `pages` contiguous, aligned table frames ([`TableMemory::alloc_table_block`](super::TableMemory::alloc_table_block)).
    pub fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            return self.alloc_table();
        }
        // A block lies inside the region, so `pages` fits a `usize` (the
        // region's length does).
        let count = usize::try_from(pages).map_err(|_| Error::OutOfMemory)?;
        let pa = self.frames.lock().alloc_block(pages)?;
        for i in 0..pages {
            self.zero_frame(pa + i * PAGE_SIZE);
        }
        self.in_use.fetch_add(count, Ordering::Relaxed);
        Ok(PhysAddr(pa))
    }

    /// Give back a block of `pages` frames ([`TableMemory::free_table_block`](super::TableMemory::free_table_block)).
    pub fn free_table_block(&self, block: PhysAddr, pages: u64) {
        if pages == 1 {
            return self.free_table(block);
        }
        if self.frames.lock().free_block(block.0, pages) {
            // Checked when the block was allocated.
            self.in_use
                .fetch_sub(usize::try_from(pages).unwrap_or(0), Ordering::Relaxed);
        }
    }

    /// Read the 8-byte word at `pa` (zero where nothing is).
    #[inline]
    pub fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.word(pa.0).map_or(0, |w| w.load(Ordering::Acquire))
    }

    /// Write the 8-byte word at `pa`.
    #[inline]
    pub fn write_u64(&self, pa: PhysAddr, value: u64) {
        if let Some(w) = self.word(pa.0) {
            w.store(value, Ordering::Release);
        }
    }

    /// Read the 4-byte word at `pa`.
    #[inline]
    pub fn read_u32(&self, pa: PhysAddr) -> u32 {
        self.word32(pa.0)
            .map_or(0, |(w, shift)| load_half(w, shift))
    }

    /// Write the 4-byte word at `pa`, atomically with respect to the other half of its 8-byte word.
    #[inline]
    pub fn write_u32(&self, pa: PhysAddr, value: u32) {
        if let Some((w, shift)) = self.word32(pa.0) {
            store_half(w, shift, value);
        }
    }

    /// The 8-byte words of the frame at `table`, if this memory can lend them.
    #[inline]
    pub fn table_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        let off = self.offset(table.0, PAGE_SIZE)?;
        // SAFETY: `offset` checked that the whole frame lies inside the
        // region and that `table` is frame-aligned; `phys_start` and `base`
        // are page-aligned (checked by `new`), so the slice is aligned for
        // `AtomicU64`. The region is valid for the life of `self` (the slice
        // borrows `self`, so it cannot outlive it), and the slice only allows
        // atomic accesses of aligned 8-byte words, like `word`.
        Some(unsafe {
            core::slice::from_raw_parts(
                self.base.as_ptr().add(off).cast::<AtomicU64>(),
                (PAGE_SIZE / 8) as usize,
            )
        })
    }

    /// Take over the frame at `table`, inside the table range, as a table
    /// someone else built (a boot loader's), for
    /// [`PageTables::adopt`](crate::PageTables::adopt): it is never handed
    /// out, counts as in use, and is given back like any table. Returns
    /// `false`, changing nothing, for a frame outside the range, misaligned,
    /// or already handed out.
    pub fn adopt_table(&self, table: PhysAddr) -> bool {
        let taken = self.frames.lock().take(table.0);
        if taken {
            self.in_use.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    /// Whether `table` is a single table frame handed out or adopted and
    /// not given back.
    pub fn holds_table(&self, table: PhysAddr) -> bool {
        self.frames.lock().is_live(table.0)
    }

    /// Table frames allocated and not yet freed.
    #[inline]
    pub fn tables_in_use(&self) -> usize {
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

    #[repr(C, align(4096))]
    struct Page([u8; 4096]);

    #[test]
    fn new_checks_alignment_and_overflow() {
        let mut buf = alloc::boxed::Box::new([Page([0; 4096]), Page([0; 4096])]);
        let base = NonNull::from(&mut *buf).cast::<u8>();
        let len = 2 * PAGE_SIZE;
        // SAFETY: `buf` is valid for reads and writes for `len` bytes, lives
        // until the end of the test, after every value made here, and
        // nothing else touches it meanwhile.
        let made = |virt: NonNull<u8>, phys: u64, len: u64| unsafe {
            OffsetMemory::new(virt, PhysAddr(phys), len).map(|_| ())
        };
        assert_eq!(made(base, 0x1000, len), Ok(()));
        assert_eq!(made(base, 0x1008, len), Err(MemoryError::Misaligned));
        // SAFETY: 8 bytes into a buffer of two pages.
        let inside = unsafe { base.add(8) };
        assert_eq!(
            made(inside, 0x1000, PAGE_SIZE),
            Err(MemoryError::Misaligned)
        );
        assert_eq!(
            made(base, !(PAGE_SIZE - 1), len),
            Err(MemoryError::Overflow)
        );
        assert_eq!(made(base, 0, 0), Ok(()));
    }

    #[test]
    fn new_host_refuses_bad_regions_with_typed_errors() {
        let e = |start: u64, len: u64| OffsetMemory::new_host(PhysAddr(start), len).err();
        // Unaligned starts made `AtomicU64`s at unaligned addresses.
        assert_eq!(e(0x1004, PAGE_SIZE), Some(MemoryError::Misaligned));
        assert_eq!(e(0x1008, PAGE_SIZE), Some(MemoryError::Misaligned));
        // `phys_start + len` past the top overflowed.
        assert_eq!(e(!0xfff_u64, PAGE_SIZE), Some(MemoryError::Overflow));
        assert_eq!(e(0, u64::MAX), Some(MemoryError::Overflow));
        assert_eq!(e(0, 1 << 63), Some(MemoryError::TooLarge));
        assert_eq!(e(0x1000, 0), Some(MemoryError::Empty));
        // The last page below the top of physical memory is fine.
        let top = u64::MAX - 2 * PAGE_SIZE + 1;
        let m = OffsetMemory::new_host(PhysAddr(top), PAGE_SIZE).unwrap();
        let t = m.alloc_table().unwrap();
        assert_eq!(t, PhysAddr(top));
        m.write_u64(PhysAddr(top + PAGE_SIZE - 8), 3);
        assert_eq!(m.read_u64(PhysAddr(top + PAGE_SIZE - 8)), 3);
        assert_eq!(m.read_u64(PhysAddr(u64::MAX - 7)), 0);
        assert_eq!(m.read_u32(PhysAddr(u64::MAX - 3)), 0);
        assert!(m.table_words(PhysAddr(!0xfff_u64)).is_none());
        assert_eq!(m.alloc_table(), Err(Error::OutOfMemory));
        assert_eq!(m.alloc_table_block(2), Err(Error::OutOfMemory));
        assert_eq!(m.alloc_table_block(u64::MAX), Err(Error::OutOfMemory));
        assert_eq!(m.alloc_table_block(0), Err(Error::OutOfMemory));
        m.free_table(t);
        assert_eq!(m.limit_tables(PhysAddr(0)..PhysAddr(u64::MAX)), Ok(()));
        assert_eq!(m.alloc_table(), Ok(t));
        assert_eq!(
            m.limit_tables(PhysAddr(0)..PhysAddr(u64::MAX)),
            Err(MemoryError::InUse),
            "a frame is handed out"
        );
        assert_eq!(
            alloc::format!("{}", MemoryError::InUse),
            "table frames are in use"
        );
    }

    #[test]
    fn bad_frees_never_hand_a_frame_out_twice() {
        let m = OffsetMemory::new_host(PhysAddr(0x10_0000), 16 * PAGE_SIZE).unwrap();
        let a = m.alloc_table().unwrap();
        let b = m.alloc_table_block(4).unwrap();
        m.free_table(a);
        m.free_table(a);
        m.free_table(PhysAddr(0x10_f000));
        m.free_table(PhysAddr(u64::MAX));
        m.free_table(PhysAddr(b.0 + PAGE_SIZE));
        m.free_table_block(b, 2);
        m.free_table_block(b, u64::MAX);
        m.free_table_block(a, 4);
        assert_eq!(m.tables_in_use(), 4, "only the real free counted");
        let mut seen = alloc::vec::Vec::new();
        while let Ok(t) = m.alloc_table() {
            assert!(!seen.contains(&t), "{t} handed out twice");
            assert!(
                t.0 < b.0 || t.0 >= b.0 + 4 * PAGE_SIZE,
                "{t} is in a live block"
            );
            seen.push(t);
        }
        m.free_table_block(b, 4);
        m.free_table_block(b, 4);
        assert_eq!(m.tables_in_use(), seen.len());
        assert_eq!(m.alloc_table_block(4), Ok(b));
        assert_eq!(m.alloc_table_block(4), Err(Error::OutOfMemory));
    }

    #[test]
    fn four_byte_words_share_their_eight_byte_word() {
        let m = OffsetMemory::new_host(PhysAddr(0x2000), PAGE_SIZE).unwrap();
        m.write_u32(PhysAddr(0x2000), 0x1111_2222);
        m.write_u32(PhysAddr(0x2004), 0x3333_4444);
        assert_eq!(m.read_u32(PhysAddr(0x2000)), 0x1111_2222);
        assert_eq!(m.read_u32(PhysAddr(0x2004)), 0x3333_4444);
        let bytes = m.read_u64(PhysAddr(0x2000)).to_ne_bytes();
        assert_eq!(bytes[..4], 0x1111_2222u32.to_ne_bytes());
        assert_eq!(bytes[4..], 0x3333_4444u32.to_ne_bytes());
        m.write_u32(PhysAddr(0x2002), 5);
        assert_eq!(m.read_u32(PhysAddr(0x2002)), 0, "unaligned: dropped");
        assert_eq!(m.read_u64(PhysAddr(0x2004)), 0, "unaligned: reads zero");
        assert!(m.table_words(PhysAddr(0x2008)).is_none());
        assert_eq!(m.table_words(PhysAddr(0x2000)).map(<[_]>::len), Some(512));
    }
}
