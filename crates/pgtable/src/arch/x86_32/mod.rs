//! x86-32: 2-level (non-PAE) and 3-level PAE paging.
//!
//! Entry formats from the Intel SDM vol. 3A, 4.3 (32-bit paging, tables 4-4
//! to 4-6) and 4.4 (PAE paging, tables 4-8 to 4-11); level folding from
//! Linux's `arch/x86/include/asm/pgtable-2level_types.h` and
//! `pgtable-3level_types.h`; memory map from
//! `arch/x86/include/asm/pgtable_32_areas.h`, `fixmap.h` and the ordering
//! comment of `highmem.h` (Linux has no `mm.rst` for 32-bit x86).
//!
//! # Levels
//!
//! - Without PAE the root is the 1024-entry page directory (4-byte PDEs,
//!   index bits 31:22) and P4D, PUD and PMD are folded into it
//!   (`pgtable-nopmd.h`): a root entry *is* the PMD entry, so
//!   [`PagingGeometry::top_level`] is [`Level::Pmd`]. A PDE maps a 4 MiB page
//!   (PS = 1, CR4.PSE) or points at a 1024-entry page table.
//! - With PAE the root is the 4-entry page-directory-pointer table (8-byte
//!   PDPTEs, 32 bytes, index bits 31:30) and P4D and PUD are folded into it
//!   (`pgtable-nopud.h`): a root entry is the PUD entry and
//!   [`PagingGeometry::top_level`] is [`Level::Pud`]. Below it, 512-entry page
//!   directories (2 MiB leaves) and page tables, 8-byte entries.
//!   The library allocates the 32 bytes the hardware reads, as Linux did
//!   before 6.16 whenever `SHARED_KERNEL_PMD` held (a `pgd_cache` slab
//!   object); since 6.16 `_pgd_alloc()` always takes a whole page. The
//!   difference is one of memory only: the MMU reads the same 32 bytes.
//!
//! # Entry bits
//!
//! The bit positions are x86-64's ([`X86Flags`]). What differs:
//! - 32-bit paging has no execute-disable bit: every present page can be
//!   fetched from, so [`EntryFormat::decode`](crate::EntryFormat::decode) reports [`Access::EXEC`](crate::Access::EXEC) for every
//!   leaf and a [`Prot`](crate::Prot) without it cannot be expressed (Linux's `_PAGE_NX`
//!   is 0 without PAE).
//! - A PAE PDPTE has only P, PWT, PCD and the address: R/W, U/S, A, D, PS,
//!   G and XD are reserved there (SDM table 4-8; Linux's `pud_populate()`
//!   writes `__pa(pmd) | _PAGE_PRESENT` only). Rights are then decided by the
//!   PDE and PTE alone.
//! - No 1 GiB pages in PAE mode; no PSE-36 here (4 MiB pages stay below
//!   4 GiB, `phys_bits` 32 without PAE).
//!
//! # Sync
//!
//! `ARCH_PAGE_TABLE_SYNC_MASK` is `PGTBL_PMD_MODIFIED` in both modes:
//! - 2-level (`pgtable-2level_types.h`): the PMD entry is the root entry;
//!   `arch_sync_kernel_mappings()` (`arch/x86/mm/fault.c`) walks every root
//!   on `pgd_list` and copies the kernel's PMD entry (`vmalloc_sync_one()`),
//!   hence [`SyncMethod::CopyEntries`](crate::arch::SyncMethod::CopyEntries)`(Level::Pmd)`.
//! - PAE (`pgtable-3level_types.h`): up to Linux 6.15 the mask was
//!   `SHARED_KERNEL_PMD ? 0 : PGTBL_PMD_MODIFIED`, with `SHARED_KERNEL_PMD`
//!   true unless PTI (or, earlier, Xen PV) was on; since 6.16 (commit
//!   "x86/mm: Always tell core mm to sync kernel mappings") it is always
//!   `PGTBL_PMD_MODIFIED`, and 6.16 stopped sharing kernel PMDs altogether
//!   ("x86/mm: Preallocate all PAE page tables", "Remove now unused
//!   SHARED_KERNEL_PMD"). Both arrangements are offered:
//!   - shared kernel PMD ([`X86_32::PAE`]): every root's PDPT\[3\] points
//!     at the one kernel PMD table set up at boot (`pgd_ctor()` clones the
//!     PDPTE), so a kernel PMD entry written once is seen from every root:
//!     [`SyncMethod::None`](crate::arch::SyncMethod::None);
//!   - per-process kernel PMD ([`X86_32::PAE_UNSHARED_PMD`], PTI/Xen, and
//!     every PAE kernel since 6.16): `pgd_alloc()` preallocates the PMD
//!     tables and `pgd_prepopulate_pmd()` copies the kernel's PMD table
//!     into the new one (`arch/x86/mm/pgtable.c`), and a later kernel PMD
//!     change is copied into each root by `arch_sync_kernel_mappings()`:
//!     [`SyncMethod::CopyEntries`](crate::arch::SyncMethod::CopyEntries)`(Level::Pmd)`.
//!
//!   In both, the kernel PMD table exists from the start
//!   ([`KernelPolicy::boot_prealloc`](crate::KernelPolicy::boot_prealloc)) and the kernel PDPTE never changes: the CPU
//!   loads the four PDPTEs into registers on a CR3 load (SDM 4.4.1), so
//!   Linux never edits a live one (`pud_populate()` flushes with a CR3
//!   reload; `pgd_alloc()` preallocates all PMDs for this reason).

use super::x86_64::X86Flags;
use super::{Level, PagingGeometry};
use crate::addr::{PhysAddr, VirtAddr};
use crate::prot::CacheMode;

