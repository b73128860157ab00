//! Test-only table builder for 32-bit and PAE paging.

use super::entry::{P, PS, RW, US};
use super::X86_32Mmu;
use crate::test_util::MemBus;

fn get(bus: &MemBus, m: &X86_32Mmu, pa: u64) -> u64 {
    if m.pae {
        bus.get(pa)
    } else {
        u64::from(bus.get32(pa))
    }
}

/// Stores an entry of the mode's size.
pub fn set(bus: &MemBus, m: &X86_32Mmu, pa: u64, v: u64) {
    if m.pae {
        bus.set(pa, v)
    } else {
        bus.set32(pa, v as u32)
    }
}

/// Physical address of the entry at `level` for `va`, allocating tables
/// above it (PDPTEs get P only; PDEs P | RW | US).
pub fn entry_pa(bus: &MemBus, m: &X86_32Mmu, cr3: u64, va: u64, level: i8) -> u64 {
    let mut table = m.root_base(cr3);
    let mut l = m.root_level();
    loop {
        let index = (va >> m.shift(l)) & (m.entries(l) - 1);
        let epa = table + m.entry_bytes() * index;
        if l == level {
            return epa;
        }
        let e = get(bus, m, epa);
        table = if e & P != 0 {
            m.frame(l, e, false)
        } else {
            let t = bus.alloc();
            set(bus, m, epa, t | P | if l == 3 { 0 } else { RW | US });
            t
        };
        l -= 1;
    }
}

/// Maps `va` to `pa` with a leaf at `level` (PS added at level 2).
pub fn map(bus: &MemBus, m: &X86_32Mmu, cr3: u64, va: u64, pa: u64, level: i8, flags: u64) {
    let epa = entry_pa(bus, m, cr3, va, level);
    let ps = if level == 2 { PS } else { 0 };
    set(bus, m, epa, pa | flags | ps | P);
}

/// Replaces the entry at `level` on `va`'s path with `f(old)`.
pub fn edit(bus: &MemBus, m: &X86_32Mmu, cr3: u64, va: u64, level: i8, f: impl Fn(u64) -> u64) {
    let epa = entry_pa(bus, m, cr3, va, level);
    set(bus, m, epa, f(get(bus, m, epa)));
}
