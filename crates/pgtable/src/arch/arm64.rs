//! arm64: VMSAv8-64 stage 1, 4 KiB granule, with 39-, 48- or 52-bit
//! (FEAT_LPA2) virtual addresses.
//!
//! Descriptor format from the Arm ARM (DDI 0487) chapter D8, "The AArch64
//! Virtual Memory System Architecture" (D8.3 descriptor formats, D8.4
//! access permissions, D8.5 the Access flag), with the attributes Linux puts
//! in them from `arch/arm64/include/asm/pgtable-hwdef.h`,
//! `pgtable-prot.h`, `pgalloc.h` and the MAIR layout of `memory.h`. Memory
//! map from `Documentation/arch/arm64/memory.rst` (the layout since Linux
//! 6.9: vmemmap, PCI I/O and fixmap at the top of the address space),
//! recomputed from `memory.h` and `pgtable.h` for the widths the document
//! does not list.
//!
//! Kernel and user halves are translated from different roots: TTBR1_EL1
//! holds `swapper_pg_dir` for the upper half, TTBR0_EL1 the process's own
//! PGD for the lower one ("The swapper_pg_dir address is written to TTBR1
//! and never written to TTBR0", `memory.rst`). A kernel mapping is therefore
//! seen by every address space the moment it is written: Linux's arm64
//! defines no `ARCH_PAGE_TABLE_SYNC_MASK` and `pgd_alloc()` copies nothing
//! from `init_mm` (`arch/arm64/mm/pgd.c`), so [`Arch::sync_mask`] is empty,
//! [`Arch::sync_method`] is [`SyncMethod::None`] and
//! [`Arch::kernel_top_slots`] is `0..0`. The kernel root is indexed by a
//! kernel address's bits exactly as a user root is by a user address's
//! (VA\[47:39\] for 48 bits): the two halves use the same slot numbers in
//! different tables.

use super::{Arch, Decoded, KernelLayout, Level, Region, RegionKind, SyncMethod};
use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};
use core::ops::Range;

bitflags::bitflags! {
    /// VMSAv8-64 descriptor bits (4 KiB granule, stage 1), with Linux's
    /// names in the docs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Arm64Flags: u64 {
        /// Bit 0: valid (`PTE_VALID`).
        const VALID = 1 << 0;
        /// Bit 1: with VALID, a table descriptor above level 3 or a page
        /// descriptor at level 3; clear, a block (`PMD_TYPE_SECT`).
        const TABLE = 1 << 1;
        /// AP\[1\], bit 6: EL0 may access (`PTE_USER`).
        const AP_USER = 1 << 6;
        /// AP\[2\], bit 7: read-only at every EL (`PTE_RDONLY`).
        const AP_RDONLY = 1 << 7;
        /// SH\[1:0\] = 0b11, bits 9:8: inner shareable (`PTE_SHARED`).
        /// Without FEAT_LPA2 only; with it these bits are OA\[51:50\].
        const SH_INNER = 3 << 8;
        /// AF, bit 10: Access flag (`PTE_AF`). In a table descriptor the
        /// same bit is `PMD_TABLE_AF`, ignored without FEAT_HAFT.
        const AF = 1 << 10;
        /// nG, bit 11: not global, tagged with the ASID (`PTE_NG`).
        const NG = 1 << 11;
        /// DBM, bit 51: dirty bit modifier, Linux's software `PTE_WRITE`.
        const DBM = 1 << 51;
        /// PXN, bit 53: EL1 may not execute (`PTE_PXN`).
        const PXN = 1 << 53;
        /// UXN, bit 54: EL0 may not execute (`PTE_UXN`).
        const UXN = 1 << 54;
        /// PXNTable, bit 59: nothing below is EL1-executable
        /// (`PMD_TABLE_PXN`, set in user tables).
        const PXN_TABLE = 1 << 59;
        /// UXNTable, bit 60: nothing below is EL0-executable
        /// (`PMD_TABLE_UXN`, set in kernel tables).
        const UXN_TABLE = 1 << 60;
    }
}

