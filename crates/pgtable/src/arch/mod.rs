//! Paging modes: what an architecture tells the rest of the library.
//!
//! Linux spreads this over `arch/*/include/asm/pgtable*.h`; here one value of
//! a type implementing [`Arch`] answers every question the walks, the
//! populate helpers and the sync ask. The value (not just the type) carries
//! the mode, so x86-64 can pick 4- or 5-level paging at run time as Linux
//! does with `pgtable_l5_enabled()`.

pub mod arm32;
pub mod arm64;
mod layout;
mod level;
pub mod riscv64;
pub mod x86_32;
pub mod x86_64;

pub use layout::{KernelLayout, Region, RegionKind};
pub use level::Level;

use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::Prot;
use core::ops::Range;

/// What an entry holds, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Not present.
    None,
    /// Points at the table of the next real level.
    Table(PhysAddr),
    /// Maps a page (or block) at this level.
    Leaf(PhysAddr, Prot),
}

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

/// A paging mode.
///
/// Levels are the five logical [`Level`]s; a level whose
/// [`level_bits`](Arch::level_bits) is 0 is folded into its parent. The entry
/// that a chain of folded levels shares *belongs* to the lowest level of the
/// chain: with x86-64 4-level paging the top-level hardware entry is the
/// P4D entry and the PGD level is a pass-through (`pgd_none()` is always
/// false), exactly as `pgtable-nop4d.h` arranges it.
pub trait Arch: Copy + Send + Sync + core::fmt::Debug + 'static {
    /// A short name for tables and logs ("x86_64/4-level").
    fn name(&self) -> &'static str;
    /// Number of index bits of a level; 0 when folded.
    fn level_bits(&self, level: Level) -> u32;
    /// The lowest address bit that selects an entry at this level. A folded
    /// level reports its parent's shift, so `*_addr_end()` spans the parent.
    fn level_shift(&self, level: Level) -> u32;
    /// Bytes per entry (8, or 4 for 32-bit formats).
    #[inline]
    fn entry_size(&self) -> u64 {
        8
    }
    /// Width of a virtual address in bits.
    fn va_bits(&self) -> u32;
    /// Width of a physical address in bits.
    fn phys_bits(&self) -> u32;
    /// Whether `va` is canonical (sign-extended where the mode requires it).
    fn is_canonical(&self, va: VirtAddr) -> bool;
    /// User addresses: `0..user_end`.
    fn user_end(&self) -> u64;
    /// First kernel address.
    fn kernel_start(&self) -> u64;
    /// The top-level slots that belong to the kernel and are copied into a
    /// new root (`KERNEL_PGD_BOUNDARY..PTRS_PER_PGD`).
    fn kernel_top_slots(&self) -> Range<usize>;
    /// Whether a leaf may be written at this real level.
    fn leaf_allowed(&self, level: Level) -> bool;
    /// `ARCH_PAGE_TABLE_SYNC_MASK`: the levels whose modification obliges a
    /// sync.
    fn sync_mask(&self) -> SyncMask;
    /// How the sync is done (`arch_sync_kernel_mappings()`).
    fn sync_method(&self) -> SyncMethod;
    /// Encode a table entry at real level `level` pointing at `table`.
    /// `user` says the table belongs to a user address space.
    fn encode_table(&self, level: Level, table: PhysAddr, user: bool) -> u64;
    /// Encode a leaf at real level `level`. The caller has checked
    /// [`leaf_allowed`](Arch::leaf_allowed) and alignment.
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64;
    /// Decode an entry of real level `level`.
    fn decode(&self, level: Level, raw: u64) -> Decoded;
    /// The kernel memory map of this mode.
    fn layout(&self) -> KernelLayout;
    /// Which Linux dumper's format [`crate::ptdump`] prints this mode in.
    fn ptdump_format(&self) -> crate::ptdump::Format;

    /// The register values that make a CPU translate through `root` (and,
    /// with split roots, `kernel_root` for the upper half), with address
    /// space identifier `asid`: [`crate::Activation`]. Refused where the
    /// mode cannot hold the ASID or the root is not aligned as the register
    /// needs. The default knows no register.
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> crate::Result<crate::Activation> {
        let _ = (root, kernel_root, asid);
        Err(crate::Error::UnsupportedMode(
            "no activation values for this mode",
        ))
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

    /// Whether `level` is folded into its parent.
    #[inline]
    fn is_folded(&self, level: Level) -> bool {
        self.level_bits(level) == 0
    }
    /// Whether `level` only passes through to a folded child: its "entry" is
    /// the child's, so it is never none and populating it does nothing.
    #[inline]
    fn is_passthrough(&self, level: Level) -> bool {
        match level.next() {
            Some(child) => self.is_folded(child),
            None => false,
        }
    }
    /// Bytes of the table indexed by `level`'s bits (a level that is not
    /// folded; the root is indexed by [`Level::Pgd`]): 4 KiB for most, 32
    /// for x86-32 PAE's PDPT, 16 KiB and 1 KiB for arm32's short-descriptor
    /// first and second level. The table's alignment is its size.
    #[inline]
    fn table_bytes(&self, level: Level) -> u64 {
        self.entry_size() << self.level_bits(level)
    }
    /// Bytes one entry of `level` maps (`PGDIR_SIZE` … `PAGE_SIZE`).
    #[inline]
    fn level_size(&self, level: Level) -> u64 {
        1u64 << self.level_shift(level)
    }
    /// Index of `va` in a table of `level` (0 for a folded level).
    #[inline]
    fn index(&self, level: Level, va: u64) -> u64 {
        (va >> self.level_shift(level)) & ((1u64 << self.level_bits(level)) - 1)
    }
    /// Number of real (not folded) levels.
    #[inline]
    fn levels(&self) -> usize {
        Level::ALL.iter().filter(|l| !self.is_folded(**l)).count()
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
    /// The largest physical address + 1.
    #[inline]
    fn phys_limit(&self) -> u64 {
        1u64 << self.phys_bits()
    }
    /// The real level of the root table (the first level that is not a
    /// pass-through).
    #[inline]
    fn top_level(&self) -> Level {
        let mut l = Level::Pgd;
        while self.is_passthrough(l) {
            l = l.next().unwrap_or(Level::Pte);
        }
        l
    }
}
