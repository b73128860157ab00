//! Short-descriptor bits (DDI 0406C B3.5.1, figures B3-4 and B3-5) and the
//! access-permission encoding (B3.7.1, table B3-8, SCTLR.AFE = 0).

/// First level, `bits[1:0]`: 0b00 fault, 0b01 page table, 0b1x section or
/// supersection (bit 0 is PXN when implemented).
pub const L1_TYPE_MASK: u32 = 0b11;
/// `bits[1:0]` of a page-table descriptor.
pub const L1_PAGE_TABLE: u32 = 0b01;
/// Bit 1 set: a section or supersection.
pub const L1_SECTION: u32 = 0b10;
/// Page-table descriptor bit 2: PXN for the whole second-level table.
pub const L1_PT_PXN: u32 = 1 << 2;
/// Section bit 0: PXN.
pub const SECT_PXN: u32 = 1 << 0;
/// Section bit 4: XN.
pub const SECT_XN: u32 = 1 << 4;
/// Domain, bits \[8:5\] of page-table and section descriptors.
pub const DOMAIN_SHIFT: u32 = 5;
/// Section AP\[1:0\], bits \[11:10\].
pub const SECT_AP_SHIFT: u32 = 10;
/// Section AP\[2\] (APX), bit 15.
pub const SECT_APX: u32 = 1 << 15;
/// Section nG, bit 17.
pub const SECT_NG: u32 = 1 << 17;
/// Bit 18: a supersection rather than a section.
pub const SUPERSECTION: u32 = 1 << 18;

/// Second level, `bits[1:0]`: 0b00 fault, 0b01 large page, 0b1x small page
/// (bit 0 is its XN).
pub const L2_LARGE: u32 = 0b01;
/// Bit 1 set: a small page.
pub const L2_SMALL: u32 = 0b10;
/// Small page XN, bit 0.
pub const SMALL_XN: u32 = 1 << 0;
/// Large page XN, bit 15.
pub const LARGE_XN: u32 = 1 << 15;
/// Page AP\[1:0\], bits \[5:4\].
pub const PAGE_AP_SHIFT: u32 = 4;
/// Page AP\[2\] (APX), bit 9.
pub const PAGE_APX: u32 = 1 << 9;
/// Page nG, bit 11.
pub const PAGE_NG: u32 = 1 << 11;

/// Access at one privilege level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Perm {
    /// No access.
    None,
    /// Read-only.
    Ro,
    /// Read/write.
    Rw,
}

/// Decodes AP\[2:0\] into (PL1, PL0) access (table B3-8, AFE = 0); `None`
/// for the reserved encoding 0b100.
pub const fn decode_ap(ap: u32) -> Option<(Perm, Perm)> {
    use Perm::*;
    Some(match ap & 7 {
        0b000 => (None, None),
        0b001 => (Rw, None),
        0b010 => (Rw, Ro),
        0b011 => (Rw, Rw),
        0b101 => (Ro, None),
        0b110 | 0b111 => (Ro, Ro),
        _ => return Option::None,
    })
}

/// AP\[2:0\] of a section (`level` 1) or page (`level` 2) descriptor.
pub const fn ap(level: i8, d: u32) -> u32 {
    if level == 1 {
        (d >> SECT_AP_SHIFT) & 3 | if d & SECT_APX != 0 { 4 } else { 0 }
    } else {
        (d >> PAGE_AP_SHIFT) & 3 | if d & PAGE_APX != 0 { 4 } else { 0 }
    }
}

/// AP\[2:0\] as section descriptor bits.
pub const fn sect_ap(ap: u32) -> u32 {
    (ap & 3) << SECT_AP_SHIFT | if ap & 4 != 0 { SECT_APX } else { 0 }
}

/// AP\[2:0\] as page descriptor bits.
pub const fn page_ap(ap: u32) -> u32 {
    (ap & 3) << PAGE_AP_SHIFT | if ap & 4 != 0 { PAGE_APX } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ap_roundtrip_and_table() {
        for a in 0..8 {
            assert_eq!(ap(1, sect_ap(a)), a);
            assert_eq!(ap(2, page_ap(a)), a);
        }
        assert_eq!(decode_ap(0b100), None);
        assert_eq!(decode_ap(0b010), Some((Perm::Rw, Perm::Ro)));
        assert_eq!(decode_ap(0b101), Some((Perm::Ro, Perm::None)));
    }
}
