//! Test-only table builder for arm64, written from the descriptor layout.

use super::desc::{self, AF, BLOCK, TABLE_OR_PAGE};
use super::{Arm64Mmu, Half};
use crate::test_util::MemBus;

/// Physical address of the descriptor at `level` for `va` in the tree at
/// `root`, allocating and linking (plain table descriptors) the tables
/// above it as needed.
pub fn entry_pa(bus: &MemBus, m: &Arm64Mmu, half: Half, root: u64, va: u64, level: i8) -> u64 {
    let mut table = root;
    let mut l = m.start_level(half);
    loop {
        let epa = table + 8 * m.index(half, l, va);
        if l == level {
            return epa;
        }
        let d = bus.get(epa);
        table = if d & 3 == TABLE_OR_PAGE {
            desc::decode_addr(m, d, l, false)
        } else {
            let t = bus.alloc();
            bus.set(epa, desc::encode_addr(m, t) | TABLE_OR_PAGE);
            t
        };
        l += 1;
    }
}

/// Maps `va` to `pa` with a page (level 3) or block descriptor carrying
/// `attrs` plus AF.
#[allow(clippy::too_many_arguments)]
pub fn map(
    bus: &MemBus,
    m: &Arm64Mmu,
    half: Half,
    root: u64,
    va: u64,
    pa: u64,
    level: i8,
    attrs: u64,
) {
    let epa = entry_pa(bus, m, half, root, va, level);
    let kind = if level == 3 { TABLE_OR_PAGE } else { BLOCK };
    bus.set(epa, desc::encode_addr(m, pa) | attrs | AF | kind);
}

/// ORs `bits` into the descriptor at `level` on `va`'s path.
pub fn or(bus: &MemBus, m: &Arm64Mmu, half: Half, root: u64, va: u64, level: i8, bits: u64) {
    let epa = entry_pa(bus, m, half, root, va, level);
    bus.set(epa, bus.get(epa) | bits);
}

/// Clears `bits` in the descriptor at `level` on `va`'s path.
pub fn clear(bus: &MemBus, m: &Arm64Mmu, half: Half, root: u64, va: u64, level: i8, bits: u64) {
    let epa = entry_pa(bus, m, half, root, va, level);
    bus.set(epa, bus.get(epa) & !bits);
}
