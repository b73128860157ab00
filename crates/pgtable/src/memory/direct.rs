//! A kernel's own memory: table frames from the kernel's page allocator,
//! reached through its direct map.
//!
//! This is the way in for a kernel. It writes one method,
//! [`FrameAllocator::allocate_frame`] (Linux's `pagetable_alloc()`), and
//! optionally [`FrameAllocator::deallocate_frame`] (`pagetable_free()`);
//! [`DirectMap`] adds the direct-map translation (`__va()`, a fixed
//! offset) and every entry access the walks need, as aligned atomic
//! accesses (`READ_ONCE()`/`WRITE_ONCE()`).

use super::word::{half_shift, load_half, store_half, zero};
use super::{MemoryError, RawAccess, TableMemory};
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::error::{Error, Result};
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Where page-table frames come from: the kernel's page allocator
/// (`pagetable_alloc()` / `pagetable_free()`).
///
/// # Safety
///
/// A frame returned by `allocate_frame` must be a 4 KiB physical page that
/// nothing but this allocator's user (and the MMU) reads or writes until it
/// is passed to `deallocate_frame`, and it must not be returned again in
/// that time.
pub unsafe trait FrameAllocator: Send + Sync {
    /// A free physical page, or `None` when there is none. Its contents do
    /// not matter: [`DirectMap`] zeroes it.
    fn allocate_frame(&self) -> Option<PhysAddr>;

    /// Take back a page from [`allocate_frame`](Self::allocate_frame) that
    /// no table uses any more. The default keeps it (a bump allocator's
    /// behaviour): nothing is ever handed out twice.
    fn deallocate_frame(&self, frame: PhysAddr) {
        let _ = frame;
    }
}

/// Table memory of a running kernel: frames from a [`FrameAllocator`],
/// reached at `phys_offset + pa` (the direct map, Linux's `__va()`).
///
/// Every access the library makes goes to a frame this value holds from
/// the allocator now: a bitmap over the RAM range given to [`new`](Self::new)
/// records them, and an access anywhere else reads zero and writes nothing,
/// as a bus with no device there would. Its raw accessors are those of
/// [`TableMemory`], which only the library can call (see [`RawAccess`]), so
/// safe code cannot reach kernel memory through it. Only 4 KiB frames are
/// served: an arm32 first level (16 KiB, contiguous) or x86-32 high-memory
/// tables need [`OffsetMemory`](super::OffsetMemory) or another backend.
pub struct DirectMap<F> {
    frames: F,
    phys_offset: u64,
    ram: Range<u64>,
    /// One bit per frame of `ram`: set while the frame is a table frame.
    held: Vec<AtomicU64>,
    in_use: AtomicUsize,
}

impl<F> core::fmt::Debug for DirectMap<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectMap")
            .field("phys_offset", &format_args!("{:#x}", self.phys_offset))
            .field(
                "ram",
                &format_args!("{:#x}..{:#x}", self.ram.start, self.ram.end),
            )
            .field("tables_in_use", &self.in_use.load(Ordering::Relaxed))
            .finish()
    }
}

impl<F: FrameAllocator> DirectMap<F> {
    /// Table memory over `frames`, whose pages all lie in `ram` and are
    /// mapped at `phys_offset + pa`.
    ///
    /// Returns [`MemoryError::Misaligned`] if `ram` or `phys_offset` is not
    /// page-aligned, [`MemoryError::Empty`] for an empty `ram`,
    /// [`MemoryError::Overflow`] if `phys_offset + ram.end` passes the top of
    /// the address space, [`MemoryError::TooLarge`] if this host cannot
    /// address it, and [`MemoryError::NoHostMemory`] if the bitmap (one bit
    /// per page of `ram`) cannot be allocated.
    ///
    /// # Safety
    ///
    /// `phys_offset + pa` must be a valid, writable mapping of physical `pa`
    /// for every page of `ram`, for the life of the value, and the pages
    /// `frames` hands out must be used by nothing else while the library
    /// holds them (the [`FrameAllocator`] contract).
    pub unsafe fn new(
        frames: F,
        phys_offset: u64,
        ram: Range<PhysAddr>,
    ) -> core::result::Result<Self, MemoryError> {
        let (start, end) = (ram.start.0, ram.end.0);
        if !(start | end | phys_offset).is_multiple_of(PAGE_SIZE) {
            return Err(MemoryError::Misaligned);
        }
        if end <= start {
            return Err(MemoryError::Empty);
        }
        // `__va(pa)` is `phys_offset + pa` modulo 2^64 (the offset may be
        // "negative"); the mapped range itself must not wrap.
        let top = phys_offset
            .wrapping_add(start)
            .checked_add(end - start)
            .ok_or(MemoryError::Overflow)?;
        usize::try_from(top).map_err(|_| MemoryError::TooLarge)?;
        let words = usize::try_from((end - start) / PAGE_SIZE)
            .map_err(|_| MemoryError::TooLarge)?
            .div_ceil(64);
        let mut held = Vec::new();
        held.try_reserve_exact(words)
            .map_err(|_| MemoryError::NoHostMemory)?;
        held.resize_with(words, || AtomicU64::new(0));
        Ok(DirectMap {
            frames,
            phys_offset,
            ram: start..end,
            held,
            in_use: AtomicUsize::new(0),
        })
    }

