//! The arm32 entry format.

use super::*;
use crate::addr::PhysAddr;
use crate::arch::{Decoded, EntryFormat};
use crate::prot::{Access, CacheMode, Prot};

/// First level, bits \[1:0\]: 0b00 fault, 0b01 page table, 0b1x section.
const L1_TYPE: u64 = 0b11;
/// Bits \[1:0\] of a page-table descriptor.
const L1_TABLE: u64 = 0b01;
/// Bits \[1:0\] of a section (bit 0 would be PXN on LPAE-capable cores).
const L1_SECTION: u64 = 0b10;
/// Page-table descriptor bit 2: PXN for the whole second-level table.
const L1_PXN_TABLE: u64 = 1 << 2;
/// Page-table descriptor bits \[31:10\]: the second-level table.
const L1_TABLE_ADDR: u64 = 0xffff_fc00;
/// Domain, bits \[8:5\] of page-table and section descriptors.
const DOMAIN_SHIFT: u32 = 5;
/// Section bits \[31:20\]: the 1 MiB frame.
pub(super) const SECT_ADDR: u64 = 0xfff0_0000;
/// Supersection bits \[31:24\]: the low 32 bits of the 16 MiB frame.
const SUPERSECT_ADDR: u64 = 0xff00_0000;
/// Section B, C, XN, AP\[1:0\], TEX\[2:0\], AP\[2\], S, nG, supersection.
const SECT_B: u64 = 1 << 2;
const SECT_C: u64 = 1 << 3;
const SECT_XN: u64 = 1 << 4;
const SECT_AP_SHIFT: u32 = 10;
const SECT_TEX_SHIFT: u32 = 12;
const SECT_APX: u64 = 1 << 15;
const SECT_S: u64 = 1 << 16;
const SECT_NG: u64 = 1 << 17;
pub(super) const SECT_SUPER: u64 = 1 << 18;

/// Second level: bit 1 set is a small page (bit 0 its XN); 0b01 a large
/// page.
const L2_SMALL: u64 = 1 << 1;
const L2_LARGE: u64 = 0b01;
const SMALL_XN: u64 = 1 << 0;
/// Small page bits \[31:12\]; large page bits \[31:16\].
const SMALL_ADDR: u64 = 0xffff_f000;
const LARGE_ADDR: u64 = 0xffff_0000;
/// Page B, C, AP\[1:0\], TEX\[2:0\] (small), AP\[2\], S, nG.
const PAGE_B: u64 = 1 << 2;
const PAGE_C: u64 = 1 << 3;
const PAGE_AP_SHIFT: u32 = 4;
const SMALL_TEX_SHIFT: u32 = 6;
const PAGE_APX: u64 = 1 << 9;
const PAGE_S: u64 = 1 << 10;
pub(super) const PAGE_NG: u64 = 1 << 11;
/// Large page TEX\[2:0\] at \[14:12\] and XN at 15.
const LARGE_TEX_SHIFT: u32 = 12;
pub(super) const LARGE_XN: u64 = 1 << 15;

/// AP\[2:0\] values (table B3-8, AFE = 0).
const AP_KERNEL_RW: u64 = 0b001;
const AP_USER_RW: u64 = 0b011;
const AP_KERNEL_RO: u64 = 0b101;
const AP_USER_RO: u64 = 0b111;

/// `mask` if `on`, else 0.
#[inline]
const fn bit(on: bool, mask: u64) -> u64 {
    if on {
        mask
    } else {
        0
    }
}

/// TEX\[2:0\], C, B of a memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MemAttr {
    tex: u64,
    c: bool,
    b: bool,
}

impl Arm32 {
    /// AP\[2:0\] of the rights in `a`.
    #[inline]
    fn ap_of(a: Access) -> u64 {
        match (a.contains(Access::USER), a.contains(Access::WRITE)) {
            (false, true) => AP_KERNEL_RW,
            (false, false) => AP_KERNEL_RO,
            (true, true) => AP_USER_RW,
            (true, false) => AP_USER_RO,
        }
    }

    /// The rights AP\[2:0\] grants, as seen by the owner of the page: user
    /// if PL0 may access it. AP 0b010 (PL1 read/write, PL0 read-only) is
    /// never written here and reads as user read-only. AP 0b000 (no access
    /// at all) and the reserved 0b100 are never written either and read as
    /// a kernel read-only page, the least any present leaf can say.
    #[inline]
    fn access_of(ap: u64) -> Access {
        match ap & 7 {
            AP_KERNEL_RW => Access::WRITE,
            AP_USER_RW => Access::WRITE | Access::USER,
            0b010 | 0b110 | AP_USER_RO => Access::USER,
            _ => Access::empty(),
        }
    }

    /// TEX remap off (table B3-10).
    #[inline]
    fn attr_of(cache: CacheMode) -> MemAttr {
        let (tex, c, b) = match cache {
            CacheMode::WriteBack => (0b001, true, true),
            CacheMode::WriteCombining => (0b001, false, false),
            CacheMode::WriteThrough => (0b000, true, false),
            CacheMode::Uncached => (0b000, false, true),
        };
        MemAttr { tex, c, b }
    }

