//! Page-table memory: where table frames come from and how entries are read
//! and written.
//!
//! Linux reaches a table through the direct map (`phys_to_virt`) and gets a
//! frame from `pagetable_alloc()`. A [`TableMemory`] does both. Methods take
//! `&self`: entries are read and written with single atomic accesses (as
//! `READ_ONCE`/`WRITE_ONCE` do), so several address spaces can be edited from
//! several threads while the kernel space is being populated.

mod fragment;
mod inject;
mod offset;
mod sparse;

pub use fragment::Fragments;
pub use inject::FaultInjector;
pub use offset::OffsetMemory;
pub use sparse::SparseMemory;

use crate::addr::PhysAddr;
use crate::error::Result;
use core::sync::atomic::AtomicU64;

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
    /// Give back a block from [`alloc_table_block`](Self::alloc_table_block).
    fn free_table_block(&self, block: PhysAddr, pages: u64) {
        debug_assert_eq!(pages, 1, "the default serves single pages only");
        self.free_table(block);
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
