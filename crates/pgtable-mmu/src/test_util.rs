//! Test-only sparse memory and a tiny table builder, written directly from
//! the entry layout (no dependency on the walker under test).

use core::cell::{Cell, RefCell};
use std::collections::HashMap;

use crate::x86_64::{entry, Level, X86Mmu};
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

    /// Physical address of the entry at `level` for `va`, allocating the
    /// tables above it (linked with `table_flags | P`) as needed.
    pub fn entry_pa(&self, mmu: &X86Mmu, cr3: u64, va: u64, level: Level, table_flags: u64) -> u64 {
        let mut table = cr3 & entry::ADDR_MASK;
        let mut l = mmu.root_level();
        loop {
            let epa = table + 8 * l.index(va) as u64;
            if l == level {
                return epa;
            }
            let e = self.get(epa);
            table = if e & entry::P != 0 {
                e & entry::ADDR_MASK
            } else {
                let t = self.alloc();
                self.set(epa, t | table_flags | entry::P);
                t
            };
            l = l.lower().expect("level below PT");
        }
    }

    /// Maps `va` to `pa` with a leaf at `level` (PS added above PT, P always).
    pub fn map(&self, mmu: &X86Mmu, cr3: u64, va: u64, pa: u64, level: Level, flags: u64) {
        let epa = self.entry_pa(mmu, cr3, va, level, entry::RW | entry::US);
        let ps = if level == Level::Pt { 0 } else { entry::PS };
        self.set(epa, pa | flags | ps | entry::P);
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

#[test]
fn read_u32_picks_halves() {
    let bus = MemBus::new();
    bus.set(0x40, 0x1122_3344_5566_7788);
    assert_eq!(bus.read_u32(0x40), 0x5566_7788);
    assert_eq!(bus.read_u32(0x44), 0x1122_3344);
}