    /// The cache mode of any TEX/C/B (table B3-10). Encodings this module
    /// never writes map to the nearest mode: Strongly-ordered and
    /// non-shareable Device read as uncached, write-back without
    /// write-allocate as write-back, and TEX = 1xx (separate inner and
    /// outer policies) by its inner policy in C, B. Reserved encodings read
    /// as uncached.
    #[inline]
    fn cache_of(m: MemAttr) -> CacheMode {
        match (m.tex, m.c, m.b) {
            (0b000, true, false) => CacheMode::WriteThrough,
            (0b000, true, true) | (0b001, true, true) => CacheMode::WriteBack,
            (0b001, false, false) => CacheMode::WriteCombining,
            (t, c, b) if t & 0b100 != 0 => match (c, b) {
                (false, false) => CacheMode::WriteCombining,
                (true, false) => CacheMode::WriteThrough,
                _ => CacheMode::WriteBack,
            },
            _ => CacheMode::Uncached,
        }
    }

    /// The domain of a section with these rights.
    #[inline]
    fn section_domain(prot: Prot) -> u32 {
        if prot.access.contains(Access::USER) {
            DOMAIN_USER
        } else if prot.cache == CacheMode::Uncached {
            DOMAIN_IO
        } else {
            DOMAIN_KERNEL
        }
    }

    /// A prot from its decoded parts.
    #[inline]
    fn prot_of(ap: u64, xn: bool, ng: bool, attr: MemAttr) -> Prot {
        let mut access = Self::access_of(ap);
        access.set(Access::EXEC, !xn);
        access.set(Access::GLOBAL, !ng);
        Prot::new(access, Self::cache_of(attr))
    }

    /// Decode a first-level descriptor.
    #[inline]
    fn decode_l1(raw: u64) -> Decoded {
        match raw & L1_TYPE {
            0b00 => Decoded::None,
            L1_TABLE => Decoded::Table(PhysAddr(raw & L1_TABLE_ADDR)),
            // 0b10, or 0b11 (a section with PXN on LPAE-capable cores).
            _ => {
                let ap = ((raw >> SECT_AP_SHIFT) & 3) | (u64::from(raw & SECT_APX != 0) << 2);
                let attr = MemAttr {
                    tex: (raw >> SECT_TEX_SHIFT) & 7,
                    c: raw & SECT_C != 0,
                    b: raw & SECT_B != 0,
                };
                // A supersection (never written here) reports its 16 MiB
                // frame, without PA[39:32].
                let mask = if raw & SECT_SUPER != 0 {
                    SUPERSECT_ADDR
                } else {
                    SECT_ADDR
                };
                let prot = Self::prot_of(ap, raw & SECT_XN != 0, raw & SECT_NG != 0, attr);
                Decoded::Leaf(PhysAddr(raw & mask), prot)
            }
        }
    }

    /// Decode a second-level descriptor.
    #[inline]
    fn decode_l2(raw: u64) -> Decoded {
        let ap = ((raw >> PAGE_AP_SHIFT) & 3) | (u64::from(raw & PAGE_APX != 0) << 2);
        let ng = raw & PAGE_NG != 0;
        let c = raw & PAGE_C != 0;
        let b = raw & PAGE_B != 0;
        if raw & L2_SMALL != 0 {
            let tex = (raw >> SMALL_TEX_SHIFT) & 7;
            let prot = Self::prot_of(ap, raw & SMALL_XN != 0, ng, MemAttr { tex, c, b });
            Decoded::Leaf(PhysAddr(raw & SMALL_ADDR), prot)
        } else if raw & L2_LARGE != 0 {
            // A 64 KiB large page (never written here) reports its frame.
            let tex = (raw >> LARGE_TEX_SHIFT) & 7;
            let prot = Self::prot_of(ap, raw & LARGE_XN != 0, ng, MemAttr { tex, c, b });
            Decoded::Leaf(PhysAddr(raw & LARGE_ADDR), prot)
        } else {
            Decoded::None
        }
    }
}

impl EntryFormat for Arm32 {
    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(level, Level::Pmd | Level::Pte)
    }

    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, user: bool) -> u64 {
        let domain = if user { DOMAIN_USER } else { DOMAIN_KERNEL };
        let pxn = bit(user && self.pxn, L1_PXN_TABLE);
        (table.0 & L1_TABLE_ADDR) | (u64::from(domain) << DOMAIN_SHIFT) | pxn | L1_TABLE
    }

    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let a = prot.access;
        let ap = Self::ap_of(a);
        let m = Self::attr_of(prot.cache);
        let xn = !a.contains(Access::EXEC);
        let ng = !a.contains(Access::GLOBAL);
        if level == Level::Pte {
            (pa.0 & SMALL_ADDR)
                | L2_SMALL
                | bit(xn, SMALL_XN)
                | bit(m.b, PAGE_B)
                | bit(m.c, PAGE_C)
                | ((ap & 3) << PAGE_AP_SHIFT)
                | (m.tex << SMALL_TEX_SHIFT)
                | bit(ap & 4 != 0, PAGE_APX)
                | PAGE_S
                | bit(ng, PAGE_NG)
        } else {
            (pa.0 & SECT_ADDR)
                | L1_SECTION
                | bit(m.b, SECT_B)
                | bit(m.c, SECT_C)
                | bit(xn, SECT_XN)
                | (u64::from(Self::section_domain(prot)) << DOMAIN_SHIFT)
                | ((ap & 3) << SECT_AP_SHIFT)
                | (m.tex << SECT_TEX_SHIFT)
                | bit(ap & 4 != 0, SECT_APX)
                | SECT_S
                | bit(ng, SECT_NG)
        }
    }

    #[inline]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        if level == Level::Pte {
            Self::decode_l2(raw)
        } else {
            Self::decode_l1(raw)
        }
    }
}
