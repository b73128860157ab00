//! The software MMU reads the same memory the library writes.

use pgtable::{PhysAddr, SparseMemory};
use pgtable_mmu::PhysBus;

/// [`SparseMemory`] seen as the MMU's physical bus.
pub struct Bus<'a>(pub &'a SparseMemory);

impl PhysBus for Bus<'_> {
    fn read_u64(&self, pa: u64) -> u64 {
        self.0.read_u64(PhysAddr(pa))
    }
    fn write_u64(&self, pa: u64, value: u64) {
        self.0.write_u64(PhysAddr(pa), value)
    }
}
