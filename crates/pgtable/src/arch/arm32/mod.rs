//! arm32: the ARMv7-A short-descriptor translation table format, as Linux
//! runs it without LPAE.
//!
//! Descriptor formats from the Arm ARM DDI 0406C, B3.5.1 (first level:
//! figure B3-4; second level: figure B3-5), access permissions from B3.7.1
//! (table B3-8, SCTLR.AFE = 0), memory attributes from B3.8.2 (table B3-10,
//! SCTLR.TRE = 0) and domains from B3.7.3.
//!
//! **Levels.** TTBCR.N = 0, as Linux runs without LPAE: TTBR0 alone
//! translates all 4 GiB through one first-level table of 4096 word entries
//! (16 KiB, 16 KiB-aligned) indexed by VA\[31:20\], whose entries point at
//! second-level tables of 256 word entries (1 KiB, 1 KiB-aligned) indexed
//! by VA\[19:12\]. The root is indexed by [`Level::Pgd`] (12 bits, shift
//! 20); P4D, PUD and PMD are folded into it, so its entries belong to
//! [`Level::Pmd`] and [`top_level`](PagingGeometry::top_level) is `Pmd`: Linux's
//! 2-level arm folds the PMD with `pgtable-nopmd.h` and its `pmd_t` *is*
//! the 1 MiB hardware first-level entry (`__map_init_section()` in
//! `arch/arm/mm/mmu.c`). A first-level entry is a 1 MiB section (a leaf at
//! `Pmd`) or points at a second-level table; a second-level entry is a
//! 4 KiB small page (a leaf at `Pte`). Supersections and 64 KiB large pages
//! are never written.
//!
//! **Not Linux's software layout.** Linux's `pgtable-2level.h` groups two
//! hardware first-level entries into one 8-byte `pgd_t` (2 MiB, so
//! `PTRS_PER_PGD` is 2048) and allocates a whole page per PTE table: two
//! 256-entry hardware tables plus two 256-entry "Linux view" shadow tables
//! holding the young/dirty/special bits the hardware lacks
//! (`pgalloc.h`'s `pte_alloc_one()`, `set_pte_ext()` in
//! `proc-v7-2level.S`). This module models the *hardware* tables directly:
//! 1 MiB first-level entries and 1 KiB second-level tables, which the core
//! allocates as 16 KiB blocks and 1 KiB fragments of pages.
//!
//! **Permissions.** AP\[2:0\] with SCTLR.AFE = 0, as `set_pte_ext()` builds
//! them: kernel read/write 0b001 (PL1 RW, PL0 none), kernel read-only 0b101,
//! user read/write 0b011, user read-only 0b111. XN is set on every leaf
//! without [`Access::EXEC`](crate::Access::EXEC). nG is set on every leaf without
//! [`Access::GLOBAL`](crate::Access::GLOBAL) (user pages: Linux's `set_pte_at()` passes
//! `PTE_EXT_NG` below `TASK_SIZE`). The S bit is set on every leaf, as an
//! SMP kernel does (`build_mem_type_table()` in `arch/arm/mm/mmu.c` forces
//! shared mappings for SMP; S is ignored for Device memory).
//!
//! **Memory types** (TEX\[2:0\], C, B with TEX remap off, the encodings
//! `build_mem_type_table()` uses "for ARMv6 and ARMv7 without TEX
//! remapping"): write-back = TEX 001 C1 B1 (Normal, write-back
//! write-allocate, `PMD_SECT_WBWA`), write-combining = TEX 001 C0 B0
//! (Normal non-cacheable, `MT_DEVICE_WC`), write-through = TEX 000 C1 B0
//! (`PMD_SECT_WT`), uncached = TEX 000 C0 B1 (Shareable Device,
//! `MT_DEVICE`). Every [`CacheMode`](crate::CacheMode) is expressible, so leaves round-trip.
//! Linux's own ARMv7 setup turns TEX remap on (`v7_crval` in
//! `proc-v7-2level.S` sets SCTLR.TRE, with its PRRR/NMRR); the pgtable-mmu
//! model does not implement remapping, so the architectural TRE = 0
//! meanings are used here.
//!
//! **Domains** (`arch/arm/include/asm/domain.h`, without `CONFIG_IO_36`):
//! [`DOMAIN_KERNEL`] 0, [`DOMAIN_USER`] 1, [`DOMAIN_IO`] 2. Kernel tables
//! (`_PAGE_KERNEL_TABLE`) and kernel sections are in domain 0, user tables
//! (`_PAGE_USER_TABLE`) and user sections in domain 1, device (uncached)
//! sections in domain 2 as `mem_types[MT_DEVICE]` has it. ARMv7 kernels do
//! not use `CONFIG_CPU_USE_DOMAINS`, so DACR makes all of them clients and
//! the AP bits decide; [`Arm32::DACR`] is that value.
//!
//! **PXN.** On cores whose ID_MMFR0 reports VMSAv7 with PXN, Linux adds
//! `PMD_PXNTABLE` to `user_pmd_table` (`build_mem_type_table()`), so the
//! kernel can never execute user pages. [`Arm32::SHORT_PXN`] does the same;
//! [`Arm32::SHORT`] leaves bit 2 clear, as it must be on cores without PXN
//! (where it is SBZ). Linux's `_PAGE_KERNEL_TABLE` and `_PAGE_USER_TABLE`
//! also carry `PMD_BIT4`, which ARMv5 and earlier require in page-table
//! descriptors (`build_mem_type_table()`); ARMv7 makes it SBZ, so it is
//! left clear here.
//!
//! **Sync rule.** `arch/arm/include/asm/page.h` defines
//! `ARCH_PAGE_TABLE_SYNC_MASK` as `PGTBL_PMD_MODIFIED` for the 2-level
//! format when `CONFIG_VMAP_STACK` is on (added by "ARM: implement support
//! for vmap'ed stacks", 2022); its `arch_sync_kernel_mappings()`
//! (`arch/arm/kernel/traps.c`) then bumps `init_mm.context.vmalloc_seq`, and
//! `check_vmalloc_seq()` on `switch_mm()` (`__check_vmalloc_seq()` in
//! `arch/arm/mm/ioremap.c`) copies the vmalloc first-level entries from
//! `init_mm` into the incoming mm. Without it Linux arm relies on
//! `do_translation_fault()` (`arch/arm/mm/fault.c`) copying a missing
//! first-level entry from `init_mm` lazily. Here the mask is
//! [`SyncMask::PMD`](crate::SyncMask::PMD) and the sync copies first-level ([`Level::Pmd`])
//! entries into every root, eagerly.
//!
//! **Memory map** from `Documentation/arch/arm/memory.rst` with the 3G/1G
//! split (`PAGE_OFFSET` 0xC000_0000), `arch/arm/include/asm/memory.h`,
//! `highmem.h` and `fixmap.h`: `TASK_SIZE` is `PAGE_OFFSET - 16 MiB`
//! (0xBF00_0000), and the modules area `MODULES_VADDR..MODULES_END` follows
//! it, so [`user_end`](crate::KernelPolicy::user_end) and
//! [`kernel_start`](crate::KernelPolicy::kernel_start) are both 0xBF00_0000 and the
//! modules area counts as kernel. See [`LAYOUT`] for each region.