/// Bits 47:12: the output or next-table address without FEAT_LPA2.
pub const ADDR_MASK_48: u64 = 0x0000_ffff_ffff_f000;
/// Bits 49:12: the low part of the address with FEAT_LPA2; OA\[51:50\] is
/// in bits 9:8.
const ADDR_MASK_LPA2_LOW: u64 = 0x0003_ffff_ffff_f000;
/// AttrIndx\[2:0\], bits 4:2: the MAIR_EL1 slot.
const ATTR_SHIFT: u32 = 2;
const ATTR_MASK: u64 = 7 << ATTR_SHIFT;

/// MAIR_EL1 slots as Linux programs them (`memory.h`, Linux 6.x):
/// `MT_NORMAL` 0, `MT_NORMAL_TAGGED` 1, `MT_NORMAL_NC` 2,
/// `MT_DEVICE_nGnRnE` 3, `MT_DEVICE_nGnRE` 4; slots 5 to 7 are left 0x00,
/// which is Device-nGnRnE.
const MT_NORMAL: u64 = 0;
const MT_NORMAL_TAGGED: u64 = 1;
const MT_NORMAL_NC: u64 = 2;
const MT_DEVICE_NGNRE: u64 = 4;

/// arm64 with a 4 KiB granule and `va_bits`-bit virtual addresses in both
/// halves (TCR_EL1.T0SZ = T1SZ = 64 - `va_bits`).
///
/// Linux builds 39 ([`Arm64::VA_39`], 3 levels), 48 ([`Arm64::VA_48`], 4
/// levels) and 52 ([`Arm64::VA_52`], 5 levels with FEAT_LPA2) for this
/// granule (`ARM64_VA_BITS_*` in `arch/arm64/Kconfig`). The geometry of any
/// width from 31 to 52 follows the architecture's rule (9 bits per level,
/// the root takes what is left), but only those three have a memory map;
/// [`Arch::layout`] is empty for the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm64 {
    /// Width of both the user (TTBR0) and the kernel (TTBR1) range; private
    /// so that every value went through [`Arm64::new`]'s check.
    va_bits: u32,
}

impl Arm64 {
    /// The narrowest width accepted.
    pub const MIN_VA_BITS: u32 = 31;
    /// The widest width accepted: 52 bits is the most a 4 KiB granule can
    /// translate (FEAT_LPA2).
    pub const MAX_VA_BITS: u32 = 52;

    /// arm64 with `va_bits`-bit virtual addresses, from
    /// [`MIN_VA_BITS`](Self::MIN_VA_BITS) to
    /// [`MAX_VA_BITS`](Self::MAX_VA_BITS); any other width is refused with
    /// [`Error::UnsupportedMode`](crate::Error::UnsupportedMode).
    pub const fn new(va_bits: u32) -> crate::Result<Arm64> {
        if va_bits < Self::MIN_VA_BITS || va_bits > Self::MAX_VA_BITS {
            return Err(crate::Error::UnsupportedMode(
                "arm64 virtual-address width must be 31 to 52 bits",
            ));
        }
        Ok(Arm64 { va_bits })
    }

    /// 39-bit VAs, 3 levels: the root is level 1 (1 GiB entries, blocks
    /// allowed), so its entries are PUD entries (`pgtable-nop4d.h` and
    /// `pgtable-nopud.h`).
    pub const VA_39: Arm64 = Arm64 { va_bits: 39 };
    /// 48-bit VAs, 4 levels: the root is level 0 (512 GiB entries, tables
    /// only), its entries are P4D entries as with x86-64 4-level paging.
    pub const VA_48: Arm64 = Arm64 { va_bits: 48 };
    /// 52-bit VAs and PAs with FEAT_LPA2 (TCR_EL1.DS = 1), 5 levels: the
    /// root is level -1 with 16 entries (a 128-byte table), OA\[51:50\]
    /// lives in descriptor bits 9:8 (so SH comes from TCR, not the
    /// descriptor, as Linux's `PTE_MAYBE_SHARED` does) and the layout is
    /// `memory.rst`'s 52-bit one. Linux falls back to 48 bits at boot on
    /// hardware without LPA2; this mode is the LPA2-present case.
    pub const VA_52: Arm64 = Arm64 { va_bits: 52 };

