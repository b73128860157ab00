//! x86-64: 4-level and 5-level (LA57) paging.
//!
//! Entry format from the Intel SDM vol. 3, ch. 4.5; memory map from Linux's
//! `Documentation/arch/x86/x86_64/mm.rst`; sync rule from Linux 6.17's
//! `arch/x86/include/asm/pgtable_64_types.h`: `ARCH_PAGE_TABLE_SYNC_MASK` is
//! `PGTBL_PGD_MODIFIED` with 5 levels and `PGTBL_P4D_MODIFIED` with 4, where
//! the P4D entry *is* the top-level entry.

use super::{Arch, Decoded, KernelLayout, Level, Region, RegionKind, SyncMethod};
use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};
use core::ops::Range;

bitflags::bitflags! {
    /// x86-64 page-table entry bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct X86Flags: u64 {
        /// Present.
        const PRESENT = 1 << 0;
        /// Writable.
        const WRITABLE = 1 << 1;
        /// User accessible.
        const USER = 1 << 2;
        /// Page-level write-through.
        const PWT = 1 << 3;
        /// Page-level cache disable.
        const PCD = 1 << 4;
        /// Accessed.
        const ACCESSED = 1 << 5;
        /// Dirty (leaves only).
        const DIRTY = 1 << 6;
        /// Page size: a 2 MiB or 1 GiB leaf at the PD or PDPT level. At the
        /// PT level the same bit is the PAT bit.
        const HUGE = 1 << 7;
        /// Global (leaves only).
        const GLOBAL = 1 << 8;
        /// PAT bit of a 2 MiB or 1 GiB leaf.
        const PAT_LARGE = 1 << 12;
        /// Execute disable (needs EFER.NXE).
        const NO_EXECUTE = 1 << 63;
    }
}

/// Bits 51:12: the frame address of a table or 4 KiB page.
pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const PAT_SMALL: u64 = 1 << 7;
/// `_KERNPG_TABLE`.
const KERNEL_TABLE: X86Flags = X86Flags::PRESENT
    .union(X86Flags::WRITABLE)
    .union(X86Flags::ACCESSED)
    .union(X86Flags::DIRTY);

/// x86-64 long-mode paging; `la57` selects 5 levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86_64 {
    /// 5-level paging (CR4.LA57), Linux's `pgtable_l5_enabled()`.
    pub la57: bool,
}

impl X86_64 {
    /// 4-level paging, 48-bit virtual addresses.
    pub const FOUR_LEVEL: X86_64 = X86_64 { la57: false };
    /// 5-level paging, 57-bit virtual addresses.
    pub const FIVE_LEVEL: X86_64 = X86_64 { la57: true };

    #[inline]
    fn leaf_addr_mask(level: Level) -> u64 {
        match level {
            Level::Pud => ADDR_MASK & !((1 << 30) - 1),
            Level::Pmd => ADDR_MASK & !((1 << 21) - 1),
            _ => ADDR_MASK,
        }
    }

    /// PWT/PCD/PAT index under Linux's PAT setup (WB, WC, UC-, UC, WB, WP,
    /// UC-, WT).
    #[inline]
    fn cache_index(cache: CacheMode) -> u64 {
        match cache {
            CacheMode::WriteBack => 0,
            CacheMode::WriteCombining => 1,
            CacheMode::Uncached => 3,
            CacheMode::WriteThrough => 7,
        }
    }

    #[inline]
    fn cache_of(index: u64) -> CacheMode {
        match index {
            1 => CacheMode::WriteCombining,
            2 | 3 | 6 => CacheMode::Uncached,
            7 => CacheMode::WriteThrough,
            _ => CacheMode::WriteBack,
        }
    }
}

impl Arch for X86_64 {
    #[inline]
    fn name(&self) -> &'static str {
        if self.la57 {
            "x86_64/5-level"
        } else {
            "x86_64/4-level"
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        match level {
            Level::Pgd => 9,
            Level::P4d if !self.la57 => 0,
            _ => 9,
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        match level {
            Level::Pgd if self.la57 => 48,
            Level::Pgd | Level::P4d => 39,
            Level::Pud => 30,
            Level::Pmd => 21,
            Level::Pte => 12,
        }
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        if self.la57 {
            57
        } else {
            48
        }
    }

    #[inline]
    fn phys_bits(&self) -> u32 {
        52
    }

    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        let unused = 64 - self.va_bits();
        (((va.0 << unused) as i64) >> unused) as u64 == va.0
    }

