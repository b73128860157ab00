//! Test-only table builder for riscv64, written from the PTE layout.

use super::pte::{self, A, D, V};
use super::{level_shift, Riscv64Mmu};
use crate::test_util::MemBus;

/// Physical address of the PTE at `level` for `va`, allocating and linking
/// (V-only pointer PTEs) the tables above it as needed.
pub fn entry_pa(bus: &MemBus, m: &Riscv64Mmu, root: u64, va: u64, level: i8) -> u64 {
    let mut table = root;
    let mut l = m.root_level();
    loop {
        let epa = table + 8 * ((va >> level_shift(l)) & 511);
        if l == level {
            return epa;
        }
        let e = bus.get(epa);
        table = if e & V != 0 {
            pte::to_pa(e)
        } else {
            let t = bus.alloc();
            bus.set(epa, pte::from_pa(t) | V);
            t
        };
        l -= 1;
    }
}

/// Maps `va` to `pa` with a leaf at `level` carrying `flags` plus V, A, D.
pub fn map(bus: &MemBus, m: &Riscv64Mmu, root: u64, va: u64, pa: u64, level: i8, flags: u64) {
    let epa = entry_pa(bus, m, root, va, level);
    bus.set(epa, pte::from_pa(pa) | flags | V | A | D);
}

/// Replaces the PTE at `level` on `va`'s path with `f(old)`.
pub fn edit(bus: &MemBus, m: &Riscv64Mmu, root: u64, va: u64, level: i8, f: impl Fn(u64) -> u64) {
    let epa = entry_pa(bus, m, root, va, level);
    bus.set(epa, f(bus.get(epa)));
}
