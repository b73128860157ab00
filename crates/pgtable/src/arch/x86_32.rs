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
//!   [`Arch::top_level`] is [`Level::Pmd`]. A PDE maps a 4 MiB page
//!   (PS = 1, CR4.PSE) or points at a 1024-entry page table.
//! - With PAE the root is the 4-entry page-directory-pointer table (8-byte
//!   PDPTEs, 32 bytes, index bits 31:30) and P4D and PUD are folded into it
//!   (`pgtable-nopud.h`): a root entry is the PUD entry and
//!   [`Arch::top_level`] is [`Level::Pud`]. Below it, 512-entry page
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
//!   fetched from, so [`Arch::decode`] reports [`Access::EXEC`] for every
//!   leaf and a [`Prot`] without it cannot be expressed (Linux's `_PAGE_NX`
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
//!   hence [`SyncMethod::CopyEntries`]`(Level::Pmd)`.
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
//!     [`SyncMethod::None`];
//!   - per-process kernel PMD ([`X86_32::PAE_UNSHARED_PMD`], PTI/Xen, and
//!     every PAE kernel since 6.16): `pgd_alloc()` preallocates the PMD
//!     tables and `pgd_prepopulate_pmd()` copies the kernel's PMD table
//!     into the new one (`arch/x86/mm/pgtable.c`), and a later kernel PMD
//!     change is copied into each root by `arch_sync_kernel_mappings()`:
//!     [`SyncMethod::CopyEntries`]`(Level::Pmd)`.
//!
//!   In both, the kernel PMD table exists from the start
//!   ([`Arch::boot_prealloc`]) and the kernel PDPTE never changes: the CPU
//!   loads the four PDPTEs into registers on a CR3 load (SDM 4.4.1), so
//!   Linux never edits a live one (`pud_populate()` flushes with a CR3
//!   reload; `pgd_alloc()` preallocates all PMDs for this reason).

use super::x86_64::X86Flags;
use super::{Arch, Decoded, KernelLayout, Level, Region, RegionKind, SyncMethod};
use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};
use core::ops::Range;

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

impl Arch for X86_32 {
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

    #[inline]
    fn user_end(&self) -> u64 {
        PAGE_OFFSET
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        PAGE_OFFSET
    }

