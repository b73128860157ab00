//! Mappings of physical addresses above 48 bits (52-bit image only).
//!
//! With FEAT_LPA2 a descriptor holds OA\[49:48\] in bits 49:48 and
//! OA\[51:50\] in bits 9:8 (where SH lives without it). RAM on `virt` is at
//! 1 GiB, so the RAM mappings never set those bits; these extra mappings
//! do, with several combinations of the two fields, at each leaf size.
//! They point at no memory, so the differential compares them through
//! `AT` + PAR_EL1 only (PAR_EL1.PA is bits 51:12): `compare::address`
//! makes real accesses only where the walker's PA is RAM.
//!
//! The differential alone would pass an encoder and a decoder that agree
//! on a wrong split, so [`verify`] also checks `AT` against the physical
//! address each mapping was made with.

use crate::cpu::{self, AtOp};
use crate::data::BLOCK_2M;
use crate::machine::Machine;
use crate::report::CheckResult;
use alloc::format;
use pgtable::{Access, AddressSpace, CacheMode, PhysAddr, Prot, VirtAddr};

const PAGE: u64 = 4096;
const GIB: u64 = 1 << 30;

/// A mapping: `(va or offset, pa, size, prot, leaf shift)`.
type Map = (u64, u64, u64, Prot, u32);

/// Kernel mappings, at offsets from the vmalloc test area: OA\[51:48\] =
/// 0xf (both fields 0b11) in 4 KiB pages, 0x9 (bits 9:8 = 0b10, bits
/// 49:48 = 0b01) in a read-only 2 MiB block.
const KERNEL: [Map; 2] = [
    (5 * BLOCK_2M, 0xf_edcb_a987_6000, 4 * PAGE, Prot::KERNEL, 12),
    (
        6 * BLOCK_2M,
        0x9_0000_0020_0000,
        BLOCK_2M,
        Prot::KERNEL_RO,
        21,
    ),
];

/// User mappings: OA\[51:48\] = 0x3 (bits 49:48 only) in a 4 KiB page,
/// 0xc (bits 9:8 only) in an EL0-executable page, 0x4 in a 2 MiB block,
/// 0x5 in a read-only 1 GiB block.
const USER: [Map; 4] = [
    (0x60_0000, 0x3_0000_0000_1000, PAGE, Prot::USER_RW, 12),
    (
        0x61_0000,
        0xc_ffff_ffff_f000,
        PAGE,
        Prot::new(Access::USER.union(Access::EXEC), CacheMode::WriteBack),
        12,
    ),
    (0xa0_0000, 0x4_0000_0060_0000, BLOCK_2M, Prot::USER_RW, 21),
    (512 * GIB, 0x5_0000_4000_0000, GIB, Prot::USER_RO, 30),
];

/// Kernel mappings at `v` (the vmalloc test area), through the library's
/// `edit`.
pub fn kernel_maps(e: &mut crate::machine::Edit<'_, '_>, v: u64) -> pgtable::Result<()> {
    for (off, pa, size, prot, shift) in KERNEL {
        e.vmap_range(
            VirtAddr(v + off),
            PhysAddr(pa),
            size,
            prot,
            crate::machine::leaf(shift),
        )?;
    }
    Ok(())
}

/// User mappings of one process.
pub fn user_maps(
    u: &mut pgtable::UserSpace<'_, pgtable::arch::arm64::Arm64, pgtable::OffsetMemory>,
) -> pgtable::Result<()> {
    for (va, pa, size, prot, shift) in USER {
        u.map_range(
            VirtAddr(va),
            PhysAddr(pa),
            size,
            prot,
            crate::machine::leaf(shift),
        )?;
    }
    Ok(())
}

/// With each of `spaces` loaded (and `m`'s kernel root), `AT S1E1R` of the
/// first, middle and last word of every mapping above must give exactly the
/// physical address it was mapped to.
pub fn verify(m: &Machine, spaces: &[AddressSpace], v: u64) -> CheckResult {
    let all = KERNEL
        .iter()
        .map(|&(off, pa, size, ..)| (v + off, pa, size))
        .chain(USER.iter().map(|&(va, pa, size, ..)| (va, pa, size)));
    let all: alloc::vec::Vec<_> = all.collect();
    let mut n = 0u64;
    let mut first = None;
    for s in spaces {
        m.enter(Some(s));
        for &(va, pa, size) in &all {
            for off in [0, size / 2, size - 8] {
                let par = cpu::at(AtOp::E1R, va + off);
                let got = (par & 0x000f_ffff_ffff_f000) | ((va + off) & 0xfff);
                if par & 1 != 0 || got != pa + off {
                    return Err(format!(
                        "AT S1E1R {:#x}: PAR_EL1={par:#x}, mapped to pa {:#x}",
                        va + off,
                        pa + off
                    ));
                }
                first.get_or_insert(par);
                n += 1;
            }
        }
    }
    m.enter(None);
    Ok(format!(
        "translations={n} of {} mappings to PAs above 48 bits (OA[51:48] 0x3 0x4 0x5 0x9 0xc 0xf) equal the mapped PA; first PAR_EL1={:#x}",
        all.len(),
        first.unwrap_or(0)
    ))
}
