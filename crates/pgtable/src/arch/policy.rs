//! What the kernel does with a paging mode: where its half and its regions
//! are, how a kernel mapping change reaches the other address spaces
//! (`ARCH_PAGE_TABLE_SYNC_MASK`, `arch_sync_kernel_mappings()`), what is
//! preallocated at boot, and how a CPU is pointed at a set of tables.

use super::geometry::PagingGeometry;
use super::layout::{KernelLayout, RegionKind};
use crate::activate::Activation;
use crate::addr::PhysAddr;
use crate::error::{Error, Result};
use crate::level::Level;
use crate::mask::SyncMask;
use core::ops::Range;

/// How a kernel mapping change reaches the other address spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMethod {
    /// Nothing is ever copied after a space is created: kernel and user
    /// halves live in different roots (arm64's TTBR1/TTBR0), every root
    /// points at the one kernel table below the sync level (x86-32 PAE with
    /// a shared kernel PMD), or the top level is preallocated at boot where
    /// the kernel maps (riscv64).
    None,
    /// Copy the kernel entries of this (real) level, found by walking each
    /// root, from the kernel's tables into every registered root (x86's
    /// `sync_global_pgds()`, `arch_sync_kernel_mappings()`).
    CopyEntries(Level),
}

/// Which Linux dumper's format a paging mode is printed in
/// ([`KernelPolicy::ptdump_format`]); [`crate::ptdump::Format`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PtdumpFormat {
    /// `arch/x86/mm/dump_pagetables.c`, 64-bit markers.
    X86_64,
    /// `arch/x86/mm/dump_pagetables.c`, 32-bit markers (2-level or PAE,
    /// told apart by the entry size).
    X86_32,
    /// `arch/arm64/mm/ptdump.c`.
    Arm64,
    /// `arch/riscv/mm/ptdump.c`.
    Riscv64,
    /// `arch/arm/mm/dump.c`, short descriptors (no LPAE).
    Arm32,
}

/// The kernel's use of a paging mode: its memory map and its sync rule.
pub trait KernelPolicy: PagingGeometry {
    /// User addresses: `0..user_end` (`TASK_SIZE`). The default is the
    /// lower half of a sign-extended address space, as on x86-64 and
    /// riscv64.
    #[inline]
    fn user_end(&self) -> u64 {
        1u64 << (self.va_bits() - 1)
    }
    /// First kernel address. The default is the upper half of a
    /// sign-extended address space, as on x86-64 and riscv64.
    #[inline]
    fn kernel_start(&self) -> u64 {
        !0u64 << (self.va_bits() - 1)
    }
    /// The top-level slots that belong to the kernel and are copied into a
    /// new root (`KERNEL_PGD_BOUNDARY..PTRS_PER_PGD`, riscv's
    /// `USER_PTRS_PER_PGD..PTRS_PER_PGD`): by default those from
    /// [`kernel_start`](KernelPolicy::kernel_start)'s slot to the end of the
    /// root, and none with [split roots](KernelPolicy::split_roots), where a
    /// user root holds no kernel entry (arm64's `pgd_alloc()` copies
    /// nothing).
    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        if self.split_roots() {
            return 0..0;
        }
        let first = self.index(Level::Pgd, self.kernel_start()) as usize;
        first..1usize << self.level_bits(Level::Pgd)
    }
    /// The end of the kernel half (exclusive): `1 << va_bits()` for a
    /// 32-bit address space, 0 (the top of memory) for a sign-extended one.
    #[inline]
    fn kernel_end(&self) -> u64 {
        let bits = self.va_bits();
        if bits < 64 && self.kernel_start() < 1u64 << bits {
            1u64 << bits
        } else {
            0
        }
    }
    /// `ARCH_PAGE_TABLE_SYNC_MASK`: the levels whose modification obliges a
    /// sync.
    fn sync_mask(&self) -> SyncMask;
    /// How the sync is done (`arch_sync_kernel_mappings()`).
    fn sync_method(&self) -> SyncMethod;
    /// The kernel memory map of this mode.
    fn layout(&self) -> KernelLayout;
    /// Which Linux dumper's format [`crate::ptdump`] prints this mode in.
    fn ptdump_format(&self) -> PtdumpFormat;

    /// The register values that make a CPU translate through `root` (and,
    /// with split roots, `kernel_root` for the upper half), with address
    /// space identifier `asid`: [`crate::Activation`]. Refused where the
    /// mode cannot hold the ASID or the root is not aligned as the register
    /// needs. The default knows no register.
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        let _ = (root, kernel_root, asid);
        Err(Error::UnsupportedMode("no activation values for this mode"))
    }

    /// Whether kernel and user halves are translated from separate roots
    /// (arm64's TTBR1 and TTBR0): a new address space then starts with no
    /// kernel entry at all, and kernel addresses are always walked from the
    /// kernel root.
    #[inline]
    fn split_roots(&self) -> bool {
        false
    }
    /// Kernel regions whose tables just below the root are allocated when
    /// the page tables are created, so that the root's entries never change
    /// there afterwards: riscv's `preallocate_pgd_pages_range()` for the
    /// vmalloc, modules and linear-map areas, x86-32 PAE's kernel PMD.
    #[inline]
    fn boot_prealloc(&self) -> &'static [RegionKind] {
        &[]
    }
    /// Whether user PTE tables (`pgtable_t`) may live in high memory, outside
    /// the direct map, and must be reached through a temporary mapping
    /// (x86-32 `CONFIG_HIGHPTE`, `pte_offset_map()` over `kmap_local`).
    /// Kernel PTE tables never do. Linux's arm32 has `CONFIG_HIGHPTE` too
    /// (`arch/arm/Kconfig`, "Allocate 2nd-level pagetables from highmem");
    /// the arm32 mode here keeps user tables in lowmem.
    #[inline]
    fn highpte(&self) -> bool {
        false
    }
}
