//! The arm64 entry format.

use super::*;
use crate::addr::PhysAddr;
use crate::arch::{Decoded, EntryFormat};
use crate::prot::{Access, Prot};

impl EntryFormat for Arm64 {
    /// Blocks at level 1 (1 GiB, PUD) and level 2 (2 MiB, PMD), pages at
    /// level 3. FEAT_LPA2 also allows 512 GiB level-0 blocks, which Linux
    /// never creates (no P4D leaves on arm64).
    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(self.lookup_level(level), 1..=3)
    }

    /// A table descriptor (`PMD_TYPE_TABLE`) with `PMD_TABLE_AF`, and
    /// `PMD_TABLE_UXN` in the kernel's tables or `PMD_TABLE_PXN` in a
    /// user's, as `pmd_populate_kernel()`/`pmd_populate()` and the other
    /// `*_populate` helpers of `pgalloc.h` write them.
    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, user: bool) -> u64 {
        let mut f = Arm64Flags::VALID | Arm64Flags::TABLE | Arm64Flags::AF;
        f |= if user {
            Arm64Flags::PXN_TABLE
        } else {
            Arm64Flags::UXN_TABLE
        };
        self.encode_addr(table.0, 1 << 12) | f.bits()
    }

    /// A block (levels 1, 2) or page (level 3) descriptor as
    /// `pgtable-prot.h` builds them: AF always set (no Access flag faults),
    /// inner shareable (without LPA2), AttrIndx from the memory type, nG
    /// unless global. Kernel pages are always UXN and PXN unless
    /// executable; user pages always PXN and UXN unless executable (EL1
    /// never runs user code). A writable page has AP\[2\] clear and DBM
    /// (`PTE_WRITE`) set, i.e. writable and already dirty; a read-only one
    /// has AP\[2\] set.
    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let lookup = self.lookup_level(level);
        let mut f = Arm64Flags::VALID | Arm64Flags::AF;
        if lookup == 3 {
            f |= Arm64Flags::TABLE;
        }
        if !self.lpa2() {
            f |= Arm64Flags::SH_INNER;
        }
        let a = prot.access;
        if !a.contains(Access::GLOBAL) {
            f |= Arm64Flags::NG;
        }
        if a.contains(Access::WRITE) {
            f |= Arm64Flags::DBM;
        } else {
            f |= Arm64Flags::AP_RDONLY;
        }
        let exec = a.contains(Access::EXEC);
        if a.contains(Access::USER) {
            f |= Arm64Flags::AP_USER | Arm64Flags::PXN;
            if !exec {
                f |= Arm64Flags::UXN;
            }
        } else {
            f |= Arm64Flags::UXN;
            if !exec {
                f |= Arm64Flags::PXN;
            }
        }
        let attr = Self::attr_index(prot.cache) << ATTR_SHIFT;
        self.encode_addr(pa.0, 1 << Self::lookup_shift(lookup)) | attr | f.bits()
    }

    /// The output address field, without FEAT_LPA2 (which moves bits 51:50
    /// of the address to bits 9:8 of the descriptor: not linear).
    #[inline]
    fn leaf_addr_bits(&self, level: Level, pa: PhysAddr) -> Option<u64> {
        let align = 1 << Self::lookup_shift(self.lookup_level(level));
        (!self.lpa2()).then(|| self.encode_addr(pa.0, align))
    }

    /// What the walk does with the descriptor (D8.3): invalid, a table
    /// above level 3, a block where the level allows one, a page at level
    /// 3. Reserved encodings (a block at level 3, or at level 0 without
    /// LPA2 and level -1) give a Translation fault and decode as
    /// [`Decoded::None`].
    #[inline(always)]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        let f = Arm64Flags::from_bits_retain(raw);
        if !f.contains(Arm64Flags::VALID) {
            return Decoded::None;
        }
        let lookup = self.lookup_level(level);
        let table_bit = f.contains(Arm64Flags::TABLE);
        let leaf = match lookup {
            3 if table_bit => true,
            1 | 2 => !table_bit,
            0 if self.lpa2() => !table_bit,
            _ if table_bit && lookup < 3 => false,
            _ => return Decoded::None,
        };
        if !leaf {
            return Decoded::Table(PhysAddr(self.decode_addr(raw, 1 << 12)));
        }
        let mut access = Access::empty();
        let user = f.contains(Arm64Flags::AP_USER);
        access.set(Access::USER, user);
        access.set(Access::WRITE, !f.contains(Arm64Flags::AP_RDONLY));
        access.set(Access::GLOBAL, !f.contains(Arm64Flags::NG));
        let xn = if user {
            Arm64Flags::UXN
        } else {
            Arm64Flags::PXN
        };
        access.set(Access::EXEC, !f.contains(xn));
        let cache = Self::cache_of((raw & ATTR_MASK) >> ATTR_SHIFT);
        let pa = self.decode_addr(raw, 1 << Self::lookup_shift(lookup));
        Decoded::Leaf(PhysAddr(pa), Prot::new(access, cache))
    }

    /// Bits 1:0 of a leaf, as [`decode`](Self::decode) reads them: a page
    /// (0b11) at lookup level 3, a block (0b01) at levels 1 and 2, and at
    /// level 0 under FEAT_LPA2.
    #[inline]
    fn is_leaf(&self, level: Level, raw: u64) -> bool {
        let want = match self.lookup_level(level) {
            3 => 0b11,
            1 | 2 => 0b01,
            0 if self.lpa2() => 0b01,
            _ => return false,
        };
        raw & 0b11 == want
    }

    /// Bits 1:0: all [`is_leaf`](Self::is_leaf) reads.
    #[inline]
    fn leaf_bits(&self, _level: Level) -> u64 {
        0b11
    }
}
