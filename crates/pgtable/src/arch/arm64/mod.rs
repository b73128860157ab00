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
//! from `init_mm` (`arch/arm64/mm/pgd.c`), so [`KernelPolicy::sync_mask`](crate::KernelPolicy::sync_mask) is empty,
//! [`KernelPolicy::sync_method`](crate::KernelPolicy::sync_method) is [`SyncMethod::None`](crate::arch::SyncMethod::None) and
//! [`KernelPolicy::kernel_top_slots`](crate::KernelPolicy::kernel_top_slots) is `0..0`. The kernel root is indexed by a
//! kernel address's bits exactly as a user root is by a user address's
//! (VA\[47:39\] for 48 bits): the two halves use the same slot numbers in
//! different tables.

use super::{sign_extends, Level, PagingGeometry};
use crate::addr::{PhysAddr, VirtAddr};
use crate::prot::CacheMode;

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
/// [`KernelPolicy::layout`](crate::KernelPolicy::layout) is empty for the others.
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
        3 - Self::depth(self.entry_level(level)) as i32
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
    /// applies: Device-nGnRE, which decodes as [`CacheMode::Uncached`](crate::CacheMode::Uncached).
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

impl PagingGeometry for Arm64 {
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
        sign_extends(va.0, self.va_bits + 1)
    }
}

mod entry;
mod policy;
#[cfg(test)]
mod tests;
