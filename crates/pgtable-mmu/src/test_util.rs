//! Test-only sparse memory for every architecture's tests (each
//! architecture's table builder is its own `build` module).

use core::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::PhysBus;

/// Sparse physical memory; unwritten quadwords read as 0.
pub struct MemBus {
    mem: RefCell<HashMap<u64, u64>>,
    next_table: Cell<u64>,
    /// Number of `write_u64` calls (to check the walk writes only on change).
    pub writes: Cell<usize>,
    /// Number of `read_u64` calls (to check enumeration skips subtrees).
    pub reads: Cell<usize>,
}

impl MemBus {
    pub fn new() -> Self {
        MemBus {
            mem: RefCell::new(HashMap::new()),
            next_table: Cell::new(0x10_0000),
            writes: Cell::new(0),
            reads: Cell::new(0),
        }
    }

    /// How many tables [`MemBus::alloc`] has handed out.
    pub fn table_count(&self) -> usize {
        ((self.next_table.get() - 0x10_0000) / 0x1000) as usize
    }

    /// A fresh zeroed 4 KiB table.
    pub fn alloc(&self) -> u64 {
        let pa = self.next_table.get();
        self.next_table.set(pa + 0x1000);
        pa
    }

    /// A fresh zeroed region of `size` bytes (a power of two) aligned to
    /// its size and to 4 KiB. Not counted by [`MemBus::table_count`]'s
    /// callers, which use only [`MemBus::alloc`].
    pub fn alloc_aligned(&self, size: u64) -> u64 {
        let align = size.max(0x1000);
        let pa = (self.next_table.get() + align - 1) & !(align - 1);
        self.next_table.set(pa + align);
        pa
    }

    /// Reads a doubleword without counting as a walker read.
    pub fn get32(&self, pa: u64) -> u32 {
        (self.get(pa & !7) >> ((pa & 4) * 8)) as u32
    }

    /// Stores a doubleword without counting as a walker write.
    pub fn set32(&self, pa: u64, v: u32) {
        let shift = (pa & 4) * 8;
        let old = self.get(pa & !7) & !(0xffff_ffff << shift);
        self.set(pa & !7, old | u64::from(v) << shift);
    }

    /// Reads without counting as a walker read.
    pub fn get(&self, pa: u64) -> u64 {
        self.mem.borrow().get(&pa).copied().unwrap_or(0)
    }

    /// Stores without counting as a walker write.
    pub fn set(&self, pa: u64, v: u64) {
        self.mem.borrow_mut().insert(pa, v);
    }
}

impl PhysBus for MemBus {
    fn read_u64(&self, pa: u64) -> u64 {
        assert_eq!(pa & 7, 0, "misaligned read");
        self.reads.set(self.reads.get() + 1);
        self.get(pa)
    }

    fn write_u64(&self, pa: u64, value: u64) {
        assert_eq!(pa & 7, 0, "misaligned write");
        self.writes.set(self.writes.get() + 1);
        self.mem.borrow_mut().insert(pa, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_u32_picks_halves() {
        let bus = MemBus::new();
        bus.set(0x40, 0x1122_3344_5566_7788);
        assert_eq!(bus.read_u32(0x40), 0x5566_7788);
        assert_eq!(bus.read_u32(0x44), 0x1122_3344);
    }
}
