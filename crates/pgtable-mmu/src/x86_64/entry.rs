//! Bit layout of x86-64 paging-structure entries (SDM 4.5, tables 4-14 to
//! 4-20), written out from the manual.
//!
//! The constants are public so tests elsewhere can hand-build tables
//! without borrowing the library's definitions.

use super::{Level, X86Mmu};

/// Bit 0, P: the entry maps a page or references a table.
pub const P: u64 = 1 << 0;
/// Bit 1, R/W: writes allowed if set at every level (SDM 4.6).
pub const RW: u64 = 1 << 1;
/// Bit 2, U/S: user-mode accesses allowed if set at every level (SDM 4.6).
pub const US: u64 = 1 << 2;
/// Bit 3, PWT: page-level write-through (SDM 4.9).
pub const PWT: u64 = 1 << 3;
/// Bit 4, PCD: page-level cache disable (SDM 4.9).
pub const PCD: u64 = 1 << 4;
/// Bit 5, A: accessed, set by the walk in every entry it uses (SDM 4.8).
pub const A: u64 = 1 << 5;
/// Bit 6, D: dirty, set in the leaf on a write (SDM 4.8). Ignored in
/// entries that reference a table.
pub const D: u64 = 1 << 6;
/// Bit 7, PS: page size. In a PDPTE it maps a 1 GiB page, in a PDE a 2 MiB
/// page; reserved (must be 0) in PML5Es and PML4Es.
pub const PS: u64 = 1 << 7;
/// Bit 7 of a PTE is PAT (there is no PS bit in a PTE).
pub const PAT_4K: u64 = 1 << 7;
/// Bit 8, G: global translation if CR4.PGE = 1 (SDM 4.10.2.4). Leaf only.
pub const G: u64 = 1 << 8;
/// Bit 12 of a 1 GiB / 2 MiB leaf is PAT (the address field starts higher).
pub const PAT_LARGE: u64 = 1 << 12;
/// Bit 63, XD: execute-disable if IA32_EFER.NXE = 1, otherwise reserved.
pub const XD: u64 = 1 << 63;
/// Bits 51:12: the largest physical-address field (MAXPHYADDR = 52).
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Bits `hi..=lo` set.
pub(crate) const fn bits(hi: u32, lo: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
}

/// Whether a present entry at `level` maps a page rather than a table.
///
/// A PTE always maps a 4 KiB page; PDEs and PDPTEs do when PS = 1. PS in a
/// PML4E/PML5E is a reserved bit, caught by [`reserved_bits`] first.
pub(crate) fn is_leaf(level: Level, entry: u64) -> bool {
    match level {
        Level::Pt => true,
        Level::Pd | Level::Pdpt => entry & PS != 0,
        Level::Pml4 | Level::Pml5 => false,
    }
}

/// The reserved bits set in the present entry `entry` at `level`
/// (0 if none). SDM 4.5 tables 4-14 to 4-20 and 4.7 ("RSVD").
pub(crate) fn reserved_bits(mmu: &X86Mmu, level: Level, entry: u64) -> u64 {
    // Bits 51:MAXPHYADDR of the address field are reserved at every level.
    let mut mask = if mmu.maxphyaddr < 52 {
        bits(51, u32::from(mmu.maxphyaddr))
    } else {
        0
    };
    // Bit 63 is XD only when IA32_EFER.NXE = 1; otherwise it is reserved.
    if !mmu.nxe {
        mask |= XD;
    }
    match level {
        // "Reserved (must be 0)" in bit 7 of PML5Es and PML4Es.
        Level::Pml5 | Level::Pml4 => mask |= PS,
        Level::Pdpt if entry & PS != 0 => {
            if mmu.gbpages {
                // 1 GiB page: bit 12 is PAT, bits 29:13 are reserved.
                mask |= bits(29, 13);
            } else {
                // Without 1-GByte page support PS in a PDPTE is reserved.
                mask |= PS;
            }
        }
        // 2 MiB page: bit 12 is PAT, bits 20:13 are reserved.
        Level::Pd if entry & PS != 0 => mask |= bits(20, 13),
        _ => {}
    }
    entry & mask
}

/// Physical base of the page (for a leaf) or table referenced by `entry`.
pub(crate) fn frame(level: Level, entry: u64, leaf: bool) -> u64 {
    if leaf {
        entry & ADDR_MASK & !(level.page_size() - 1)
    } else {
        entry & ADDR_MASK
    }
}

/// Whether the PAT bit of a leaf at `level` is set (its position differs
/// between 4 KiB and larger pages, SDM 4.9.2).
pub(crate) fn pat(level: Level, entry: u64) -> bool {
    let bit = if level == Level::Pt {
        PAT_4K
    } else {
        PAT_LARGE
    };
    entry & bit != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_builds_inclusive_ranges() {
        assert_eq!(bits(51, 12), ADDR_MASK);
        assert_eq!(bits(20, 13), 0x1f_e000);
        assert_eq!(bits(63, 63), XD);
        assert_eq!(bits(0, 0), P);
    }

    #[test]
    fn reserved_bits_follow_the_tables() {
        let mmu = X86Mmu::new();
        assert_eq!(reserved_bits(&mmu, Level::Pml4, P | PS), PS);
        assert_eq!(reserved_bits(&mmu, Level::Pml5, P | PS), PS);
        assert_eq!(reserved_bits(&mmu, Level::Pd, P | PS | (1 << 13)), 1 << 13);
        assert_eq!(reserved_bits(&mmu, Level::Pd, P | PS | PAT_LARGE), 0);
        // Bit 13 is an address bit in a PDE that references a table.
        assert_eq!(reserved_bits(&mmu, Level::Pd, P | (1 << 13)), 0);
        assert_eq!(
            reserved_bits(&mmu, Level::Pdpt, P | PS | (1 << 29)),
            1 << 29
        );
        assert_eq!(reserved_bits(&mmu, Level::Pt, P | XD), 0);
        let no_nx = X86Mmu { nxe: false, ..mmu };
        assert_eq!(reserved_bits(&no_nx, Level::Pt, P | XD), XD);
        let narrow = X86Mmu {
            maxphyaddr: 46,
            ..mmu
        };
        assert_eq!(reserved_bits(&narrow, Level::Pt, P | (1 << 46)), 1 << 46);
        assert_eq!(reserved_bits(&narrow, Level::Pt, P | (1 << 45)), 0);
        let no_gb = X86Mmu {
            gbpages: false,
            ..mmu
        };
        assert_eq!(reserved_bits(&no_gb, Level::Pdpt, P | PS), PS);
    }
}