/// Bits 31:12: the frame of a table or 4 KiB page in a 4-byte entry.
const ADDR_MASK_32: u64 = 0xffff_f000;
/// Bits 51:12: the frame of a table or page in an 8-byte PAE entry.
const ADDR_MASK_PAE: u64 = 0x000f_ffff_ffff_f000;
/// The PAT bit of a 4 KiB PTE (bit 7, PS in a PDE).
const PAT_SMALL: u64 = 1 << 7;
/// `_KERNPG_TABLE`: what a PDE pointing at a page table holds (A and D are
/// preset so the CPU never has to write them back).
const KERNEL_TABLE: X86Flags = X86Flags::PRESENT
    .union(X86Flags::WRITABLE)
    .union(X86Flags::ACCESSED)
    .union(X86Flags::DIRTY);
/// `__PAGE_OFFSET` with the default `CONFIG_VMSPLIT_3G`
/// (`arch/x86/include/asm/page_32_types.h`): 3 GiB of user space.
const PAGE_OFFSET: u64 = 0xc000_0000;

/// x86 32-bit paging: 2-level, or PAE with the kernel PMD shared or per
/// process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86_32 {
    /// PAE paging (CR4.PAE, `CONFIG_X86_PAE`): 3 levels of 8-byte entries
    /// with NX; otherwise 2 levels of 4-byte entries.
    pub pae: bool,
    /// PAE only: every root shares the kernel's PMD table through its
    /// PDPT\[3\] (Linux's `SHARED_KERNEL_PMD` before 6.16, without PTI).
    /// `false` gives each root its own copy, kept in sync entry by entry.
    /// Always `false` without PAE, where Linux defined `SHARED_KERNEL_PMD`
    /// as 0 (the root entries themselves are copied).
    pub shared_kernel_pmd: bool,
    /// `CONFIG_HIGHPTE`: user PTE tables may be allocated from high memory.
    pub highpte: bool,
}

impl X86_32 {
    /// 2-level paging: 4 MiB and 4 KiB pages, 32-bit physical addresses,
    /// no NX.
    pub const TWO_LEVEL: X86_32 = X86_32 {
        pae: false,
        shared_kernel_pmd: false,
        highpte: false,
    };
    /// PAE paging with one kernel PMD table shared by every root.
    pub const PAE: X86_32 = X86_32 {
        pae: true,
        shared_kernel_pmd: true,
        highpte: false,
    };
    /// PAE paging with a kernel PMD table per root (PTI, Xen PV, and every
    /// PAE kernel since Linux 6.16).
    pub const PAE_UNSHARED_PMD: X86_32 = X86_32 {
        pae: true,
        shared_kernel_pmd: false,
        highpte: false,
    };

    /// The same mode with `CONFIG_HIGHPTE`.
    #[must_use]
    pub const fn with_highpte(self) -> Self {
        X86_32 {
            highpte: true,
            ..self
        }
    }

    /// The frame bits of a table entry.
    #[inline]
    const fn table_mask(&self) -> u64 {
        if self.pae {
            ADDR_MASK_PAE
        } else {
            ADDR_MASK_32
        }
    }

    /// The frame bits of a leaf at `level`: 4 MiB or 2 MiB aligned at the
    /// PMD level (bit 12 is the large page's PAT bit).
    #[inline]
    fn leaf_addr_mask(&self, level: Level) -> u64 {
        match level {
            Level::Pte => self.table_mask(),
            _ => self.table_mask() & !(self.level_size(level) - 1),
        }
    }

    /// PWT/PCD/PAT index under Linux's PAT setup (WB, WC, UC-, UC, WB, WP,
    /// UC-, WT), as on x86-64 (`arch/x86/mm/pat/memtype.c`).
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

    /// Whether `level` is PAE's PDPT level, whose entries have no rights.
    #[inline]
    fn is_pdpte(&self, level: Level) -> bool {
        self.pae && level == Level::Pud
    }
}

impl PagingGeometry for X86_32 {
    #[inline]
    fn name(&self) -> &'static str {
        match (self.pae, self.shared_kernel_pmd, self.highpte) {
            (false, _, false) => "x86_32/2-level",
            (false, _, true) => "x86_32/2-level+highpte",
            (true, true, false) => "x86_32/PAE",
            (true, true, true) => "x86_32/PAE+highpte",
            (true, false, false) => "x86_32/PAE-unshared-pmd",
            (true, false, true) => "x86_32/PAE-unshared-pmd+highpte",
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        match (self.pae, level) {
            (true, Level::Pgd) => 2,
            (true, Level::P4d | Level::Pud) => 0,
            (true, Level::Pmd | Level::Pte) => 9,
            (false, Level::Pgd | Level::Pte) => 10,
            (false, _) => 0,
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        match (self.pae, level) {
            (_, Level::Pte) => 12,
            (true, Level::Pmd) => 21,
            (true, _) => 30,
            (false, _) => 22,
        }
    }

    #[inline]
    fn entry_size(&self) -> u64 {
        if self.pae {
            8
        } else {
            4
        }
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        32
    }

    /// 32 without PAE. With PAE, Linux's `__PHYSICAL_MASK_SHIFT` (52,
    /// `arch/x86/include/asm/page_32_types.h`), the architectural maximum
    /// of a PAE entry (SDM 4.4: up to MAXPHYADDR, at most 52). Linux itself
    /// cannot use frames above 2^44 (its PFNs are 32-bit `unsigned long`s;
    /// the wider mask is there for inverted PROT_NONE entries), and a CPU
    /// whose MAXPHYADDR is smaller treats the bits above it as reserved.
    #[inline]
    fn phys_bits(&self) -> u32 {
        if self.pae {
            52
        } else {
            32
        }
    }

    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        va.0 <= u64::from(u32::MAX)
    }
}

mod entry;
mod policy;
#[cfg(test)]
mod tests;
