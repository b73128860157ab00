//! VMSAv8-64 descriptor bits for the 4 KiB granule, stage 1 (Arm ARM D8.3
//! "Translation table descriptor formats"; attribute fields in D8.4 and
//! D8.6). Public so tests elsewhere can hand-build tables.

use super::{level_shift, Arm64Mmu};

/// Bit 0: the descriptor is valid. Invalid descriptors give a Translation
/// fault at their level.
pub const VALID: u64 = 1 << 0;
/// Bit 1: with VALID, a table descriptor (levels -1 to 2) or a page
/// descriptor (level 3). Clear: a block descriptor (levels 1, 2; level 0
/// with DS), reserved (a Translation fault) at level 3 and level -1.
pub const TABLE: u64 = 1 << 1;
/// `bits[1:0]` of a table or page descriptor.
pub const TABLE_OR_PAGE: u64 = VALID | TABLE;
/// `bits[1:0]` of a block descriptor.
pub const BLOCK: u64 = VALID;

/// Lower attributes of block and page descriptors.
///
/// AttrIndx\[2:0\], bits \[4:2\]: index into MAIR_EL1.
pub const ATTR_INDX_SHIFT: u32 = 2;
/// NS, bit 5 (Secure state only; ignored in Non-secure).
pub const NS: u64 = 1 << 5;
/// AP\[1\], bit 6: EL0 access permitted (D8.4, "Data access permissions").
pub const AP_EL0: u64 = 1 << 6;
/// AP\[2\], bit 7: read-only (at EL1 and EL0).
pub const AP_RO: u64 = 1 << 7;
/// SH\[1:0\], bits \[9:8\]: shareability (OA\[51:50\] when DS = 1).
pub const SH_SHIFT: u32 = 8;
/// AF, bit 10: Access flag (D8.5).
pub const AF: u64 = 1 << 10;
/// nG, bit 11: not global; the translation is tagged with the ASID.
pub const NG: u64 = 1 << 11;
/// DBM, bit 51: Dirty Bit Modifier (FEAT_HAFDBS).
pub const DBM: u64 = 1 << 51;
/// Contiguous, bit 52: a hint that 16 adjacent entries are alike.
pub const CONT: u64 = 1 << 52;
/// PXN, bit 53: privileged (EL1) execute-never.
pub const PXN: u64 = 1 << 53;
/// UXN, bit 54: unprivileged (EL0) execute-never (XN in single-range
/// regimes).
pub const UXN: u64 = 1 << 54;

/// Table descriptor attributes (D8.4, "Hierarchical permissions").
///
/// PXNTable, bit 59: PXN for everything below.
pub const PXN_TABLE: u64 = 1 << 59;
/// UXNTable, bit 60: UXN for everything below.
pub const UXN_TABLE: u64 = 1 << 60;
/// APTable\[0\], bit 61: no EL0 access below.
pub const AP_TABLE_NO_EL0: u64 = 1 << 61;
/// APTable\[1\], bit 62: no writes below (at any EL).
pub const AP_TABLE_RO: u64 = 1 << 62;
/// NSTable, bit 63.
pub const NS_TABLE: u64 = 1 << 63;

/// Bits \[47:12\]: output address / next-level table address without DS.
pub const ADDR_48: u64 = 0x0000_ffff_ffff_f000;

/// AttrIndx of a block or page descriptor.
pub const fn attr_index(desc: u64) -> u8 {
    ((desc >> ATTR_INDX_SHIFT) & 7) as u8
}

/// Encodes a physical address `pa` into descriptor address bits for
/// `mmu`: bits \[47:12\] directly; with DS, OA\[49:48\] in bits \[49:48\]
/// and OA\[51:50\] in bits \[9:8\] (D8.3, FEAT_LPA2 descriptor layout).
pub const fn encode_addr(mmu: &Arm64Mmu, pa: u64) -> u64 {
    if mmu.ds {
        (pa & 0x0003_ffff_ffff_f000) | (((pa >> 50) & 3) << SH_SHIFT)
    } else {
        pa & 0x000f_ffff_ffff_f000
    }
}

/// The address in a descriptor (next table, or output address with the
/// bits below the block size cleared). Without DS, bits \[49:48\] are
/// included even though they are RES0 for this granule (they are
/// OA\[49:48\] with DS), so that a descriptor setting them is caught by
/// the address size check. Bits \[51:50\] are never address bits with the
/// 4 KiB granule (DBM and GP in leaves).
pub const fn decode_addr(mmu: &Arm64Mmu, desc: u64, level: i8, leaf: bool) -> u64 {
    let addr = desc & 0x0003_ffff_ffff_f000;
    let addr = if mmu.ds {
        addr | (((desc >> SH_SHIFT) & 3) << 50)
    } else {
        addr
    };
    if leaf {
        addr & !((1u64 << level_shift(level)) - 1)
    } else {
        addr
    }
}

/// What a valid descriptor is at `level` (D8.3): `Some(true)` table,
/// `Some(false)` block or page, `None` a reserved encoding (a block where
/// none is allowed), which the walk reports as a Translation fault.
pub const fn kind(mmu: &Arm64Mmu, level: i8, desc: u64) -> Option<bool> {
    let table_bit = desc & TABLE != 0;
    match level {
        3 => {
            if table_bit {
                Some(false)
            } else {
                None
            }
        }
        1 | 2 => Some(table_bit),
        0 if mmu.ds => Some(table_bit),
        _ => {
            if table_bit {
                Some(true)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_per_level() {
        let m = Arm64Mmu::new_48();
        let m52 = Arm64Mmu::new_52();
        assert_eq!(kind(&m, 3, TABLE_OR_PAGE), Some(false));
        assert_eq!(kind(&m, 3, BLOCK), None);
        assert_eq!(kind(&m, 2, BLOCK), Some(false));
        assert_eq!(kind(&m, 1, TABLE_OR_PAGE), Some(true));
        assert_eq!(kind(&m, 0, BLOCK), None);
        assert_eq!(kind(&m52, 0, BLOCK), Some(false));
        assert_eq!(kind(&m52, -1, BLOCK), None);
        assert_eq!(kind(&m52, -1, TABLE_OR_PAGE), Some(true));
    }

    #[test]
    fn lpa2_address_split() {
        let m52 = Arm64Mmu::new_52();
        let pa = 0xf_1234_5678_9000;
        let d = encode_addr(&m52, pa);
        assert_eq!(d & (3 << 8), 3 << 8);
        assert_eq!(decode_addr(&m52, d | BLOCK, 2, true), 0xf_1234_5660_0000);
        assert_eq!(decode_addr(&m52, d, 3, false), pa);
        let m = Arm64Mmu::new_48();
        assert_eq!(
            decode_addr(&m, 0x1_0000_0000_0000 | 0x300, 3, true),
            0x1_0000_0000_0000
        );
        assert_eq!(attr_index(0b1_1100), 7);
    }
}
