//! Test-only table builder for the short-descriptor format.

use super::desc::{L1_PAGE_TABLE, L1_TYPE_MASK};
use super::{Arm32Mmu, Half};
use crate::test_util::MemBus;

/// Address of the first-level descriptor for `va` in the table at `l1`.
pub fn l1_pa(m: &Arm32Mmu, l1: u64, va: u64) -> u64 {
    let index = match m.half(va) {
        Half::Lower => (va >> 20) & ((1 << (12 - m.ttbcr_n)) - 1),
        Half::Upper => va >> 20,
    };
    l1 + 4 * index
}

/// Address of the second-level descriptor for `va`, creating the
/// second-level table (a page-table descriptor with `l1_bits`) if needed.
pub fn l2_pa(bus: &MemBus, m: &Arm32Mmu, l1: u64, va: u64, l1_bits: u32) -> u64 {
    let pa = l1_pa(m, l1, va);
    let d = bus.get32(pa);
    let table = if d & L1_TYPE_MASK == L1_PAGE_TABLE {
        u64::from(d & 0xffff_fc00)
    } else {
        // 1 KiB tables; allocate a page and use its first KiB.
        let t = bus.alloc();
        bus.set32(pa, t as u32 | l1_bits | L1_PAGE_TABLE);
        t
    };
    table + 4 * ((va >> 12) & 0xff)
}
