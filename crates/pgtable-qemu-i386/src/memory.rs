//! The library's table memory: low memory through the direct map, plus,
//! under HIGHPTE, frames of high memory reached through a permanent window
//! in the pkmap area (Linux reaches a HIGHPTE table through
//! `kmap_local_page()`; a permanent window gives the same physical
//! placement, which is what the MMU sees).
//!
//! Both parts are `OffsetMemory` regions; this type routes each physical
//! address to the part that holds it and offers the high part as
//! `alloc_table_high` (`pte_alloc_one()` with `__GFP_HIGHMEM`).

use core::ops::Range;
use core::sync::atomic::AtomicU64;
use pgtable::{OffsetMemory, PhysAddr, RawAccess, TableMemory};

pub struct KernelMemory {
    low: OffsetMemory,
    high: Option<(Range<u64>, OffsetMemory)>,
}

impl KernelMemory {
    pub fn new(low: OffsetMemory, high: Option<(Range<u64>, OffsetMemory)>) -> Self {
        KernelMemory { low, high }
    }

    /// The part holding `pa`.
    fn part(&self, pa: PhysAddr) -> &OffsetMemory {
        match &self.high {
            Some((r, m)) if r.contains(&pa.0) => m,
            _ => &self.low,
        }
    }
}

impl TableMemory for KernelMemory {
    fn alloc_table(&self, _: RawAccess<'_>) -> pgtable::Result<PhysAddr> {
        self.low.alloc_table()
    }
    fn alloc_table_for_overwrite(&self, _: RawAccess<'_>) -> pgtable::Result<PhysAddr> {
        self.low.alloc_table_for_overwrite()
    }
    fn free_table(&self, _: RawAccess<'_>, table: PhysAddr) {
        self.part(table).free_table(table)
    }
    fn alloc_table_block(&self, _: RawAccess<'_>, pages: u64) -> pgtable::Result<PhysAddr> {
        self.low.alloc_table_block(pages)
    }
    fn free_table_block(&self, _: RawAccess<'_>, block: PhysAddr, pages: u64) {
        self.part(block).free_table_block(block, pages)
    }
    fn alloc_table_high(&self, _: RawAccess<'_>) -> Option<pgtable::Result<PhysAddr>> {
        self.high.as_ref().map(|(_, m)| m.alloc_table())
    }
    fn is_high(&self, table: PhysAddr) -> bool {
        matches!(&self.high, Some((r, _)) if r.contains(&table.0))
    }
    fn read_u64(&self, pa: PhysAddr) -> u64 {
        self.part(pa).read_u64(pa)
    }
    fn write_u64(&self, _: RawAccess<'_>, pa: PhysAddr, value: u64) {
        self.part(pa).write_u64(pa, value)
    }
    fn read_u32(&self, pa: PhysAddr) -> u32 {
        self.part(pa).read_u32(pa)
    }
    fn write_u32(&self, _: RawAccess<'_>, pa: PhysAddr, value: u32) {
        self.part(pa).write_u32(pa, value)
    }
    fn tables_in_use(&self) -> usize {
        self.low.tables_in_use() + self.high.as_ref().map_or(0, |(_, m)| m.tables_in_use())
    }
    fn table_words(&self, _: RawAccess<'_>, table: PhysAddr) -> Option<&[AtomicU64]> {
        self.part(table).table_words(table)
    }
}