    /// The allocator.
    pub fn frames(&self) -> &F {
        &self.frames
    }

    /// Take over the frame at `table` as a table someone else built (the
    /// boot loader's tables, for [`PageTables::adopt`](crate::PageTables::adopt)):
    /// it counts as in use and, when the library frees it, goes to
    /// [`FrameAllocator::deallocate_frame`]. Returns `false`, changing
    /// nothing, for a frame outside `ram`, misaligned, or already held.
    ///
    /// # Safety
    ///
    /// The frame must be used by nothing but these tables (and the MMU)
    /// from now on: in particular the allocator must not hand it out while
    /// this value holds it.
    pub unsafe fn adopt_table(&self, table: PhysAddr) -> bool {
        self.hold(table.0)
    }

    /// Start holding the frame at `pa` (page-aligned, in `ram`, not held
    /// yet); `false`, changing nothing, otherwise.
    fn hold(&self, pa: u64) -> bool {
        let Some((word, mask)) = self.bit(pa).filter(|_| pa.is_multiple_of(PAGE_SIZE)) else {
            return false;
        };
        if word.fetch_or(mask, Ordering::AcqRel) & mask != 0 {
            return false;
        }
        self.in_use.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The bit of the frame holding `pa`, if it lies in `ram`.
    #[inline]
    fn bit(&self, pa: u64) -> Option<(&AtomicU64, u64)> {
        if !self.ram.contains(&pa) {
            return None;
        }
        let frame = (pa - self.ram.start) / PAGE_SIZE;
        let word = self.held.get(usize::try_from(frame / 64).ok()?)?;
        Some((word, 1 << (frame % 64)))
    }

    /// The words of the table frame `table` while this value holds it.
    #[inline]
    fn held_frame(&self, table: u64) -> Option<&[AtomicU64]> {
        if !table.is_multiple_of(PAGE_SIZE) {
            return None;
        }
        let (word, mask) = self.bit(table)?;
        if word.load(Ordering::Acquire) & mask == 0 {
            return None;
        }
        // The direct map is the kernel's (or, on a host, memory whose
        // provenance the caller exposed): the address carries no provenance
        // of its own.
        let words = core::ptr::with_exposed_provenance::<AtomicU64>(
            self.phys_offset.wrapping_add(table) as usize,
        );
        // SAFETY: the frame is one the allocator handed to this value and
        // that it has not given back (its bit is set), so by the
        // `FrameAllocator` contract nothing else uses it; it lies in `ram`,
        // which `new`'s caller promised is mapped read-write at
        // `phys_offset + pa` for the life of `self` (and `new` checked that
        // the sums fit a `usize` without wrapping). The address is page-aligned, hence
        // aligned for `AtomicU64`, and every access to the frame is atomic.
        Some(unsafe { core::slice::from_raw_parts(words, (PAGE_SIZE / 8) as usize) })
    }

    /// The 8-byte word at `pa` (8-byte aligned, in a held frame).
    #[inline]
    fn word(&self, pa: u64) -> Option<&AtomicU64> {
        if !pa.is_multiple_of(8) {
            return None;
        }
        let words = self.held_frame(pa & !(PAGE_SIZE - 1))?;
        words.get(((pa % PAGE_SIZE) / 8) as usize)
    }
}

impl<F: FrameAllocator> TableMemory for DirectMap<F> {
    fn alloc_table(&self, _: RawAccess<'_>) -> Result<PhysAddr> {
        let pa = self.frames.allocate_frame().ok_or(Error::OutOfMemory)?;
        // A frame outside `ram`, misaligned, or already held breaks the
        // allocator's contract; it is refused (and kept from the tables).
        if !self.hold(pa.0) {
            return Err(Error::OutOfMemory);
        }
        if let Some(words) = self.held_frame(pa.0) {
            zero(words);
        }
        Ok(pa)
    }

    fn free_table(&self, _: RawAccess<'_>, table: PhysAddr) {
        if !table.0.is_multiple_of(PAGE_SIZE) {
            return;
        }
        let Some((word, mask)) = self.bit(table.0) else {
            return;
        };
        if word.fetch_and(!mask, Ordering::AcqRel) & mask != 0 {
            self.in_use.fetch_sub(1, Ordering::Relaxed);
            self.frames.deallocate_frame(table);
        }
    }

    #[inline]
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.word(pa.0).map_or(0, |w| w.load(Ordering::Acquire))
    }

    #[inline]
    fn write_u64(&self, _: RawAccess<'_>, pa: PhysAddr, value: u64) {
        if let Some(w) = self.word(pa.0) {
            w.store(value, Ordering::Release);
        }
    }

    #[inline]
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        if !pa.0.is_multiple_of(4) {
            return 0;
        }
        self.word(pa.0 & !7)
            .map_or(0, |w| load_half(w, half_shift(pa.0)))
    }

    #[inline]
    fn write_u32(&self, _: RawAccess<'_>, pa: PhysAddr, value: u32) {
        if !pa.0.is_multiple_of(4) {
            return;
        }
        if let Some(w) = self.word(pa.0 & !7) {
            store_half(w, half_shift(pa.0), value);
        }
    }

    fn tables_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    fn holds_table(&self, table: PhysAddr) -> bool {
        self.held_frame(table.0).is_some()
    }

    #[inline]
    fn table_words(&self, _: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        self.held_frame(table.0)
    }
}
