//! x86-64: 4-level and 5-level (LA57) paging.
//!
//! Entry format from the Intel SDM vol. 3, ch. 4.5; memory map from Linux's
//! `Documentation/arch/x86/x86_64/mm.rst`; sync rule from Linux 6.17's
//! `arch/x86/include/asm/pgtable_64_types.h`: `ARCH_PAGE_TABLE_SYNC_MASK` is
//! `PGTBL_PGD_MODIFIED` with 5 levels and `PGTBL_P4D_MODIFIED` with 4, where
//! the P4D entry *is* the top-level entry.

use super::{Level, PagingGeometry};
use crate::addr::PhysAddr;
use crate::prot::CacheMode;

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

impl PagingGeometry for X86_64 {
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
}

mod entry;
mod policy;
#[cfg(test)]
mod tests;