use super::{Level, PagingGeometry};
use crate::addr::{PhysAddr, VirtAddr};

/// Linux's `DOMAIN_KERNEL`: kernel tables and kernel memory sections.
pub const DOMAIN_KERNEL: u32 = 0;
/// Linux's `DOMAIN_USER`: user tables and user sections.
pub const DOMAIN_USER: u32 = 1;
/// Linux's `DOMAIN_IO`: device sections (`MT_DEVICE*`).
pub const DOMAIN_IO: u32 = 2;

/// ARMv7-A short-descriptor paging with TTBCR.N = 0 (Linux without LPAE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm32 {
    /// Set PXN in user page-table descriptors (Linux's `PMD_PXNTABLE` in
    /// `user_pmd_table`, on cores that implement PXN).
    pub pxn: bool,
}

impl Arm32 {
    /// The short-descriptor format on a core without PXN (Cortex-A8/A9).
    pub const SHORT: Arm32 = Arm32 { pxn: false };
    /// The short-descriptor format on a core with PXN (Cortex-A7/A15 and
    /// later): user tables are never executable at PL1.
    pub const SHORT_PXN: Arm32 = Arm32 { pxn: true };
    /// The DACR these descriptors assume: domains 0 to 3 (kernel, user, I/O,
    /// vectors) clients, the rest no access. Linux's `DACR_UACCESS_ENABLE`;
    /// with `CONFIG_CPU_SW_DOMAIN_PAN` the kernel runs with
    /// `DACR_UACCESS_DISABLE`, the same with [`DOMAIN_USER`] at no access.
    pub const DACR: u32 = 0x55;
}

impl PagingGeometry for Arm32 {
    #[inline]
    fn name(&self) -> &'static str {
        if self.pxn {
            "arm32/short+pxn"
        } else {
            "arm32/short"
        }
    }

    #[inline]
    fn level_bits(&self, level: Level) -> u32 {
        match level {
            Level::Pgd => 12,
            Level::P4d | Level::Pud | Level::Pmd => 0,
            Level::Pte => 8,
        }
    }

    #[inline]
    fn level_shift(&self, level: Level) -> u32 {
        match level {
            Level::Pte => 12,
            _ => 20,
        }
    }

    #[inline]
    fn entry_size(&self) -> u64 {
        4
    }

    #[inline]
    fn va_bits(&self) -> u32 {
        32
    }

    #[inline]
    fn phys_bits(&self) -> u32 {
        32
    }

    #[inline]
    fn is_canonical(&self, va: VirtAddr) -> bool {
        va.0 <= u64::from(u32::MAX)
    }
}

mod entry;
mod policy;
pub use policy::LAYOUT;
#[cfg(test)]
mod tests;