    /// `KERNEL_PGD_BOUNDARY..PTRS_PER_PGD`: 768..1024 page-directory
    /// entries, or PDPT entry 3.
    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        if self.pae {
            3..4
        } else {
            768..1024
        }
    }

    #[inline]
    fn leaf_allowed(&self, level: Level) -> bool {
        matches!(level, Level::Pmd | Level::Pte)
    }

    #[inline]
    fn sync_mask(&self) -> SyncMask {
        SyncMask::PMD
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        if self.pae && self.shared_kernel_pmd {
            SyncMethod::None
        } else {
            SyncMethod::CopyEntries(Level::Pmd)
        }
    }

    /// A PAE PDPTE gets P and the address only (everything else is
    /// reserved there); other table entries get `_KERNPG_TABLE`, plus U/S
    /// for a user table (`_PAGE_TABLE`).
    #[inline]
    fn encode_table(&self, level: Level, table: PhysAddr, user: bool) -> u64 {
        let addr = table.0 & self.table_mask();
        if self.is_pdpte(level) {
            return addr | X86Flags::PRESENT.bits();
        }
        let mut f = KERNEL_TABLE;
        if user {
            f |= X86Flags::USER;
        }
        addr | f.bits()
    }

    /// Without PAE, [`Access::EXEC`] is ignored: the format has no NX bit
    /// and every page is executable.
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
        if self.pae && !a.contains(Access::EXEC) {
            f |= X86Flags::NO_EXECUTE;
        }
        let idx = Self::cache_index(prot.cache);
        let mut raw = f.bits() | (pa.0 & self.leaf_addr_mask(level));
        raw |= ((idx & 1) * X86Flags::PWT.bits()) | (((idx >> 1) & 1) * X86Flags::PCD.bits());
        let pat = (idx >> 2) & 1;
        if level == Level::Pte {
            raw |= pat * PAT_SMALL;
        } else {
            raw |= X86Flags::HUGE.bits() | (pat * X86Flags::PAT_LARGE.bits());
        }
        raw
    }

    /// A PAE PDPTE is always a table. Without PAE every leaf decodes with
    /// [`Access::EXEC`].
    #[inline]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        let f = X86Flags::from_bits_retain(raw);
        if !f.contains(X86Flags::PRESENT) {
            return Decoded::None;
        }
        let leaf = level == Level::Pte
            || (!self.is_pdpte(level) && self.leaf_allowed(level) && f.contains(X86Flags::HUGE));
        if !leaf {
            return Decoded::Table(PhysAddr(raw & self.table_mask()));
        }
        let mut access = Access::empty();
        access.set(Access::WRITE, f.contains(X86Flags::WRITABLE));
        access.set(Access::USER, f.contains(X86Flags::USER));
        access.set(Access::GLOBAL, f.contains(X86Flags::GLOBAL));
        access.set(Access::EXEC, !self.pae || !f.contains(X86Flags::NO_EXECUTE));
        let pat = if level == Level::Pte {
            raw & PAT_SMALL != 0
        } else {
            f.contains(X86Flags::PAT_LARGE)
        };
        let idx = u64::from(f.contains(X86Flags::PWT))
            | u64::from(f.contains(X86Flags::PCD)) << 1
            | u64::from(pat) << 2;
        let pa = PhysAddr(raw & self.leaf_addr_mask(level));
        Decoded::Leaf(pa, Prot::new(access, Self::cache_of(idx)))
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: if self.pae { &LAYOUT_PAE } else { &LAYOUT_2 },
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
        crate::activate::x86(root, asid, 0, if self.pae { 32 } else { 4096 }, 32)
    }

    fn ptdump_format(&self) -> crate::ptdump::Format {
        crate::ptdump::Format::X86_32
    }

    /// With PAE, the kernel's PMD table (under PDPT\[3\], which covers the
    /// whole kernel gigabyte and so the direct map) exists from creation,
    /// so the kernel PDPTE is written once, before any root copies it.
    #[inline]
    fn boot_prealloc(&self) -> &'static [RegionKind] {
        if self.pae {
            &[RegionKind::DirectMap]
        } else {
            &[]
        }
    }

    #[inline]
    fn highpte(&self) -> bool {
        self.highpte
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

// The memory map is computed as Linux computes it, for the default 3G/1G
// split, `CONFIG_HIGHMEM`, at least 1 GiB of RAM, and the fixmap of an
// SMP build with NR_CPUS = 8 (`pgtable_32_areas.h`, `fixmap.h`):
//
// - `FIXADDR_TOP` = `__FIXADDR_TOP` = 0xffff_f000 (`arch/x86/mm/pgtable_32.c`).
//   The fixmap grows down from it: 197 permanent slots (hole, DBGP,
//   earlycon, local APIC, 64 I/O APICs, `KM_MAX_IDX` 16 x 8 CPUs kmap_local
//   slots, PCIe MCFG), 512 boot-time slots kept inside one page table (with
//   PAE they are pushed up to the next 512-slot boundary), `FIX_WP_TEST`:
//   710 slots without PAE, 1025 with, so `FIXADDR_TOT_START` is
//   0xffd3_9000 / 0xffbf_e000.
// - `CPU_ENTRY_AREA_BASE`: the PMD boundary below the read-only IDT page and
//   8 CPUs' entry areas (about 10 pages each): 0xffc0_0000 (4 MiB PMDs) /
//   0xffa0_0000 (2 MiB PMDs). The area's tables are populated at boot up to
//   the fixmap, so the region runs to `FIXADDR_TOT_START`.
// - `LDT_BASE_ADDR`: one PMD below (0xff80_0000 in both): the per-process
//   LDT remap of PTI, not a region of its own here.
// - `PKMAP_BASE`: one PMD below that, `LAST_PKMAP` pages: 1024 without PAE
//   (4 MiB, 0xff40_0000), 512 with (2 MiB, 0xff60_0000).
// - `VMALLOC_END` = `PKMAP_BASE` - 2 pages (exclusive end).
// - Lowmem: `MAXMEM` = `VMALLOC_END` - `PAGE_OFFSET` - `__VMALLOC_RESERVE`
//   (128 MiB), i.e. about 884 MiB (the "896 MiB" usually quoted is the old
//   1 GiB - 128 MiB); `high_memory` is 0xf73f_e000 / 0xf75f_e000.
// - `VMALLOC_START` = `high_memory` + `VMALLOC_OFFSET` (8 MiB). Modules are
//   loaded in the vmalloc area (`MODULES_VADDR` = `VMALLOC_START`); the
//   kernel image sits in the direct map at `PAGE_OFFSET` + 16 MiB. No
//   vmemmap and no KASAN on x86-32.

/// The 2-level memory map (4 MiB PMDs, 1024 pkmap pages).
static LAYOUT_2: [Region; 5] = [
    region(
        RegionKind::DirectMap,
        "Low memory (direct map)",
        PAGE_OFFSET,
        0xf73f_dfff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xf7bf_e000,
        0xff3f_dfff,
    ),
    region(
        RegionKind::Pkmap,
        "Persistent kmap() area",
        0xff40_0000,
        0xff7f_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry area",
        0xffc0_0000,
        0xffd3_8fff,
    ),
    region(RegionKind::Fixmap, "Fixmap area", 0xffd3_9000, 0xffff_efff),
];

/// The PAE memory map (2 MiB PMDs, 512 pkmap pages).
static LAYOUT_PAE: [Region; 5] = [
    region(
        RegionKind::DirectMap,
        "Low memory (direct map)",
        PAGE_OFFSET,
        0xf75f_dfff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xf7df_e000,
        0xff5f_dfff,
    ),
    region(
        RegionKind::Pkmap,
        "Persistent kmap() area",
        0xff60_0000,
        0xff7f_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry area",
        0xffa0_0000,
        0xffbf_dfff,
    ),
    region(RegionKind::Fixmap, "Fixmap area", 0xffbf_e000, 0xffff_efff),
];

#[cfg(test)]
mod tests {
    use super::*;

    const CACHES: [CacheMode; 4] = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
        CacheMode::Uncached,
    ];

    #[test]
    fn two_level_folds_p4d_pud_and_pmd_into_the_root() {
        let a = X86_32::TWO_LEVEL;
        for l in [Level::P4d, Level::Pud, Level::Pmd] {
            assert!(a.is_folded(l), "{l}");
            assert_eq!(a.level_shift(l), 22, "{l}");
        }
        assert!(a.is_passthrough(Level::Pgd) && a.is_passthrough(Level::Pud));
        assert_eq!(a.top_level(), Level::Pmd);
        assert_eq!(a.levels(), 2);
        assert_eq!(a.entry_size(), 4);
        assert_eq!(a.table_bytes(Level::Pgd), 4096);
        assert_eq!(a.table_bytes(Level::Pte), 4096);
        assert_eq!(a.level_size(Level::Pmd), 4 << 20);
        assert_eq!(a.phys_limit(), 1 << 32);
        assert!(a.boot_prealloc().is_empty());
    }

    #[test]
    fn pae_folds_p4d_and_pud_into_a_32_byte_root() {
        for a in [X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
            assert!(a.is_folded(Level::P4d) && a.is_folded(Level::Pud));
            assert!(!a.is_folded(Level::Pmd));
            assert_eq!(a.level_shift(Level::Pud), 30);
            assert_eq!(a.top_level(), Level::Pud);
            assert_eq!(a.levels(), 3);
            assert_eq!(a.entry_size(), 8);
            assert_eq!(a.table_bytes(Level::Pgd), 32);
            assert_eq!(a.table_bytes(Level::Pmd), 4096);
            assert_eq!(a.table_bytes(Level::Pte), 4096);
            assert_eq!(a.level_size(Level::Pmd), 2 << 20);
            assert_eq!(a.phys_bits(), 52);
            assert_eq!(a.boot_prealloc(), &[RegionKind::DirectMap]);
            assert!(!a.leaf_allowed(Level::Pud), "no 1 GiB pages under PAE");
        }
    }

    #[test]
    fn canonical_is_32_bit_and_halves_split_at_3_gib() {
        for a in [X86_32::TWO_LEVEL, X86_32::PAE] {
            assert!(a.is_canonical(VirtAddr(0xffff_ffff)));
            assert!(!a.is_canonical(VirtAddr(0x1_0000_0000)));
            assert_eq!(a.user_end(), 0xc000_0000);
            assert_eq!(a.kernel_start(), 0xc000_0000);
            assert_eq!(a.va_bits(), 32);
        }
        assert_eq!(X86_32::TWO_LEVEL.kernel_top_slots(), 768..1024);
        assert_eq!(X86_32::PAE.kernel_top_slots(), 3..4);
    }

    #[test]
    fn indexes_of_known_addresses() {
        let a = X86_32::TWO_LEVEL;
        let va = 0xc040_3000;
        assert_eq!(a.index(Level::Pgd, va), 769);
        assert_eq!(a.index(Level::Pmd, va), 0, "folded");
        assert_eq!(a.index(Level::Pte, va), 3);
        assert_eq!(a.index(Level::Pgd, PAGE_OFFSET), 768);
        let b = X86_32::PAE;
        assert_eq!(b.index(Level::Pgd, va), 3);
        assert_eq!(b.index(Level::Pmd, va), 2);
        assert_eq!(b.index(Level::Pte, va), 3);
        assert_eq!(b.index(Level::Pgd, 0xbfff_ffff), 2);
        assert_eq!(b.index(Level::Pmd, 0xffff_f000), 511);
    }

    #[test]
    fn leaves_round_trip_with_every_cache_mode() {
        let modes = [
            (X86_32::TWO_LEVEL, Level::Pmd, 0x8040_0000u64),
            (X86_32::TWO_LEVEL, Level::Pte, 0xfedc_b000),
            (X86_32::PAE, Level::Pmd, 0x12_3460_0000),
            (X86_32::PAE, Level::Pte, 0xf_ffff_f000),
        ];
        for (a, level, pa) in modes {
            for cache in CACHES {
                // Without PAE only executable protections exist.
                let kernel = if a.pae {
                    Prot::KERNEL
                } else {
                    Prot::KERNEL_EXEC
                };
                let user = if a.pae {
                    Prot::USER_RW
                } else {
                    Prot::new(Access::WRITE | Access::USER | Access::EXEC, cache)
                };
                for prot in [kernel.with_cache(cache), user.with_cache(cache)] {
                    let raw = a.encode_leaf(level, PhysAddr(pa), prot);
                    assert_eq!(
                        a.decode(level, raw),
                        Decoded::Leaf(PhysAddr(pa), prot),
                        "{} {level} {prot:?}",
                        a.name()
                    );
                }
            }
        }
    }

    #[test]
    fn large_leaves_use_ps_and_the_high_pat_bit() {
        let a = X86_32::TWO_LEVEL;
        let wt = Prot::KERNEL_ROX.with_cache(CacheMode::WriteThrough);
        let big = a.encode_leaf(Level::Pmd, PhysAddr(0x40_0000), wt);
        assert_ne!(big & X86Flags::HUGE.bits(), 0);
        assert_ne!(big & X86Flags::PAT_LARGE.bits(), 0);
        assert_eq!(big >> 32, 0, "fits a 4-byte PDE");
        let small = a.encode_leaf(Level::Pte, PhysAddr(0x1000), wt);
        assert_ne!(small & PAT_SMALL, 0);
        assert_eq!(
            small & X86Flags::HUGE.bits(),
            PAT_SMALL,
            "bit 7 is PAT here"
        );
        let b = X86_32::PAE;
        let raw = b.encode_leaf(Level::Pmd, PhysAddr(0x20_0000), Prot::KERNEL);
        assert_ne!(raw & X86Flags::HUGE.bits(), 0);
        assert_ne!(raw & X86Flags::NO_EXECUTE.bits(), 0);
    }

    #[test]
    fn two_level_cannot_express_no_execute() {
        let a = X86_32::TWO_LEVEL;
        for level in [Level::Pmd, Level::Pte] {
            let raw = a.encode_leaf(level, PhysAddr(0x40_0000), Prot::KERNEL);
            assert_eq!(raw >> 32, 0, "no bit 63 in a 4-byte entry");
            let Decoded::Leaf(_, prot) = a.decode(level, raw) else {
                panic!("a leaf");
            };
            assert_eq!(prot.access, Prot::KERNEL.access | Access::EXEC);
        }
        // With PAE the same protection keeps NX.
        let b = X86_32::PAE;
        let raw = b.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL);
        assert_eq!(
            b.decode(Level::Pte, raw),
            Decoded::Leaf(PhysAddr(0x1000), Prot::KERNEL)
        );
    }

    #[test]
    fn pdptes_hold_present_and_the_address_only() {
        for a in [X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
            for user in [false, true] {
                let e = a.encode_table(Level::Pud, PhysAddr(0x1234_5000), user);
                assert_eq!(e, 0x1234_5000 | X86Flags::PRESENT.bits());
                assert_eq!(
                    a.decode(Level::Pud, e),
                    Decoded::Table(PhysAddr(0x1234_5000))
                );
            }
            // PS is reserved in a PDPTE: never read as a leaf.
            let odd = 0x4000_0000 | X86Flags::PRESENT.bits() | X86Flags::HUGE.bits();
            assert_eq!(
                a.decode(Level::Pud, odd),
                Decoded::Table(PhysAddr(0x4000_0000))
            );
        }
    }

    #[test]
    fn table_entries_decode_and_carry_user_only_for_user_tables() {
        for (a, level) in [(X86_32::TWO_LEVEL, Level::Pmd), (X86_32::PAE, Level::Pmd)] {
            let k = a.encode_table(level, PhysAddr(0x5000), false);
            let u = a.encode_table(level, PhysAddr(0x5000), true);
            assert_eq!(a.decode(level, k), Decoded::Table(PhysAddr(0x5000)));
            assert_eq!(a.decode(level, u), Decoded::Table(PhysAddr(0x5000)));
            assert_eq!(k & X86Flags::USER.bits(), 0);
            assert_ne!(u & X86Flags::USER.bits(), 0);
            assert_eq!(k & X86Flags::HUGE.bits(), 0, "PS = 0: a table");
            assert_eq!(a.decode(level, 0), Decoded::None);
            assert_eq!(a.decode(level, 0x5000), Decoded::None, "P = 0");
        }
    }

    #[test]
    fn sync_follows_the_kernel_pmd_arrangement() {
        for a in [X86_32::TWO_LEVEL, X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
            assert_eq!(a.sync_mask(), SyncMask::PMD, "{}", a.name());
        }
        assert_eq!(
            X86_32::TWO_LEVEL.sync_method(),
            SyncMethod::CopyEntries(Level::Pmd)
        );
        assert_eq!(X86_32::PAE.sync_method(), SyncMethod::None);
        assert_eq!(
            X86_32::PAE_UNSHARED_PMD.sync_method(),
            SyncMethod::CopyEntries(Level::Pmd)
        );
    }

    #[test]
    fn highpte_is_a_flag_on_every_mode() {
        for a in [X86_32::TWO_LEVEL, X86_32::PAE, X86_32::PAE_UNSHARED_PMD] {
            assert!(!a.highpte());
            let h = a.with_highpte();
            assert!(h.highpte());
            assert_eq!((h.pae, h.shared_kernel_pmd), (a.pae, a.shared_kernel_pmd));
            assert_ne!(h.name(), a.name());
            assert!(h.name().ends_with("+highpte"));
        }
    }

    #[test]
    fn layouts_are_sorted_inside_the_kernel_gigabyte() {
        for a in [X86_32::TWO_LEVEL, X86_32::PAE] {
            let regions = a.layout().regions;
            assert_eq!(regions[0].start, a.kernel_start());
            for w in regions.windows(2) {
                assert!(w[0].last < w[1].start, "{:?} {:?}", w[0], w[1]);
            }
            for r in regions {
                assert!(r.start >= a.kernel_start() && r.last <= 0xffff_ffff);
                assert!(r.start <= r.last);
                assert_eq!(r.start % 4096, 0);
                assert_eq!((r.last + 1) % 4096, 0);
            }
            let l = a.layout();
            for kind in [RegionKind::Vmemmap, RegionKind::KasanShadow] {
                assert!(l.get(kind).is_none());
            }
            // VMALLOC_START = high_memory + 8 MiB; VMALLOC_END = PKMAP_BASE - 2 pages.
            let (dm, vm, pk) = (
                l.get(RegionKind::DirectMap).unwrap(),
                l.get(RegionKind::Vmalloc).unwrap(),
                l.get(RegionKind::Pkmap).unwrap(),
            );
            assert_eq!(vm.start, dm.last + 1 + (8 << 20));
            assert_eq!(vm.last + 1, pk.start - 2 * 4096);
            // MAXMEM leaves __VMALLOC_RESERVE (128 MiB) to vmalloc and above.
            assert_eq!(dm.size(), vm.last + 1 - PAGE_OFFSET - (128 << 20));
            // PKMAP is PMD-aligned and LAST_PKMAP pages long.
            assert_eq!(pk.start % a.level_size(Level::Pmd), 0);
            let last_pkmap = if a.pae { 512 } else { 1024 };
            assert_eq!(pk.size(), last_pkmap * 4096);
            let cea = l.get(RegionKind::CpuEntryArea).unwrap();
            assert_eq!(cea.start % a.level_size(Level::Pmd), 0);
            let fix = l.get(RegionKind::Fixmap).unwrap();
            assert_eq!(fix.last + 1, 0xffff_f000, "FIXADDR_TOP");
            assert_eq!(cea.last + 1, fix.start);
            // Every region lies in the kernel's top-level slots.
            for r in regions {
                let slot = a.index(Level::Pgd, r.start) as usize;
                assert!(a.kernel_top_slots().contains(&slot), "{}", r.name);
            }
        }
        let (two, pae) = (X86_32::TWO_LEVEL.layout(), X86_32::PAE.layout());
        assert_eq!(two.get(RegionKind::Pkmap).unwrap().start, 0xff40_0000);
        assert_eq!(pae.get(RegionKind::Pkmap).unwrap().start, 0xff60_0000);
        assert_eq!(
            X86_32::PAE_UNSHARED_PMD.layout().regions,
            X86_32::PAE.layout().regions
        );
    }
}
