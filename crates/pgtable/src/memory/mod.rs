//! Page-table memory: where table frames come from and how entries are read
//! and written.
//!
//! Linux reaches a table through the direct map (`phys_to_virt`) and gets a
//! frame from `pagetable_alloc()`. A [`TableMemory`] does both. Methods take
//! `&self`: entries are read and written with single atomic accesses (as
//! `READ_ONCE`/`WRITE_ONCE` do), so several address spaces can be edited from
//! several threads while the kernel space is being populated.

mod backends;
mod direct;
mod fragment;
mod frames;
mod inject;
mod offset;
mod sparse;
mod word;

pub use direct::{DirectMap, FrameAllocator};
pub(crate) use fragment::Fragments;
pub use inject::FaultInjector;
pub use offset::OffsetMemory;
pub use sparse::SparseMemory;

use crate::addr::PhysAddr;
use crate::error::Result;
use core::fmt;
use core::marker::PhantomData;
use core::sync::atomic::AtomicU64;

/// Why a memory backend could not be made (or reconfigured).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MemoryError {
    /// A physical start or virtual base is not aligned to [`PAGE_SIZE`](crate::PAGE_SIZE).
    Misaligned,
    /// `start + len` passes the top of the physical or virtual address space.
    Overflow,
    /// The region is larger than this host can address or allocate in one
    /// piece.
    TooLarge,
    /// A length of zero where memory must be allocated.
    Empty,
    /// The host allocator had no memory for the buffer.
    NoHostMemory,
    /// Table frames are handed out: the table range cannot change under them.
    InUse,
}

impl fmt::Display for MemoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemoryError::Misaligned => "memory region is not page-aligned",
            MemoryError::Overflow => "memory region passes the top of the address space",
            MemoryError::TooLarge => "memory region is too large for this host",
            MemoryError::Empty => "memory region is empty",
            MemoryError::NoHostMemory => "the host has no memory for the region",
            MemoryError::InUse => "table frames are in use",
        })
    }
}

impl core::error::Error for MemoryError {}

/// The library's pass to a backend's raw accessors.
///
/// Every method of [`TableMemory`] that reads, writes, hands out or gives
/// back table memory takes one. Code outside the library can name it (to
/// implement a backend) but never make one, so it cannot call those methods
/// on memory the library owns: a [`DirectMap`] reaches real frames of a
/// running kernel through them, and only the library knows which frames are
/// tables. An accessor receives the pass by value and cannot keep it beyond
/// the call (its lifetime is the call's).
///
/// ```compile_fail
/// use pgtable::{PhysAddr, RawAccess, SparseMemory, TableMemory};
/// let mem = SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000));
/// // Only the library can make the pass: this does not compile.
/// TableMemory::write_u64(&mem, RawAccess::new(), PhysAddr(0x1000), 1);
/// ```
pub struct RawAccess<'a> {
    _call: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl RawAccess<'_> {
    /// Made only inside the library.
    #[inline(always)]
    pub(crate) const fn new() -> Self {
        RawAccess { _call: PhantomData }
    }
}

impl fmt::Debug for RawAccess<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawAccess")
    }
}