    /// FEAT_LPA2 descriptors (TCR_EL1.DS): used for VAs wider than 48 bits.
    #[inline]
    #[must_use]
    pub const fn lpa2(&self) -> bool {
        self.va_bits > 48
    }

    /// Number of lookup levels: enough 9-bit levels above the 12-bit page
    /// offset to cover the VA (the "initial lookup level" rule of D8.2).
    #[inline]
    const fn lookup_levels(&self) -> u32 {
        (self.va_bits - 12).div_ceil(9)
    }

    /// A level's distance from the bottom: PTE 0, PMD 1, PUD 2, P4D 3,
    /// PGD 4.
    #[inline]
    const fn depth(level: Level) -> u32 {
        4 - level as u32
    }

    /// Whether `level` (not the PGD) has a table of its own.
    #[inline]
    const fn is_real_below_root(&self, level: Level) -> bool {
        Self::depth(level) < self.lookup_levels() - 1
    }

    /// The architecture's lookup level (-1 to 3) of an entry of the real
    /// level `level`. A pass-through level stands for the lowest level of
    /// its folded chain, which is what the entry really is.
    #[inline]
    fn lookup_level(&self, level: Level) -> i32 {
        let mut l = level;
        while self.is_passthrough(l) {
            l = l.next().unwrap_or(Level::Pte);
        }
        3 - Self::depth(l) as i32
    }

    /// Bytes one entry at lookup level `lookup` maps.
    #[inline]
    const fn lookup_shift(lookup: i32) -> u32 {
        (12 + 9 * (3 - lookup)) as u32
    }

    /// Physical address → descriptor address bits, `align` bytes aligned.
    #[inline]
    fn encode_addr(&self, pa: u64, align: u64) -> u64 {
        let pa = pa & !(align - 1);
        if self.lpa2() {
            (pa & ADDR_MASK_LPA2_LOW) | (((pa >> 50) & 3) << 8)
        } else {
            pa & ADDR_MASK_48
        }
    }

    /// Descriptor address bits → physical address, `align` bytes aligned.
    #[inline]
    fn decode_addr(&self, raw: u64, align: u64) -> u64 {
        let pa = if self.lpa2() {
            (raw & ADDR_MASK_LPA2_LOW) | (((raw >> 8) & 3) << 50)
        } else {
            raw & ADDR_MASK_48
        };
        pa & !(align - 1)
    }

    /// AttrIndx of a memory type. Write-through has no slot in Linux's
    /// MAIR (`MT_NORMAL_WT` was dropped in 5.x) and arm64 defines no
    /// `ioremap_wt()`, so the generic fallback `ioremap_wt() = ioremap()`
    /// applies: Device-nGnRE, which decodes as [`CacheMode::Uncached`].
    #[inline]
    const fn attr_index(cache: CacheMode) -> u64 {
        match cache {
            CacheMode::WriteBack => MT_NORMAL,
            CacheMode::WriteCombining => MT_NORMAL_NC,
            CacheMode::Uncached | CacheMode::WriteThrough => MT_DEVICE_NGNRE,
        }
    }

    /// Memory type of a MAIR slot under Linux's MAIR_EL1.
    #[inline]
    const fn cache_of(index: u64) -> CacheMode {
        match index {
            MT_NORMAL | MT_NORMAL_TAGGED => CacheMode::WriteBack,
            MT_NORMAL_NC => CacheMode::WriteCombining,
            // Device-nGnRnE, Device-nGnRE, and the unprogrammed slots (0x00,
            // Device-nGnRnE).
            _ => CacheMode::Uncached,
        }
    }
}