    #[inline]
    fn user_end(&self) -> u64 {
        1u64 << (self.va_bits() - 1)
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        !0u64 << (self.va_bits() - 1)
    }

    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        256..512
    }

    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(level, Level::Pud | Level::Pmd | Level::Pte)
    }

    #[inline]
    fn sync_mask(&self) -> SyncMask {
        if self.la57 {
            SyncMask::PGD
        } else {
            SyncMask::P4D
        }
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::CopyEntries(self.top_level())
    }

    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, user: bool) -> u64 {
        let mut f = KERNEL_TABLE;
        if user {
            f |= X86Flags::USER;
        }
        (table.0 & ADDR_MASK) | f.bits()
    }

    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let mut f = X86Flags::PRESENT | X86Flags::ACCESSED;
        let a = prot.access;
        if a.contains(Access::WRITE) {
            f |= X86Flags::WRITABLE | X86Flags::DIRTY;
        }
        if a.contains(Access::USER) {
            f |= X86Flags::USER;
        }
        if a.contains(Access::GLOBAL) {
            f |= X86Flags::GLOBAL;
        }
        if !a.contains(Access::EXEC) {
            f |= X86Flags::NO_EXECUTE;
        }
        let idx = Self::cache_index(prot.cache);
        let mut raw = f.bits() | (pa.0 & Self::leaf_addr_mask(level));
        raw |= ((idx & 1) * X86Flags::PWT.bits()) | (((idx >> 1) & 1) * X86Flags::PCD.bits());
        let pat = (idx >> 2) & 1;
        if level == Level::Pte {
            raw |= pat * PAT_SMALL;
        } else {
            raw |= X86Flags::HUGE.bits() | (pat * X86Flags::PAT_LARGE.bits());
        }
        raw
    }

    #[inline]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        let f = X86Flags::from_bits_retain(raw);
        if !f.contains(X86Flags::PRESENT) {
            return Decoded::None;
        }
        let leaf = level == Level::Pte || (self.leaf_allowed(level) && f.contains(X86Flags::HUGE));
        if !leaf {
            return Decoded::Table(PhysAddr(raw & ADDR_MASK));
        }
        let mut access = Access::empty();
        access.set(Access::WRITE, f.contains(X86Flags::WRITABLE));
        access.set(Access::USER, f.contains(X86Flags::USER));
        access.set(Access::GLOBAL, f.contains(X86Flags::GLOBAL));
        access.set(Access::EXEC, !f.contains(X86Flags::NO_EXECUTE));
        let pat = if level == Level::Pte {
            raw & PAT_SMALL != 0
        } else {
            f.contains(X86Flags::PAT_LARGE)
        };
        let idx = u64::from(f.contains(X86Flags::PWT))
            | u64::from(f.contains(X86Flags::PCD)) << 1
            | u64::from(pat) << 2;
        let pa = PhysAddr(raw & Self::leaf_addr_mask(level));
        Decoded::Leaf(pa, Prot::new(access, Self::cache_of(idx)))
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: if self.la57 { &LAYOUT_5 } else { &LAYOUT_4 },
        }
    }

    #[inline]
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> crate::Result<crate::Activation> {
        let _ = kernel_root;
        crate::activate::x86(root, asid, 12, 4096, 52)
    }

    fn ptdump_format(&self) -> crate::ptdump::Format {
        crate::ptdump::Format::X86_64
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

/// `mm.rst`, 4-level paging.
static LAYOUT_4: [Region; 11] = [
    region(
        RegionKind::LdtRemap,
        "LDT remap for PTI",
        0xffff_8800_0000_0000,
        0xffff_887f_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct map",
        0xffff_8880_0000_0000,
        0xffff_c87f_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_c900_0000_0000,
        0xffff_e8ff_ffff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "Vmemmap",
        0xffff_ea00_0000_0000,
        0xffff_eaff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_ec00_0000_0000,
        0xffff_fbff_ffff_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry Area",
        0xffff_fe00_0000_0000,
        0xffff_fe7f_ffff_ffff,
    ),
    region(
        RegionKind::Espfix,
        "%esp fixup stacks",
        0xffff_ff00_0000_0000,
        0xffff_ff7f_ffff_ffff,
    ),
    region(
        RegionKind::EfiRuntime,
        "EFI region mapping",
        0xffff_ffef_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    region(
        RegionKind::KernelText,
        "High Kernel Mapping",
        0xffff_ffff_8000_0000,
        0xffff_ffff_9fff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffff_a000_0000,
        0xffff_ffff_feff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap Area",
        0xffff_ffff_ff00_0000,
        0xffff_ffff_ff5f_ffff,
    ),
];

/// `mm.rst`, 5-level paging.
static LAYOUT_5: [Region; 11] = [
    region(
        RegionKind::LdtRemap,
        "LDT remap for PTI",
        0xff10_0000_0000_0000,
        0xff10_ffff_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct map",
        0xff11_0000_0000_0000,
        0xff90_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffa0_0000_0000_0000,
        0xffd1_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "Vmemmap",
        0xffd4_0000_0000_0000,
        0xffd5_ffff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffdf_0000_0000_0000,
        0xffff_fbff_ffff_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry Area",
        0xffff_fe00_0000_0000,
        0xffff_fe7f_ffff_ffff,
    ),
    region(
        RegionKind::Espfix,
        "%esp fixup stacks",
        0xffff_ff00_0000_0000,
        0xffff_ff7f_ffff_ffff,
    ),
    region(
        RegionKind::EfiRuntime,
        "EFI region mapping",
        0xffff_ffef_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    region(
        RegionKind::KernelText,
        "High Kernel Mapping",
        0xffff_ffff_8000_0000,
        0xffff_ffff_9fff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffff_a000_0000,
        0xffff_ffff_feff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap Area",
        0xffff_ffff_ff00_0000,
        0xffff_ffff_ff5f_ffff,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_and_halves() {
        let a = X86_64::FOUR_LEVEL;
        assert!(a.is_canonical(VirtAddr(0x0000_7fff_ffff_f000)));
        assert!(!a.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
        assert!(a.is_canonical(VirtAddr(0xffff_8000_0000_0000)));
        assert_eq!(a.kernel_start(), 0xffff_8000_0000_0000);
        let b = X86_64::FIVE_LEVEL;
        assert!(b.is_canonical(VirtAddr(0x0000_8000_0000_0000)));
        assert!(!b.is_canonical(VirtAddr(0x0100_0000_0000_0000)));
        assert_eq!(b.kernel_start(), 0xff00_0000_0000_0000);
        assert_eq!(b.index(Level::Pgd, 0xff11_0000_0000_0000), 273);
    }

    #[test]
    fn folding_follows_nop4d() {
        let a = X86_64::FOUR_LEVEL;
        assert!(a.is_folded(Level::P4d));
        assert!(a.is_passthrough(Level::Pgd));
        assert_eq!(a.top_level(), Level::P4d);
        assert_eq!(a.levels(), 4);
        assert_eq!(a.sync_method(), SyncMethod::CopyEntries(Level::P4d));
        let b = X86_64::FIVE_LEVEL;
        assert_eq!(b.top_level(), Level::Pgd);
        assert_eq!(b.levels(), 5);
        assert_eq!(b.sync_mask(), SyncMask::PGD);
    }

    #[test]
    fn leaf_round_trips_with_cache_modes() {
        let a = X86_64::FOUR_LEVEL;
        for cache in [
            CacheMode::WriteBack,
            CacheMode::WriteCombining,
            CacheMode::WriteThrough,
            CacheMode::Uncached,
        ] {
            for (level, pa) in [
                (Level::Pte, 0x1234_5000),
                (Level::Pmd, 0x4020_0000),
                (Level::Pud, 0x8_4000_0000),
            ] {
                let prot = Prot::KERNEL.with_cache(cache);
                let raw = a.encode_leaf(level, PhysAddr(pa), prot);
                assert_eq!(
                    a.decode(level, raw),
                    Decoded::Leaf(PhysAddr(pa), prot),
                    "{level} {cache:?}"
                );
            }
        }
        let raw = a.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), Prot::KERNEL);
        assert_ne!(raw & X86Flags::HUGE.bits(), 0);
        assert_ne!(raw & X86Flags::NO_EXECUTE.bits(), 0);
        let t = a.encode_table(Level::Pmd, PhysAddr(0x5000), false);
        assert_eq!(a.decode(Level::Pmd, t), Decoded::Table(PhysAddr(0x5000)));
        assert_eq!(t & X86Flags::USER.bits(), 0);
    }
}
