//! riscv64: Sv39, Sv48 and Sv57 paging.
//!
//! Entry format from the RISC-V privileged specification ("Sv39", "Sv48",
//! "Sv57" and the Svpbmt chapter) with the bits Linux sets from
//! `arch/riscv/include/asm/pgtable-bits.h`, `pgtable-64.h` and
//! `pgtable.h`; memory map from `Documentation/arch/riscv/vm-layout.rst`.
//!
//! Sync: Linux's riscv defines no `ARCH_PAGE_TABLE_SYNC_MASK`, so
//! [`KernelPolicy::sync_mask`](crate::KernelPolicy::sync_mask) is empty and [`KernelPolicy::sync_method`](crate::KernelPolicy::sync_method) is
//! [`SyncMethod::None`](crate::arch::SyncMethod::None): `pgd_alloc()` copies the kernel's top-level entries
//! into a new PGD once (`arch/riscv/include/asm/pgalloc.h`) and nothing
//! copies them later. What keeps the spaces right instead is
//! `pgtable_cache_init()` in `arch/riscv/mm/init.c`: at boot,
//! `preallocate_pgd_pages_range()` allocates the level below the PGD over
//! the vmalloc area, the modules/BPF area (`CONFIG_MODULES`) and, with
//! `CONFIG_MEMORY_HOTPLUG`, over vmemmap, the direct map and (with
//! `CONFIG_KASAN`) the KASAN shadow, so every top-level entry there exists
//! before the first process and never changes afterwards
//! ([`KernelPolicy::boot_prealloc`](crate::KernelPolicy::boot_prealloc) returns those five, the configuration whose
//! memory map [`KernelPolicy::layout`](crate::KernelPolicy::layout) gives). A new top-level entry anywhere else
//! in the kernel half (the fixmap/PCI I/O slot, the kernel image's slots,
//! the unused slots at the bottom of the half) reaches only the spaces
//! created after it: Linux maps those at boot and never there again.

use super::{Level, PagingGeometry};
use crate::addr::PhysAddr;
use crate::prot::CacheMode;

bitflags::bitflags! {
    /// Sv39/Sv48/Sv57 page-table entry bits, with Linux's names in the docs.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RiscvFlags: u64 {
        /// V, bit 0: valid (`_PAGE_PRESENT`).
        const VALID = 1 << 0;
        /// R, bit 1: readable. R = W = X = 0 makes a pointer to the next
        /// level.
        const READ = 1 << 1;
        /// W, bit 2: writable (reserved without R).
        const WRITE = 1 << 2;
        /// X, bit 3: executable.
        const EXEC = 1 << 3;
        /// U, bit 4: accessible to U-mode (`_PAGE_USER`).
        const USER = 1 << 4;
        /// G, bit 5: global mapping (`_PAGE_GLOBAL`).
        const GLOBAL = 1 << 5;
        /// A, bit 6: accessed (`_PAGE_ACCESSED`).
        const ACCESSED = 1 << 6;
        /// D, bit 7: dirty (`_PAGE_DIRTY`).
        const DIRTY = 1 << 7;
        /// Svpbmt NC, bits 62:61 = 1: non-cacheable, idempotent, weakly
        /// ordered main memory (`_PAGE_NOCACHE_SVPBMT`).
        const PBMT_NC = 1 << 61;
        /// Svpbmt IO, bits 62:61 = 2: non-cacheable, non-idempotent, strongly
        /// ordered I/O (`_PAGE_IO_SVPBMT`).
        const PBMT_IO = 1 << 62;
    }
}

/// Bits 53:10: the physical page number (a 44-bit PPN, 56-bit PAs).
pub const PPN_MASK: u64 = ((1 << 44) - 1) << 10;
/// Bits 62:61: Svpbmt's memory type; 3 is reserved.
const PBMT_MASK: u64 = 3 << 61;
/// Bits 60:54 are reserved and bit 63 is Svnapot's N, which Linux sets only
/// for NAPOT mappings it never makes here: a walk faults on either.
const RESERVED: u64 = (0x7f << 54) | (1 << 63);

/// The translation scheme (satp.MODE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SvMode {
    /// 3 levels, 39-bit VAs.
    Sv39,
    /// 4 levels, 48-bit VAs.
    Sv48,
    /// 5 levels, 57-bit VAs.
    Sv57,
}

