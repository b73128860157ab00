//! Page-table memory: where table frames come from and how entries are read
//! and written.
//!
//! Linux reaches a table through the direct map (`phys_to_virt`) and gets a
//! frame from `pagetable_alloc()`. A [`TableMemory`] does both. Methods take
//! `&self`: entries are read and written with single atomic accesses (as
//! `READ_ONCE`/`WRITE_ONCE` do), so several address spaces can be edited from
//! several threads while the kernel space is being populated.

mod fragment;
mod frames;
mod inject;
mod offset;
mod sparse;

pub use fragment::Fragments;
pub use inject::FaultInjector;
pub use offset::OffsetMemory;
pub use sparse::SparseMemory;

use crate::addr::PhysAddr;
use crate::error::Result;
use core::fmt;
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

/// Memory that holds page tables.
pub trait TableMemory: Send + Sync {
    /// Allocate one zeroed, page-aligned table frame.
    ///
    /// Returns [`crate::Error::OutOfMemory`] when none is left.
    fn alloc_table(&self) -> Result<PhysAddr>;
    /// Allocate a page-aligned table frame whose every entry the caller
    /// writes before linking it anywhere, so it need not be cleared first.
    /// Defaults to [`alloc_table`](Self::alloc_table).
    #[inline]
    fn alloc_table_for_overwrite(&self) -> Result<PhysAddr> {
        self.alloc_table()
    }
    /// Give back a table frame that no entry points at any more.
    ///
    /// A frame this memory did not hand out, or has already been given
    /// back, should be ignored: a bad free should never make a frame be
    /// handed out twice (the backends of this crate keep to that).
    fn free_table(&self, table: PhysAddr);
    /// Allocate `pages` physically contiguous zeroed frames aligned to their
    /// total size, for a table larger than a page (arm32's 16 KiB first
    /// level). Each frame counts in [`tables_in_use`](Self::tables_in_use).
    /// The default serves one page and refuses more with
    /// [`crate::Error::OutOfMemory`].
    fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        if pages == 1 {
            self.alloc_table()
        } else {
            Err(crate::Error::OutOfMemory)
        }
    }
    /// Allocate a zeroed table frame from high memory, which the kernel has
    /// no permanent mapping of (x86-32 `CONFIG_HIGHPTE`: `pte_alloc_one()`
    /// with `__GFP_HIGHMEM`), or `None` if this memory has no high part.
    /// It is given back with [`free_table`](Self::free_table).
    fn alloc_table_high(&self) -> Option<Result<PhysAddr>> {
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
    fn free_table_block(&self, block: PhysAddr, pages: u64) {
        if pages == 1 {
            self.free_table(block);
        }
    }
    /// Read the 8-byte word at `pa`.
    fn read_u64(&self, pa: PhysAddr) -> u64;
    /// Write the 8-byte word at `pa`.
    fn write_u64(&self, pa: PhysAddr, value: u64);
    /// Read the 4-byte word at `pa` (32-bit entry formats).
    fn read_u32(&self, pa: PhysAddr) -> u32;
    /// Write the 4-byte word at `pa`.
    fn write_u32(&self, pa: PhysAddr, value: u32);
    /// Table frames allocated and not yet freed.
    fn tables_in_use(&self) -> usize;
    /// The 8-byte words of the frame at `table`, if this memory can lend
    /// them directly (a direct map does). Walks then fill, clear or scan a
    /// table in one tight loop; with `None` they go entry by entry.
    #[inline]
    fn table_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        let _ = table;
        None
    }
}

impl<M: TableMemory + ?Sized> TableMemory for &M {
    fn alloc_table(&self) -> Result<PhysAddr> {
        (**self).alloc_table()
    }
    fn alloc_table_for_overwrite(&self) -> Result<PhysAddr> {
        (**self).alloc_table_for_overwrite()
    }
    fn free_table(&self, table: PhysAddr) {
        (**self).free_table(table)
    }
    fn alloc_table_block(&self, pages: u64) -> Result<PhysAddr> {
        (**self).alloc_table_block(pages)
    }
    fn free_table_block(&self, block: PhysAddr, pages: u64) {
        (**self).free_table_block(block, pages)
    }
    fn alloc_table_high(&self) -> Option<Result<PhysAddr>> {
        (**self).alloc_table_high()
    }
    fn is_high(&self, table: PhysAddr) -> bool {
        (**self).is_high(table)
    }
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        (**self).read_u64(pa)
    }
    fn write_u64(&self, pa: PhysAddr, value: u64) {
        (**self).write_u64(pa, value)
    }
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        (**self).read_u32(pa)
    }
    fn write_u32(&self, pa: PhysAddr, value: u32) {
        (**self).write_u32(pa, value)
    }
    fn tables_in_use(&self) -> usize {
        (**self).tables_in_use()
    }
    #[inline]
    fn table_words(&self, table: PhysAddr) -> Option<&[AtomicU64]> {
        (**self).table_words(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend with only the required methods: the defaults serve the
    /// rest.
    struct Plain(SparseMemory);

    impl TableMemory for Plain {
        fn alloc_table(&self) -> Result<PhysAddr> {
            self.0.alloc_table()
        }
        fn free_table(&self, table: PhysAddr) {
            self.0.free_table(table)
        }
        fn read_u64(&self, pa: PhysAddr) -> u64 {
            self.0.read_u64(pa)
        }
        fn write_u64(&self, pa: PhysAddr, value: u64) {
            self.0.write_u64(pa, value)
        }
        fn read_u32(&self, pa: PhysAddr) -> u32 {
            self.0.read_u32(pa)
        }
        fn write_u32(&self, pa: PhysAddr, value: u32) {
            self.0.write_u32(pa, value)
        }
        fn tables_in_use(&self) -> usize {
            self.0.tables_in_use()
        }
    }

    #[test]
    fn the_default_block_methods_refuse_and_ignore_other_sizes() {
        let m = Plain(SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000)));
        assert_eq!(m.alloc_table_block(4), Err(crate::Error::OutOfMemory));
        let t = m.alloc_table_block(1).unwrap();
        // A mismatched size used to trip a debug assertion.
        m.free_table_block(t, 4);
        m.free_table_block(t, 0);
        assert_eq!(m.tables_in_use(), 1);
        m.free_table_block(t, 1);
        assert_eq!(m.tables_in_use(), 0);
        assert!(m.table_words(t).is_none());
    }
}
