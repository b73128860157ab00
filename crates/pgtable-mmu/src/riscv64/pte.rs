//! Sv39/48/57 page-table entry layout (privileged spec 4.3.1, 4.4, and the
//! Svpbmt chapter). Public so tests elsewhere can hand-build tables.

use super::Riscv64Mmu;

/// Bit 0, V: valid.
pub const V: u64 = 1 << 0;
/// Bit 1, R: readable. R = X = 0 makes the PTE a pointer to the next level.
pub const R: u64 = 1 << 1;
/// Bit 2, W: writable (W = 1 with R = 0 is reserved).
pub const W: u64 = 1 << 2;
/// Bit 3, X: executable.
pub const X: u64 = 1 << 3;
/// Bit 4, U: accessible to U-mode.
pub const U: u64 = 1 << 4;
/// Bit 5, G: global mapping (in a non-leaf PTE, for the whole subtree).
pub const G: u64 = 1 << 5;
/// Bit 6, A: accessed.
pub const A: u64 = 1 << 6;
/// Bit 7, D: dirty.
pub const D: u64 = 1 << 7;
/// Bits 53:10, PPN.
pub const PPN_MASK: u64 = ((1 << 44) - 1) << 10;
/// Bits 60:54: reserved for future standard use (must be zero).
pub const RESERVED: u64 = ((1 << 7) - 1) << 54;
/// Bits 62:61, PBMT (Svpbmt): 0 PMA, 1 NC, 2 IO, 3 reserved.
pub const PBMT: u64 = 3 << 61;
/// Bit 63, N (Svnapot): treated as reserved by this model.
pub const N: u64 = 1 << 63;

/// The PTE pointing to (or mapping) physical address `pa`.
pub const fn from_pa(pa: u64) -> u64 {
    (pa >> 12) << 10 & PPN_MASK
}

/// The physical address a PTE's PPN designates: PPN × 4096.
pub const fn to_pa(pte: u64) -> u64 {
    (pte & PPN_MASK) >> 10 << 12
}

/// A leaf has R or X set (4.3.2 step 4).
pub const fn is_leaf(pte: u64) -> bool {
    pte & (R | X) != 0
}

/// Why a valid PTE is malformed (4.3.2 step 3: "R = 0 and W = 1, or any
/// bits or encodings that are reserved for future standard use"), or
/// `None`.
pub const fn malformed(mmu: &Riscv64Mmu, pte: u64) -> Option<&'static str> {
    if pte & (R | W) == W {
        return Some("W = 1 with R = 0");
    }
    if pte & (RESERVED | N) != 0 {
        return Some("reserved bits 63:54 set");
    }
    if pte & PBMT != 0 {
        if !mmu.svpbmt {
            return Some("PBMT set without Svpbmt");
        }
        if !is_leaf(pte) {
            return Some("PBMT set in a non-leaf PTE");
        }
        if pte & PBMT == PBMT {
            return Some("reserved PBMT value 3");
        }
    }
    if mmu.strict_nonleaf && !is_leaf(pte) && pte & (A | D | U) != 0 {
        return Some("A, D or U set in a non-leaf PTE");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::riscv64::Scheme;

    #[test]
    fn encodings() {
        let m = Riscv64Mmu::new(Scheme::Sv39);
        assert_eq!(to_pa(from_pa(0x80_1234_5000)), 0x80_1234_5000);
        assert_eq!(from_pa(0x1000), 1 << 10);
        assert_eq!(malformed(&m, V | W), Some("W = 1 with R = 0"));
        assert_eq!(malformed(&m, V | W | X), Some("W = 1 with R = 0"));
        assert_eq!(
            malformed(&m, V | R | W | (1 << 54)),
            Some("reserved bits 63:54 set")
        );
        assert_eq!(malformed(&m, V | R | (1 << 61)), None);
        assert_eq!(
            malformed(&m, V | (1 << 61)),
            Some("PBMT set in a non-leaf PTE")
        );
        assert_eq!(malformed(&m, V | R | PBMT), Some("reserved PBMT value 3"));
        let no = Riscv64Mmu { svpbmt: false, ..m };
        assert_eq!(
            malformed(&no, V | R | (1 << 62)),
            Some("PBMT set without Svpbmt")
        );
        assert_eq!(malformed(&m, V | A | U), None);
        let strict = Riscv64Mmu {
            strict_nonleaf: true,
            ..m
        };
        assert_eq!(
            malformed(&strict, V | A),
            Some("A, D or U set in a non-leaf PTE")
        );
        assert_eq!(malformed(&strict, V | R | A | D | U), None);
    }
}