impl Arch for Arm64 {
    #[inline]
    fn name(&self) -> &'static str {
        match self.va_bits {
            39 => "arm64/39-bit",
            48 => "arm64/48-bit",
            52 => "arm64/52-bit",
            _ => "arm64",
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        match level {
            Level::Pgd => self.va_bits - 12 - 9 * (self.lookup_levels() - 1),
            l if self.is_real_below_root(l) => 9,
            _ => 0,
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        if level != Level::Pgd && self.is_real_below_root(level) {
            12 + 9 * Self::depth(level)
        } else {
            // The root, and the levels folded into it.
            12 + 9 * (self.lookup_levels() - 1)
        }
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        self.va_bits
    }

    /// 48 bits, the most a 4 KiB-granule descriptor holds without LPA2;
    /// 52 with it (`CONFIG_ARM64_PA_BITS`).
    #[inline]
    fn phys_bits(&self) -> u32 {
        if self.lpa2() {
            52
        } else {
            48
        }
    }

    /// Bits 63 down to `va_bits` all 0 (the TTBR0 range) or all 1 (the
    /// TTBR1 range), with top-byte-ignore off (D8.1).
    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        let high = va.0 >> self.va_bits;
        high == 0 || high == u64::MAX >> self.va_bits
    }

    /// `TASK_SIZE_64`: the whole TTBR0 range.
    #[inline]
    fn user_end(&self) -> u64 {
        1u64 << self.va_bits
    }

    /// The bottom of the TTBR1 range (`PAGE_OFFSET`).
    #[inline]
    fn kernel_start(&self) -> u64 {
        !0u64 << self.va_bits
    }

    /// None: a user root holds no kernel entry (`pgd_alloc()` copies
    /// nothing).
    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        0..0
    }

    /// Blocks at level 1 (1 GiB, PUD) and level 2 (2 MiB, PMD), pages at
    /// level 3. FEAT_LPA2 also allows 512 GiB level-0 blocks, which Linux
    /// never creates (no P4D leaves on arm64).
    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(self.lookup_level(level), 1..=3)
    }

    #[inline]
    fn sync_mask(&self) -> SyncMask {
        SyncMask::empty()
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::None
    }

    #[inline]
    fn split_roots(&self) -> bool {
        true
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

    /// What the walk does with the descriptor (D8.3): invalid, a table
    /// above level 3, a block where the level allows one, a page at level
    /// 3. Reserved encodings (a block at level 3, or at level 0 without
    /// LPA2 and level -1) give a Translation fault and decode as
    /// [`Decoded::None`].
    #[inline]
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

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: match self.va_bits {
                39 => &LAYOUT_39,
                48 => &LAYOUT_48,
                52 => &LAYOUT_52,
                _ => &[],
            },
        }
    }

    #[inline]
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> crate::Result<crate::Activation> {
        crate::activate::arm64(root, kernel_root, asid, self.lpa2())
    }

    fn ptdump_format(&self) -> crate::ptdump::Format {
        crate::ptdump::Format::Arm64
    }
}

const fn region(kind: RegionKind, name: &'static str, start: u64, last: u64) -> Region {
    Region {
        kind,
        name,
        start,
        last,
    }
}

// The maps below assume CONFIG_KASAN_GENERIC, as x86-64's lists the KASAN
// shadow: the linear map then ends where the shadow begins (`PAGE_END` is
// `KASAN_SHADOW_START`); without KASAN it runs up to `_PAGE_END(VA_BITS_MIN)`.
// The kernel image has no region of its own: it sits at the bottom of the
// vmalloc area (`KIMAGE_VADDR = MODULES_END = VMALLOC_START`, plus the KASLR
// offset). The PCI I/O window is left out.

/// `memory.rst`, 4 KiB pages + 4 levels (48-bit).
static LAYOUT_48: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xffff_0000_0000_0000,
        0xffff_5fff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xffff_6000_0000_0000,
        0xffff_7fff_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_8000_0000_0000,
        0xffff_8000_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_8000_8000_0000,
        0xffff_fdff_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_fdff_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];

/// 4 KiB pages + 3 levels (39-bit), from `memory.h`: `PAGE_OFFSET` =
/// -2^39, KASAN shadow 1/8 of it ending at `_PAGE_END(39)` (offset
/// 0xdfffffc000000000), 2 GiB of modules, vmemmap of 2^38 / 4096 64-byte
/// `struct page`s (4 GiB) ending 1 GiB below the top, vmalloc up to 8 MiB
/// below vmemmap; PCI I/O and fixmap as with 48 bits.
static LAYOUT_39: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xffff_ff80_0000_0000,
        0xffff_ffaf_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xffff_ffb0_0000_0000,
        0xffff_ffbf_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffc0_0000_0000,
        0xffff_ffc0_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_ffc0_8000_0000,
        0xffff_fffe_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_fffe_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];

