//! Test-only table builder for 4- and 5-level paging, written directly from
//! the entry layout (no dependency on the walker under test).

use super::{entry, Level, X86Mmu};
use crate::test_util::MemBus;

/// Physical address of the entry at `level` for `va`, allocating the
/// tables above it (linked with `table_flags | P`) as needed.
pub fn entry_pa(
    bus: &MemBus,
    mmu: &X86Mmu,
    cr3: u64,
    va: u64,
    level: Level,
    table_flags: u64,
) -> u64 {
    let mut table = cr3 & entry::ADDR_MASK;
    let mut l = mmu.root_level();
    loop {
        let epa = table + 8 * l.index(va) as u64;
        if l == level {
            return epa;
        }
        let e = bus.get(epa);
        table = if e & entry::P != 0 {
            e & entry::ADDR_MASK
        } else {
            let t = bus.alloc();
            bus.set(epa, t | table_flags | entry::P);
            t
        };
        l = l.lower().expect("level below PT");
    }
}

/// Maps `va` to `pa` with a leaf at `level` (PS added above PT, P always).
pub fn map(bus: &MemBus, mmu: &X86Mmu, cr3: u64, va: u64, pa: u64, level: Level, flags: u64) {
    let epa = entry_pa(bus, mmu, cr3, va, level, entry::RW | entry::US);
    let ps = if level == Level::Pt { 0 } else { entry::PS };
    bus.set(epa, pa | flags | ps | entry::P);
}