/// Memory that holds page tables: the backend interface the walk engine
/// runs over.
///
/// A kernel does not implement this: it implements the one-method
/// [`FrameAllocator`] and hands it to [`DirectMap`], which provides the
/// atomic entry access. [`OffsetMemory`] (one region at a fixed offset) and
/// [`SparseMemory`] (a host simulation) are the other backends of this
/// crate. Implement it directly only for a backend of another kind (a test
/// memory that traps use after free, say); its raw methods take an
/// [`RawAccess`], which only the library can make.
pub trait TableMemory: Send + Sync {
    /// Allocate one zeroed, page-aligned table frame.
    ///
    /// Returns [`crate::Error::OutOfMemory`] when none is left.
    fn alloc_table(&self, access: RawAccess<'_>) -> Result<PhysAddr>;
    /// Allocate a page-aligned table frame whose every entry the caller
    /// writes before linking it anywhere, so it need not be cleared first.
    /// Defaults to [`alloc_table`](Self::alloc_table).
    #[inline]
    fn alloc_table_for_overwrite(&self, access: RawAccess<'_>) -> Result<PhysAddr> {
        self.alloc_table(access)
    }
    /// Give back a table frame that no entry points at any more.
    ///
    /// A frame this memory did not hand out, or has already been given
    /// back, should be ignored: a bad free should never make a frame be
    /// handed out twice (the backends of this crate keep to that).
    fn free_table(&self, access: RawAccess<'_>, table: PhysAddr);
    /// Allocate `pages` physically contiguous zeroed frames aligned to their
    /// total size, for a table larger than a page (arm32's 16 KiB first
    /// level). Each frame counts in [`tables_in_use`](Self::tables_in_use).
    /// The default serves one page and refuses more with
    /// [`crate::Error::OutOfMemory`].
    fn alloc_table_block(&self, access: RawAccess<'_>, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            self.alloc_table(access)
        } else {
            Err(crate::Error::OutOfMemory)
        }
    }
    /// Allocate a zeroed table frame from high memory, which the kernel has
    /// no permanent mapping of (x86-32 `CONFIG_HIGHPTE`: `pte_alloc_one()`
    /// with `__GFP_HIGHMEM`), or `None` if this memory has no high part.
    /// It is given back with [`free_table`](Self::free_table).
    fn alloc_table_high(&self, access: RawAccess<'_>) -> Option<Result<PhysAddr>> {
        let _ = access;
        None
    }
    /// Whether `table` lies in high memory.
    fn is_high(&self, table: PhysAddr) -> bool {
        let _ = table;
        false
    }
    /// Give back a block from [`alloc_table_block`](Self::alloc_table_block),
    /// with the `pages` it was allocated with; anything else is ignored, as
    /// for [`free_table`](Self::free_table). The default, whose blocks are
    /// single pages, ignores every other size.
    fn free_table_block(&self, access: RawAccess<'_>, block: PhysAddr, pages: u64) {
        if pages == 1 {
            self.free_table(access, block);
        }
    }
    /// Read the 8-byte word at `pa` (`READ_ONCE()` of an entry).
    ///
    /// Reads need no [`RawAccess`]: anyone may inspect the tables (the
    /// tests' independent walkers do). So this must be sound for every
    /// `pa`: where the backend holds no table frame it returns 0.
    fn read_u64(&self, pa: PhysAddr) -> u64;
    /// Write the 8-byte word at `pa` (`WRITE_ONCE()` of an entry).
    fn write_u64(&self, access: RawAccess<'_>, pa: PhysAddr, value: u64);
    /// Read the 4-byte word at `pa` (32-bit entry formats); sound for every
    /// `pa`, like [`read_u64`](Self::read_u64).
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        let shift = if (pa.0 & 4 == 0) == cfg!(target_endian = "little") {
            0
        } else {
            32
        };
        (self.read_u64(PhysAddr(pa.0 & !7)) >> shift) as u32
    }
    /// Write the 4-byte word at `pa`. The default reads and writes the
    /// 8-byte word holding it, which is atomic only if nothing else writes
    /// the other half meanwhile: backends shared between threads override
    /// it with a compare-and-swap.
    fn write_u32(&self, access: RawAccess<'_>, pa: PhysAddr, value: u32) {
        let word = PhysAddr(pa.0 & !7);
        let shift = if (pa.0 & 4 == 0) == cfg!(target_endian = "little") {
            0
        } else {
            32
        };
        let mask = 0xffff_ffffu64 << shift;
        let old = self.read_u64(word);
        self.write_u64(access, word, (old & !mask) | (u64::from(value) << shift));
    }
    /// Table frames allocated and not yet freed.
    fn tables_in_use(&self) -> usize;
    /// Whether `table` is a single table frame this memory handed out (or
    /// adopted) and has not taken back: what
    /// [`PageTables::adopt`](crate::PageTables::adopt) requires of every
    /// table it takes over. The default knows of none.
    fn holds_table(&self, table: PhysAddr) -> bool {
        let _ = table;
        false
    }
    /// The 8-byte words of the frame at `table`, if this memory can lend
    /// them directly (a direct map does). Walks then fill, clear or scan a
    /// table in one tight loop; with `None` they go entry by entry.
    #[inline]
    fn table_words(&self, access: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        let _ = (access, table);
        None
    }
}

impl<M: TableMemory + ?Sized> TableMemory for &M {
    fn alloc_table(&self, a: RawAccess<'_>) -> Result<PhysAddr> {
        (**self).alloc_table(a)
    }
    fn alloc_table_for_overwrite(&self, a: RawAccess<'_>) -> Result<PhysAddr> {
        (**self).alloc_table_for_overwrite(a)
    }
    fn free_table(&self, a: RawAccess<'_>, table: PhysAddr) {
        (**self).free_table(a, table)
    }
    fn alloc_table_block(&self, a: RawAccess<'_>, pages: u64) -> Result<PhysAddr> {
        (**self).alloc_table_block(a, pages)
    }
    fn free_table_block(&self, a: RawAccess<'_>, block: PhysAddr, pages: u64) {
        (**self).free_table_block(a, block, pages)
    }
    fn alloc_table_high(&self, a: RawAccess<'_>) -> Option<Result<PhysAddr>> {
        (**self).alloc_table_high(a)
    }
    fn is_high(&self, table: PhysAddr) -> bool {
        (**self).is_high(table)
    }
    #[inline]
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        (**self).read_u64(pa)
    }
    #[inline]
    fn write_u64(&self, a: RawAccess<'_>, pa: PhysAddr, value: u64) {
        (**self).write_u64(a, pa, value)
    }
    #[inline]
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        (**self).read_u32(pa)
    }
    #[inline]
    fn write_u32(&self, a: RawAccess<'_>, pa: PhysAddr, value: u32) {
        (**self).write_u32(a, pa, value)
    }
    fn tables_in_use(&self) -> usize {
        (**self).tables_in_use()
    }
    fn holds_table(&self, table: PhysAddr) -> bool {
        (**self).holds_table(table)
    }
    #[inline]
    fn table_words(&self, a: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        (**self).table_words(a, table)
    }
}

#[cfg(test)]
mod tests;