/// 4 KiB pages + 5 levels (52-bit, LPA2). `memory.rst` lists the 52-bit map
/// for 64 KiB pages; the linear map, KASAN shadow, modules and the top are
/// the same with 4 KiB pages, while vmemmap is 16 times larger: (2^52 -
/// 2^47) / 4096 `struct page`s of 64 bytes = 62 TiB below `-SZ_1G`, and
/// vmalloc ends 8 MiB below it (`memory.h`, `pgtable.h`).
static LAYOUT_52: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xfff0_0000_0000_0000,
        0xfffd_7fff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xfffd_8000_0000_0000,
        0xffff_7fff_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_8000_0000_0000,
        0xffff_8000_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_8000_8000_0000,
        0xffff_c1ff_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_c1ff_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    const MODES: [Arm64; 3] = [Arm64::VA_39, Arm64::VA_48, Arm64::VA_52];
    const CACHES: [CacheMode; 3] = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::Uncached,
    ];

    #[test]
    fn folding_levels_and_tables() {
        let a = Arm64::VA_39;
        assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
        assert!(a.is_passthrough(Level::Pgd) && a.is_passthrough(Level::P4d));
        assert_eq!(a.top_level(), Level::Pud);
        assert_eq!(a.levels(), 3);
        assert_eq!(Level::ALL.map(|l| a.level_shift(l)), [30, 30, 30, 21, 12]);
        assert_eq!(a.table_bytes(Level::Pgd), 4096);

        let b = Arm64::VA_48;
        assert!(b.is_folded(Level::P4d) && !b.is_folded(Level::Pud));
        assert_eq!(b.top_level(), Level::P4d);
        assert_eq!(b.levels(), 4);
        assert_eq!(Level::ALL.map(|l| b.level_shift(l)), [39, 39, 30, 21, 12]);
        assert_eq!(b.table_bytes(Level::Pgd), 4096);

        let c = Arm64::VA_52;
        assert_eq!(c.top_level(), Level::Pgd);
        assert_eq!(c.levels(), 5);
        assert_eq!(c.level_bits(Level::Pgd), 4);
        assert_eq!(Level::ALL.map(|l| c.level_shift(l)), [48, 39, 30, 21, 12]);
        // Level -1 has 16 entries: a 128-byte root, as Linux's pgd_cache.
        assert_eq!(c.table_bytes(Level::Pgd), 128);
        assert_eq!(c.table_bytes(Level::P4d), 4096);
        assert_eq!((c.phys_bits(), b.phys_bits()), (52, 48));
        for m in MODES {
            // Bits of the real levels add up to the VA width.
            let bits: u32 = Level::ALL.iter().map(|l| m.level_bits(*l)).sum();
            assert_eq!(bits + 12, m.va_bits(), "{}", m.name());
        }
    }

    #[test]
    fn canonical_and_halves() {
        let a = Arm64::VA_48;
        assert!(a.is_canonical(VirtAddr(0x0000_ffff_ffff_f000)));
        assert!(!a.is_canonical(VirtAddr(0x0001_0000_0000_0000)));
        assert!(a.is_canonical(VirtAddr(0xffff_0000_0000_0000)));
        assert!(!a.is_canonical(VirtAddr(0xfffe_ffff_ffff_ffff)));
        // Not x86-style sign extension: bit 47 says nothing.
        assert!(a.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
        assert_eq!(a.user_end(), 0x0001_0000_0000_0000);
        assert_eq!(a.kernel_start(), 0xffff_0000_0000_0000);
        let b = Arm64::VA_39;
        assert!(b.is_canonical(VirtAddr(0x0000_007f_ffff_ffff)));
        assert!(!b.is_canonical(VirtAddr(0x0000_0080_0000_0000)));
        assert!(b.is_canonical(VirtAddr(0xffff_ff80_0000_0000)));
        assert!(!b.is_canonical(VirtAddr(0xffff_ff7f_ffff_ffff)));
        assert_eq!(b.kernel_start(), 0xffff_ff80_0000_0000);
        let c = Arm64::VA_52;
        assert!(c.is_canonical(VirtAddr(0x000f_ffff_ffff_f000)));
        assert!(c.is_canonical(VirtAddr(0xfff0_0000_0000_0000)));
        assert!(!c.is_canonical(VirtAddr(0xffef_ffff_ffff_ffff)));
        assert_eq!(c.user_end(), 1 << 52);
    }

    #[test]
    fn both_halves_index_the_same_slots() {
        let a = Arm64::VA_48;
        // TTBR1 walks use VA[47:39] like TTBR0 walks: the bottom of the
        // kernel half is slot 0 of the kernel root.
        assert_eq!(a.index(Level::Pgd, 0xffff_0000_0000_0000), 0);
        assert_eq!(a.index(Level::Pgd, 0), 0);
        assert_eq!(a.index(Level::Pgd, 0xffff_8000_8000_0000), 256);
        assert_eq!(a.index(Level::Pgd, 0xffff_ffff_ffff_f000), 511);
        assert_eq!(a.index(Level::Pud, 0xffff_8000_8000_0000), 2);
        assert_eq!(a.kernel_top_slots(), 0..0);
        let b = Arm64::VA_39;
        assert_eq!(b.index(Level::Pgd, 0xffff_ffc0_8000_0000), 258);
        assert_eq!(b.index(Level::Pmd, 0xffff_ffc0_8020_0000), 1);
        let c = Arm64::VA_52;
        assert_eq!(c.index(Level::Pgd, 0xfff0_0000_0000_0000), 0);
        assert_eq!(c.index(Level::Pgd, 0xffff_8000_0000_0000), 15);
        assert_eq!(c.index(Level::P4d, 0xffff_8000_8000_0000), 256);
    }

    #[test]
    fn no_sync_split_roots() {
        for m in MODES {
            assert!(m.sync_mask().is_empty());
            assert_eq!(m.sync_method(), SyncMethod::None);
            assert!(m.split_roots());
            assert!(m.boot_prealloc().is_empty());
        }
    }

    #[test]
    fn leaf_round_trips_with_cache_modes() {
        let prots = [
            Prot::KERNEL,
            Prot::KERNEL_RO,
            Prot::KERNEL_ROX,
            Prot::KERNEL_EXEC,
            Prot::new(Access::WRITE, CacheMode::WriteBack),
            Prot::USER_RW,
            Prot::USER_RO,
            Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack),
        ];
        for m in MODES {
            // With LPA2, OA[51:48] set too: bits 49:48 in place, 51:50 in
            // bits 9:8.
            let high = if m.lpa2() { 0xf_0000_0000_0000 } else { 0 };
            let cases = [
                (Level::Pte, 0x1234_5000),
                (Level::Pmd, 0x4020_0000),
                (Level::Pud, 0x8_4000_0000),
                (Level::Pte, high | 0x1234_5000),
                (Level::Pud, high | 0x4000_0000),
            ];
            for cache in CACHES {
                for base in prots {
                    let prot = base.with_cache(cache);
                    for (level, pa) in &cases {
                        let raw = m.encode_leaf(*level, PhysAddr(*pa), prot);
                        assert_eq!(
                            m.decode(*level, raw),
                            Decoded::Leaf(PhysAddr(*pa), prot),
                            "{} {level} {prot:?}",
                            m.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn write_through_is_device_memory_as_linux_ioremap_wt() {
        let a = Arm64::VA_48;
        let wt = Prot::KERNEL.with_cache(CacheMode::WriteThrough);
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x9000_0000), wt);
        assert_eq!((raw & ATTR_MASK) >> ATTR_SHIFT, MT_DEVICE_NGNRE);
        assert_eq!(
            a.decode(Level::Pte, raw),
            Decoded::Leaf(
                PhysAddr(0x9000_0000),
                Prot::KERNEL.with_cache(CacheMode::Uncached)
            )
        );
    }

    #[test]
    fn descriptor_bits_follow_linux() {
        let a = Arm64::VA_48;
        let f = |raw| Arm64Flags::from_bits_retain(raw);
        // PAGE_KERNEL: page, AF, SH, UXN|PXN, DBM, global, MT_NORMAL.
        let k = f(a.encode_leaf(Level::Pte, PhysAddr(0x4000_1000), Prot::KERNEL));
        assert!(k.contains(
            Arm64Flags::VALID
                | Arm64Flags::TABLE
                | Arm64Flags::AF
                | Arm64Flags::SH_INNER
                | Arm64Flags::UXN
                | Arm64Flags::PXN
                | Arm64Flags::DBM
        ));
        assert!(!k.intersects(Arm64Flags::NG | Arm64Flags::AP_USER | Arm64Flags::AP_RDONLY));
        assert_eq!(k.bits() & ATTR_MASK, 0);
        assert_eq!(k.bits() & ADDR_MASK_48, 0x4000_1000);
        // Kernel text: executable at EL1 only.
        let x = f(a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX));
        assert!(x.contains(Arm64Flags::UXN | Arm64Flags::AP_RDONLY));
        assert!(!x.contains(Arm64Flags::PXN));
        // A user page: nG, AP[1], PXN always.
        let u = f(a.encode_leaf(Level::Pte, PhysAddr(0x2000), Prot::USER_RW));
        assert!(
            u.contains(Arm64Flags::NG | Arm64Flags::AP_USER | Arm64Flags::PXN | Arm64Flags::UXN)
        );
        let ux = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
        let ux = f(a.encode_leaf(Level::Pte, PhysAddr(0x2000), ux));
        assert!(ux.contains(Arm64Flags::PXN | Arm64Flags::AP_RDONLY));
        assert!(!ux.contains(Arm64Flags::UXN));
        // Blocks are 0b01 at levels 1 and 2.
        let blk = a.encode_leaf(Level::Pmd, PhysAddr(0x4020_0000), Prot::KERNEL);
        assert_eq!(blk & 3, 0b01);
        let blk = a.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
        assert_eq!(blk & 3, 0b01);
        // ioremap: Device-nGnRE; ioremap_wc: Normal-NC.
        let io = Prot::KERNEL.with_cache(CacheMode::Uncached);
        let io = a.encode_leaf(Level::Pte, PhysAddr(0x1000), io);
        assert_eq!((io & ATTR_MASK) >> ATTR_SHIFT, 4);
        let wc = Prot::KERNEL.with_cache(CacheMode::WriteCombining);
        let wc = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wc);
        assert_eq!((wc & ATTR_MASK) >> ATTR_SHIFT, 2);
        // Tagged normal memory (PROT_MTE) reads as write-back.
        let tagged = (a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::USER_RO) & !ATTR_MASK)
            | (MT_NORMAL_TAGGED << ATTR_SHIFT);
        assert_eq!(
            a.decode(Level::Pte, tagged),
            Decoded::Leaf(PhysAddr(0x1000), Prot::USER_RO)
        );
        // LPA2: no SH in the descriptor, the bits carry OA[51:50].
        let c = Arm64::VA_52;
        let raw = c.encode_leaf(Level::Pte, PhysAddr(0x4000_1000), Prot::KERNEL);
        assert_eq!(raw & (3 << 8), 0);
        let raw = c.encode_leaf(Level::Pte, PhysAddr(0xc_0000_0000_1000), Prot::KERNEL);
        assert_eq!(raw & (3 << 8), 3 << 8);
    }

    #[test]
    fn table_entries() {
        for m in MODES {
            for level in [m.top_level(), Level::Pud, Level::Pmd] {
                let k = m.encode_table(level, PhysAddr(0x5000), false);
                assert_eq!(m.decode(level, k), Decoded::Table(PhysAddr(0x5000)));
                let k = Arm64Flags::from_bits_retain(k);
                assert!(k.contains(Arm64Flags::UXN_TABLE | Arm64Flags::AF | Arm64Flags::TABLE));
                assert!(!k.contains(Arm64Flags::PXN_TABLE));
                let u = m.encode_table(level, PhysAddr(0x6000), true);
                assert_eq!(m.decode(level, u), Decoded::Table(PhysAddr(0x6000)));
                let u = Arm64Flags::from_bits_retain(u);
                assert!(u.contains(Arm64Flags::PXN_TABLE));
                assert!(!u.contains(Arm64Flags::UXN_TABLE));
            }
        }
        let c = Arm64::VA_52;
        let t = c.encode_table(Level::Pgd, PhysAddr(0xf_0000_0000_7000), false);
        assert_eq!(
            c.decode(Level::Pgd, t),
            Decoded::Table(PhysAddr(0xf_0000_0000_7000))
        );
    }

    #[test]
    fn reserved_encodings_decode_as_none() {
        let a = Arm64::VA_48;
        assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
        // A block at level 3 and at level 0 (without LPA2) is a
        // Translation fault.
        assert_eq!(
            a.decode(Level::Pte, 0x4000_1000 | 0b01 | 1 << 10),
            Decoded::None
        );
        assert_eq!(a.decode(Level::P4d, 0x40_0000_0000 | 0b01), Decoded::None);
        assert!(!a.leaf_allowed(Level::P4d));
        assert!(a.leaf_allowed(Level::Pud) && a.leaf_allowed(Level::Pmd));
        // 39-bit: the root is level 1, where blocks exist.
        let b = Arm64::VA_39;
        assert!(b.leaf_allowed(b.top_level()));
        let raw = b.encode_leaf(Level::Pud, PhysAddr(0x4000_0000), Prot::KERNEL);
        assert_eq!(
            b.decode(Level::Pud, raw),
            Decoded::Leaf(PhysAddr(0x4000_0000), Prot::KERNEL)
        );
        // 52-bit: level -1 holds tables only; level 0 blocks decode (the
        // hardware would use them) though none is ever written.
        let c = Arm64::VA_52;
        assert_eq!(c.decode(Level::Pgd, 0x8000_0000_0000 | 0b01), Decoded::None);
        assert!(!c.leaf_allowed(Level::P4d));
        assert!(matches!(
            c.decode(Level::P4d, 0x80_0000_0000 | 0b01 | 1 << 10),
            Decoded::Leaf(PhysAddr(0x80_0000_0000), _)
        ));
    }

    #[test]
    fn layout_sorted_and_in_the_kernel_half() {
        for m in MODES {
            let l = m.layout();
            assert!(!l.regions.is_empty());
            for r in l.regions {
                assert!(r.start >= m.kernel_start(), "{} {}", m.name(), r.name);
                assert!(r.start <= r.last);
                assert!(m.is_canonical(VirtAddr(r.start)) && m.is_canonical(VirtAddr(r.last)));
            }
            for w in l.regions.windows(2) {
                assert!(w[0].last < w[1].start, "{} {}", m.name(), w[1].name);
            }
            let vm = l.get(RegionKind::Vmalloc).unwrap();
            let vmemmap = l.get(RegionKind::Vmemmap).unwrap();
            assert_eq!(vm.last + 1 + 0x80_0000, vmemmap.start, "8 MiB guard");
            assert_eq!(vmemmap.last, 0xffff_ffff_bfff_ffff, "VMEMMAP_END = -1 GiB");
            let modules = l.get(RegionKind::Modules).unwrap();
            assert_eq!(modules.last + 1, vm.start, "VMALLOC_START = MODULES_END");
            assert_eq!(l.regions[0].start, m.kernel_start(), "PAGE_OFFSET");
        }
        let l = Arm64::VA_48.layout();
        assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 2 << 40);
        assert_eq!(
            l.get(RegionKind::Vmalloc).unwrap().start,
            0xffff_8000_8000_0000
        );
        let l = Arm64::VA_39.layout();
        assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 4 << 30);
        let l = Arm64::VA_52.layout();
        assert_eq!(l.get(RegionKind::Vmemmap).unwrap().size(), 62 << 40);
        assert!(Arm64::new(42).unwrap().layout().regions.is_empty());
    }
}