/// riscv64 paging in one of the Sv modes, as Linux picks at boot
/// (`pgtable_l4_enabled`, `pgtable_l5_enabled`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Riscv64 {
    /// The scheme.
    pub mode: SvMode,
}

impl Riscv64 {
    /// Sv39: the root is indexed by VA\[38:30\] and its entries are PUD
    /// entries (P4D and PUD folded into it, `pgtable-nop4d.h` and
    /// `pgtable-nopud.h`); then PMD and PTE.
    pub const SV39: Riscv64 = Riscv64 { mode: SvMode::Sv39 };
    /// Sv48: 4 levels, P4D folded as with x86-64 4-level paging.
    pub const SV48: Riscv64 = Riscv64 { mode: SvMode::Sv48 };
    /// Sv57: 5 levels.
    pub const SV57: Riscv64 = Riscv64 { mode: SvMode::Sv57 };

    /// Number of levels (the specification's `LEVELS`).
    #[inline]
    const fn hw_levels(&self) -> u32 {
        match self.mode {
            SvMode::Sv39 => 3,
            SvMode::Sv48 => 4,
            SvMode::Sv57 => 5,
        }
    }

    /// A level's distance from the bottom: PTE 0 … PGD 4.
    #[inline]
    const fn depth(level: Level) -> u32 {
        4 - level as u32
    }

    /// The specification's level `i` (0 for 4 KiB leaves, 1 for megapages,
    /// …) of an entry of `level`. A pass-through level stands for the
    /// lowest level of its folded chain, whose entry it really is.
    #[inline]
    fn spec_level(&self, level: Level) -> u32 {
        Self::depth(self.entry_level(level))
    }

    /// Svpbmt type of a memory type, as Linux uses it when the extension is
    /// present: PMA for normal memory, NC for `pgprot_writecombine()`
    /// (`ioremap_wc()`), IO for `pgprot_noncached()` and `_PAGE_IOREMAP`
    /// (`ioremap()`). riscv defines no `ioremap_wt()`, so the generic
    /// fallback `ioremap_wt() = ioremap()` applies: write-through is IO and
    /// decodes as [`CacheMode::Uncached`](crate::CacheMode::Uncached).
    #[inline]
    const fn pbmt(cache: CacheMode) -> RiscvFlags {
        match cache {
            CacheMode::WriteBack => RiscvFlags::empty(),
            CacheMode::WriteCombining => RiscvFlags::PBMT_NC,
            CacheMode::Uncached | CacheMode::WriteThrough => RiscvFlags::PBMT_IO,
        }
    }

    /// Whether a walk faults on `raw` as malformed: W without R, reserved
    /// bits or N, PBMT 3, or PBMT in a pointer.
    #[inline]
    fn malformed(raw: u64) -> bool {
        let f = RiscvFlags::from_bits_retain(raw);
        let pointer = !f.intersects(RiscvFlags::READ | RiscvFlags::EXEC);
        (f.contains(RiscvFlags::WRITE) && !f.contains(RiscvFlags::READ))
            || raw & RESERVED != 0
            || raw & PBMT_MASK == PBMT_MASK
            || (pointer && raw & PBMT_MASK != 0)
    }
}

/// PTE bits of a physical address (`pfn << _PAGE_PFN_SHIFT`).
#[inline]
const fn ppn(pa: u64) -> u64 {
    (pa >> 12) << 10 & PPN_MASK
}

/// The physical address a PTE designates.
#[inline]
const fn pa_of(raw: u64) -> u64 {
    (raw & PPN_MASK) >> 10 << 12
}

impl PagingGeometry for Riscv64 {
    #[inline]
    fn name(&self) -> &'static str {
        match self.mode {
            SvMode::Sv39 => "riscv64/sv39",
            SvMode::Sv48 => "riscv64/sv48",
            SvMode::Sv57 => "riscv64/sv57",
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        if level == Level::Pgd || Self::depth(level) < self.hw_levels() - 1 {
            9
        } else {
            0
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        let d = Self::depth(level);
        if d < self.hw_levels() - 1 {
            12 + 9 * d
        } else {
            // The root, and the levels folded into it.
            12 + 9 * (self.hw_levels() - 1)
        }
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        12 + 9 * self.hw_levels()
    }

    /// A 44-bit PPN: 56-bit physical addresses in every mode.
    #[inline]
    fn phys_bits(&self) -> u32 {
        56
    }
}

mod entry;
mod policy;
#[cfg(test)]
mod tests;
