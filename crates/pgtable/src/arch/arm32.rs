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
//! [`Level::Pmd`] and [`top_level`](Arch::top_level) is `Pmd`: Linux's
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
//! without [`Access::EXEC`]. nG is set on every leaf without
//! [`Access::GLOBAL`] (user pages: Linux's `set_pte_at()` passes
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
//! `MT_DEVICE`). Every [`CacheMode`] is expressible, so leaves round-trip.
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
//! [`SyncMask::PMD`] and the sync copies first-level ([`Level::Pmd`])
//! entries into every root, eagerly.
//!
//! **Memory map** from `Documentation/arch/arm/memory.rst` with the 3G/1G
//! split (`PAGE_OFFSET` 0xC000_0000), `arch/arm/include/asm/memory.h`,
//! `highmem.h` and `fixmap.h`: `TASK_SIZE` is `PAGE_OFFSET - 16 MiB`
//! (0xBF00_0000), and the modules area `MODULES_VADDR..MODULES_END` follows
//! it, so [`user_end`](Arch::user_end) and
//! [`kernel_start`](Arch::kernel_start) are both 0xBF00_0000 and the
//! modules area counts as kernel. See [`LAYOUT`] for each region.

use super::{Arch, Decoded, KernelLayout, Level, Region, RegionKind, SyncMethod};
use crate::addr::{PhysAddr, VirtAddr};
use crate::mask::SyncMask;
use crate::prot::{Access, CacheMode, Prot};
use core::ops::Range;

/// Linux's `DOMAIN_KERNEL`: kernel tables and kernel memory sections.
pub const DOMAIN_KERNEL: u32 = 0;
/// Linux's `DOMAIN_USER`: user tables and user sections.
pub const DOMAIN_USER: u32 = 1;
/// Linux's `DOMAIN_IO`: device sections (`MT_DEVICE*`).
pub const DOMAIN_IO: u32 = 2;

/// First level, bits \[1:0\]: 0b00 fault, 0b01 page table, 0b1x section.
const L1_TYPE: u64 = 0b11;
/// Bits \[1:0\] of a page-table descriptor.
const L1_TABLE: u64 = 0b01;
/// Bits \[1:0\] of a section (bit 0 would be PXN on LPAE-capable cores).
const L1_SECTION: u64 = 0b10;
/// Page-table descriptor bit 2: PXN for the whole second-level table.
const L1_PXN_TABLE: u64 = 1 << 2;
/// Page-table descriptor bits \[31:10\]: the second-level table.
const L1_TABLE_ADDR: u64 = 0xffff_fc00;
/// Domain, bits \[8:5\] of page-table and section descriptors.
const DOMAIN_SHIFT: u32 = 5;
/// Section bits \[31:20\]: the 1 MiB frame.
const SECT_ADDR: u64 = 0xfff0_0000;
/// Supersection bits \[31:24\]: the low 32 bits of the 16 MiB frame.
const SUPERSECT_ADDR: u64 = 0xff00_0000;
/// Section B, C, XN, AP\[1:0\], TEX\[2:0\], AP\[2\], S, nG, supersection.
const SECT_B: u64 = 1 << 2;
const SECT_C: u64 = 1 << 3;
const SECT_XN: u64 = 1 << 4;
const SECT_AP_SHIFT: u32 = 10;
const SECT_TEX_SHIFT: u32 = 12;
const SECT_APX: u64 = 1 << 15;
const SECT_S: u64 = 1 << 16;
const SECT_NG: u64 = 1 << 17;
const SECT_SUPER: u64 = 1 << 18;

/// Second level: bit 1 set is a small page (bit 0 its XN); 0b01 a large
/// page.
const L2_SMALL: u64 = 1 << 1;
const L2_LARGE: u64 = 0b01;
const SMALL_XN: u64 = 1 << 0;
/// Small page bits \[31:12\]; large page bits \[31:16\].
const SMALL_ADDR: u64 = 0xffff_f000;
const LARGE_ADDR: u64 = 0xffff_0000;
/// Page B, C, AP\[1:0\], TEX\[2:0\] (small), AP\[2\], S, nG.
const PAGE_B: u64 = 1 << 2;
const PAGE_C: u64 = 1 << 3;
const PAGE_AP_SHIFT: u32 = 4;
const SMALL_TEX_SHIFT: u32 = 6;
const PAGE_APX: u64 = 1 << 9;
const PAGE_S: u64 = 1 << 10;
const PAGE_NG: u64 = 1 << 11;
/// Large page TEX\[2:0\] at \[14:12\] and XN at 15.
const LARGE_TEX_SHIFT: u32 = 12;
const LARGE_XN: u64 = 1 << 15;

/// AP\[2:0\] values (table B3-8, AFE = 0).
const AP_KERNEL_RW: u64 = 0b001;
const AP_USER_RW: u64 = 0b011;
const AP_KERNEL_RO: u64 = 0b101;
const AP_USER_RO: u64 = 0b111;

/// `mask` if `on`, else 0.
#[inline]
const fn bit(on: bool, mask: u64) -> u64 {
    if on {
        mask
    } else {
        0
    }
}

/// TEX\[2:0\], C, B of a memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MemAttr {
    tex: u64,
    c: bool,
    b: bool,
}

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

    /// AP\[2:0\] of the rights in `a`.
    #[inline]
    fn ap_of(a: Access) -> u64 {
        match (a.contains(Access::USER), a.contains(Access::WRITE)) {
            (false, true) => AP_KERNEL_RW,
            (false, false) => AP_KERNEL_RO,
            (true, true) => AP_USER_RW,
            (true, false) => AP_USER_RO,
        }
    }

    /// The rights AP\[2:0\] grants, as seen by the owner of the page: user
    /// if PL0 may access it. AP 0b010 (PL1 read/write, PL0 read-only) is
    /// never written here and reads as user read-only. AP 0b000 (no access
    /// at all) and the reserved 0b100 are never written either and read as
    /// a kernel read-only page, the least any present leaf can say.
    #[inline]
    fn access_of(ap: u64) -> Access {
        match ap & 7 {
            AP_KERNEL_RW => Access::WRITE,
            AP_USER_RW => Access::WRITE | Access::USER,
            0b010 | 0b110 | AP_USER_RO => Access::USER,
            _ => Access::empty(),
        }
    }

    /// TEX remap off (table B3-10).
    #[inline]
    fn attr_of(cache: CacheMode) -> MemAttr {
        let (tex, c, b) = match cache {
            CacheMode::WriteBack => (0b001, true, true),
            CacheMode::WriteCombining => (0b001, false, false),
            CacheMode::WriteThrough => (0b000, true, false),
            CacheMode::Uncached => (0b000, false, true),
        };
        MemAttr { tex, c, b }
    }

    /// The cache mode of any TEX/C/B (table B3-10). Encodings this module
    /// never writes map to the nearest mode: Strongly-ordered and
    /// non-shareable Device read as uncached, write-back without
    /// write-allocate as write-back, and TEX = 1xx (separate inner and
    /// outer policies) by its inner policy in C, B. Reserved encodings read
    /// as uncached.
    #[inline]
    fn cache_of(m: MemAttr) -> CacheMode {
        match (m.tex, m.c, m.b) {
            (0b000, true, false) => CacheMode::WriteThrough,
            (0b000, true, true) | (0b001, true, true) => CacheMode::WriteBack,
            (0b001, false, false) => CacheMode::WriteCombining,
            (t, c, b) if t & 0b100 != 0 => match (c, b) {
                (false, false) => CacheMode::WriteCombining,
                (true, false) => CacheMode::WriteThrough,
                _ => CacheMode::WriteBack,
            },
            _ => CacheMode::Uncached,
        }
    }

    /// The domain of a section with these rights.
    #[inline]
    fn section_domain(prot: Prot) -> u32 {
        if prot.access.contains(Access::USER) {
            DOMAIN_USER
        } else if prot.cache == CacheMode::Uncached {
            DOMAIN_IO
        } else {
            DOMAIN_KERNEL
        }
    }

    /// A prot from its decoded parts.
    #[inline]
    fn prot_of(ap: u64, xn: bool, ng: bool, attr: MemAttr) -> Prot {
        let mut access = Self::access_of(ap);
        access.set(Access::EXEC, !xn);
        access.set(Access::GLOBAL, !ng);
        Prot::new(access, Self::cache_of(attr))
    }

    /// Decode a first-level descriptor.
    #[inline]
    fn decode_l1(raw: u64) -> Decoded {
        match raw & L1_TYPE {
            0b00 => Decoded::None,
            L1_TABLE => Decoded::Table(PhysAddr(raw & L1_TABLE_ADDR)),
            // 0b10, or 0b11 (a section with PXN on LPAE-capable cores).
            _ => {
                let ap = ((raw >> SECT_AP_SHIFT) & 3) | (u64::from(raw & SECT_APX != 0) << 2);
                let attr = MemAttr {
                    tex: (raw >> SECT_TEX_SHIFT) & 7,
                    c: raw & SECT_C != 0,
                    b: raw & SECT_B != 0,
                };
                // A supersection (never written here) reports its 16 MiB
                // frame, without PA[39:32].
                let mask = if raw & SECT_SUPER != 0 {
                    SUPERSECT_ADDR
                } else {
                    SECT_ADDR
                };
                let prot = Self::prot_of(ap, raw & SECT_XN != 0, raw & SECT_NG != 0, attr);
                Decoded::Leaf(PhysAddr(raw & mask), prot)
            }
        }
    }

    /// Decode a second-level descriptor.
    #[inline]
    fn decode_l2(raw: u64) -> Decoded {
        let ap = ((raw >> PAGE_AP_SHIFT) & 3) | (u64::from(raw & PAGE_APX != 0) << 2);
        let ng = raw & PAGE_NG != 0;
        let c = raw & PAGE_C != 0;
        let b = raw & PAGE_B != 0;
        if raw & L2_SMALL != 0 {
            let tex = (raw >> SMALL_TEX_SHIFT) & 7;
            let prot = Self::prot_of(ap, raw & SMALL_XN != 0, ng, MemAttr { tex, c, b });
            Decoded::Leaf(PhysAddr(raw & SMALL_ADDR), prot)
        } else if raw & L2_LARGE != 0 {
            // A 64 KiB large page (never written here) reports its frame.
            let tex = (raw >> LARGE_TEX_SHIFT) & 7;
            let prot = Self::prot_of(ap, raw & LARGE_XN != 0, ng, MemAttr { tex, c, b });
            Decoded::Leaf(PhysAddr(raw & LARGE_ADDR), prot)
        } else {
            Decoded::None
        }
    }
}

impl Arch for Arm32 {
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

    #[inline]
    fn user_end(&self) -> u64 {
        TASK_SIZE
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        TASK_SIZE
    }

    #[inline]
    fn kernel_top_slots(&self) -> Range<usize> {
        (TASK_SIZE >> 20) as usize..4096
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
        SyncMethod::CopyEntries(Level::Pmd)
    }

    #[inline]
    fn encode_table(&self, _level: Level, table: PhysAddr, user: bool) -> u64 {
        let domain = if user { DOMAIN_USER } else { DOMAIN_KERNEL };
        let pxn = bit(user && self.pxn, L1_PXN_TABLE);
        (table.0 & L1_TABLE_ADDR) | (u64::from(domain) << DOMAIN_SHIFT) | pxn | L1_TABLE
    }

    #[inline]
    fn encode_leaf(&self, level: Level, pa: PhysAddr, prot: Prot) -> u64 {
        let a = prot.access;
        let ap = Self::ap_of(a);
        let m = Self::attr_of(prot.cache);
        let xn = !a.contains(Access::EXEC);
        let ng = !a.contains(Access::GLOBAL);
        if level == Level::Pte {
            (pa.0 & SMALL_ADDR)
                | L2_SMALL
                | bit(xn, SMALL_XN)
                | bit(m.b, PAGE_B)
                | bit(m.c, PAGE_C)
                | ((ap & 3) << PAGE_AP_SHIFT)
                | (m.tex << SMALL_TEX_SHIFT)
                | bit(ap & 4 != 0, PAGE_APX)
                | PAGE_S
                | bit(ng, PAGE_NG)
        } else {
            (pa.0 & SECT_ADDR)
                | L1_SECTION
                | bit(m.b, SECT_B)
                | bit(m.c, SECT_C)
                | bit(xn, SECT_XN)
                | (u64::from(Self::section_domain(prot)) << DOMAIN_SHIFT)
                | ((ap & 3) << SECT_AP_SHIFT)
                | (m.tex << SECT_TEX_SHIFT)
                | bit(ap & 4 != 0, SECT_APX)
                | SECT_S
                | bit(ng, SECT_NG)
        }
    }

    #[inline]
    fn decode(&self, level: Level, raw: u64) -> Decoded {
        if level == Level::Pte {
            Self::decode_l2(raw)
        } else {
            Self::decode_l1(raw)
        }
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout { regions: &LAYOUT }
    }

    #[inline]
    fn activation(
        &self,
        root: PhysAddr,
        kernel_root: PhysAddr,
        asid: u16,
    ) -> crate::Result<crate::Activation> {
        let _ = kernel_root;
        crate::activate::arm32(root, asid)
    }

    fn ptdump_format(&self) -> crate::ptdump::Format {
        crate::ptdump::Format::Arm32
    }
}

/// `TASK_SIZE` = `PAGE_OFFSET - SZ_16M` (`arch/arm/include/asm/memory.h`,
/// without KASAN): the end of user space and the start of the modules area.
const TASK_SIZE: u64 = 0xbf00_0000;

const fn region(kind: RegionKind, name: &'static str, start: u64, last: u64) -> Region {
    Region {
        kind,
        name,
        start,
        last,
    }
}

/// `Documentation/arch/arm/memory.rst` with `PAGE_OFFSET` 0xC000_0000,
/// `CONFIG_HIGHMEM` and 768 MiB of lowmem:
///
/// - Modules: `MODULES_VADDR` = `PAGE_OFFSET - 16 MiB` to `MODULES_END` =
///   `PAGE_OFFSET - PMD_SIZE` (`memory.h`; `PMD_SIZE` is Linux's 2 MiB).
/// - Pkmap: `PKMAP_BASE` = `PAGE_OFFSET - PMD_SIZE` (`highmem.h`),
///   `LAST_PKMAP` = `PTRS_PER_PTE` = 512 pages, up to `PAGE_OFFSET`.
/// - Direct map (lowmem): `PAGE_OFFSET` to `high_memory`. 768 MiB is what
///   `adjust_lowmem_bounds()` allows with the default 240 MiB vmalloc
///   reserve (`VMALLOC_END - 240 MiB - VMALLOC_OFFSET - PAGE_OFFSET`), the
///   typical lowmem of a machine with 1 GiB or more; the kernel image lives
///   at its start, so there is no separate text region.
/// - vmalloc: `VMALLOC_START` = `high_memory` + `VMALLOC_OFFSET` (8 MiB),
///   8 MiB-aligned, to `VMALLOC_END` = 0xFF80_0000 (`pgtable.h`). The PCI
///   I/O window (0xFEE0_0000) is a static mapping inside it.
/// - Fixmap: 0xFFC8_0000 to 0xFFEF_FFFF as `memory.rst` lists it
///   (`fixmap.h` starts `FIXADDR_START` at 0xFFC0_0000, taking in the guard
///   region memory.rst shows below it; `FIXADDR_END` is 0xFFF0_0000).
///
/// Not here: the device-tree blob mapping (0xFF80_0000..0xFFBF_FFFF), the
/// vector page (0xFFFF_0000) and the cache-aliasing window above it, which
/// are fixed single mappings rather than regions of a [`RegionKind`];
/// vmemmap, which arm32 does not have (flat or sparse `mem_map` in lowmem);
/// and the KASAN shadow, which with `CONFIG_KASAN` lies between `TASK_SIZE`
/// and `MODULES_VADDR` after Linux lowers `TASK_SIZE` to
/// `KASAN_SHADOW_START` (memory.rst), i.e. below the 0xBF00_0000 boundary
/// this mode keeps, in what is user space here.
pub static LAYOUT: [Region; 5] = [
    region(RegionKind::Modules, "Modules", 0xbf00_0000, 0xbfdf_ffff),
    region(
        RegionKind::Pkmap,
        "Persistent kmap",
        0xbfe0_0000,
        0xbfff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Lowmem (direct map)",
        0xc000_0000,
        0xefff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() / ioremap() area",
        0xf080_0000,
        0xff7f_ffff,
    ),
    region(RegionKind::Fixmap, "Fixmap", 0xffc8_0000, 0xffef_ffff),
];

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_CACHE: [CacheMode; 4] = [
        CacheMode::WriteBack,
        CacheMode::WriteCombining,
        CacheMode::WriteThrough,
        CacheMode::Uncached,
    ];

    fn all_prots() -> [Prot; 8] {
        [
            Prot::KERNEL,
            Prot::KERNEL_RO,
            Prot::KERNEL_EXEC,
            Prot::KERNEL_ROX,
            Prot::USER_RW,
            Prot::USER_RO,
            Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack),
            Prot::new(
                Access::USER | Access::WRITE | Access::EXEC,
                CacheMode::WriteBack,
            ),
        ]
    }

    #[test]
    fn levels_fold_into_the_first_level() {
        let a = Arm32::SHORT;
        for l in [Level::P4d, Level::Pud, Level::Pmd] {
            assert!(a.is_folded(l), "{l}");
            assert_eq!(a.level_shift(l), 20);
        }
        assert!(!a.is_folded(Level::Pgd) && !a.is_folded(Level::Pte));
        assert!(a.is_passthrough(Level::Pgd));
        assert!(a.is_passthrough(Level::Pud));
        assert!(!a.is_passthrough(Level::Pmd));
        assert_eq!(a.top_level(), Level::Pmd);
        assert_eq!(a.levels(), 2);
        assert_eq!(a.entry_size(), 4);
        assert_eq!(a.table_bytes(Level::Pgd), 16 * 1024);
        assert_eq!(a.table_bytes(Level::Pte), 1024);
        assert_eq!(a.level_size(Level::Pmd), 1 << 20);
        assert_eq!(a.level_size(Level::Pte), 4096);
        assert!(a.leaf_allowed(Level::Pmd) && a.leaf_allowed(Level::Pte));
        assert!(!a.leaf_allowed(Level::Pud) && !a.leaf_allowed(Level::Pgd));
        assert_eq!(a.name(), "arm32/short");
        assert_eq!(Arm32::SHORT_PXN.name(), "arm32/short+pxn");
        assert_eq!(a.phys_limit(), 1 << 32);
    }

    #[test]
    fn canonical_halves_and_indices() {
        let a = Arm32::SHORT;
        assert!(a.is_canonical(VirtAddr(0)));
        assert!(a.is_canonical(VirtAddr(0xffff_ffff)));
        assert!(!a.is_canonical(VirtAddr(0x1_0000_0000)));
        assert_eq!(a.user_end(), 0xbf00_0000);
        assert_eq!(a.kernel_start(), 0xbf00_0000);
        assert_eq!(a.kernel_top_slots(), 0xbf0..4096);
        assert_eq!(a.index(Level::Pgd, 0xbf00_0000), 0xbf0);
        assert_eq!(a.index(Level::Pgd, 0xc000_0000), 0xc00);
        assert_eq!(a.index(Level::Pgd, 0xffff_f000), 0xfff);
        assert_eq!(a.index(Level::Pmd, 0xc012_3456), 0);
        assert_eq!(a.index(Level::Pte, 0xc012_3456), 0x23);
        assert_eq!(a.index(Level::Pte, 0x000f_f000), 0xff);
    }

    #[test]
    fn leaves_round_trip_at_both_levels() {
        let a = Arm32::SHORT;
        for cache in ALL_CACHE {
            for prot in all_prots() {
                let prot = prot.with_cache(cache);
                for (level, pa) in [(Level::Pte, 0x1234_5000), (Level::Pmd, 0xfed0_0000)] {
                    let raw = a.encode_leaf(level, PhysAddr(pa), prot);
                    assert!(raw <= u64::from(u32::MAX));
                    assert_eq!(
                        a.decode(level, raw),
                        Decoded::Leaf(PhysAddr(pa), prot),
                        "{level} {prot:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn small_page_bits() {
        let a = Arm32::SHORT;
        // PAGE_KERNEL: AP 0b001, XN, TEX 001 C B (WBWA), S, global.
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x8765_4000), Prot::KERNEL);
        assert_eq!(
            raw,
            0x8765_4000 | 0b10 | 1 | (0b01 << 4) | (0b001 << 6) | (1 << 3) | (1 << 2) | (1 << 10)
        );
        // User read-only executable: AP 0b111 (APX), no XN, nG.
        let p = Prot::new(Access::USER | Access::EXEC, CacheMode::WriteBack);
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000), p);
        assert_eq!(raw & 0b11, 0b10);
        assert_eq!((raw >> 4) & 3, 0b11);
        assert_ne!(raw & (1 << 9), 0, "APX");
        assert_ne!(raw & (1 << 11), 0, "nG");
        // Kernel read-only: AP 0b101.
        let raw = a.encode_leaf(Level::Pte, PhysAddr(0x1000), Prot::KERNEL_ROX);
        assert_eq!(((raw >> 4) & 3, raw & (1 << 9) != 0), (0b01, true));
        assert_eq!(raw & 1, 0, "executable: XN clear");
    }

    #[test]
    fn memory_types_without_tex_remap() {
        let a = Arm32::SHORT;
        let texcb = |cache| {
            let raw = a.encode_leaf(Level::Pte, PhysAddr(0), Prot::KERNEL.with_cache(cache));
            ((raw >> 6) & 7, (raw >> 3) & 1, (raw >> 2) & 1)
        };
        assert_eq!(texcb(CacheMode::WriteBack), (0b001, 1, 1));
        assert_eq!(texcb(CacheMode::WriteCombining), (0b001, 0, 0));
        assert_eq!(texcb(CacheMode::WriteThrough), (0b000, 1, 0));
        assert_eq!(texcb(CacheMode::Uncached), (0b000, 0, 1));
        let sect = |cache| {
            let raw = a.encode_leaf(Level::Pmd, PhysAddr(0), Prot::KERNEL.with_cache(cache));
            ((raw >> 12) & 7, (raw >> 3) & 1, (raw >> 2) & 1)
        };
        assert_eq!(sect(CacheMode::WriteBack), (0b001, 1, 1));
        assert_eq!(sect(CacheMode::Uncached), (0b000, 0, 1));
        // Encodings never written: Strongly-ordered and non-shareable
        // Device read as uncached, WB no write-allocate as write-back.
        let small =
            |tex: u64, cb: u64| a.decode(Level::Pte, 0x5000 | 0b10 | (tex << 6) | (cb << 2));
        let cache = |d| match d {
            Decoded::Leaf(_, p) => Some(p.cache),
            _ => None,
        };
        assert_eq!(cache(small(0, 0b00)), Some(CacheMode::Uncached));
        assert_eq!(cache(small(0b010, 0b00)), Some(CacheMode::Uncached));
        assert_eq!(cache(small(0, 0b11)), Some(CacheMode::WriteBack));
        assert_eq!(cache(small(0b101, 0b01)), Some(CacheMode::WriteBack));
        assert_eq!(cache(small(0b110, 0b10)), Some(CacheMode::WriteThrough));
    }

    #[test]
    fn section_bits_and_domains() {
        let a = Arm32::SHORT;
        let raw = a.encode_leaf(Level::Pmd, PhysAddr(0x6010_0000), Prot::KERNEL);
        assert_eq!(raw & 0b11, 0b10, "section");
        assert_eq!(raw & SECT_ADDR, 0x6010_0000);
        assert_eq!((raw >> 10) & 3, 0b01, "AP kernel RW");
        assert_ne!(raw & (1 << 4), 0, "XN");
        assert_ne!(raw & (1 << 16), 0, "S");
        assert_eq!(raw & (1 << 17), 0, "global");
        assert_eq!(raw & SECT_SUPER, 0);
        assert_eq!((raw >> 5) & 0xf, u64::from(DOMAIN_KERNEL));
        let dev = a.encode_leaf(
            Level::Pmd,
            PhysAddr(0),
            Prot::KERNEL.with_cache(CacheMode::Uncached),
        );
        assert_eq!((dev >> 5) & 0xf, u64::from(DOMAIN_IO));
        let user = a.encode_leaf(Level::Pmd, PhysAddr(0), Prot::USER_RO);
        assert_eq!((user >> 5) & 0xf, u64::from(DOMAIN_USER));
        assert_eq!(((user >> 10) & 3, user & (1 << 15) != 0), (0b11, true));
        assert_ne!(user & (1 << 17), 0, "nG");
        // A supersection (never written) reports its 16 MiB frame.
        let sup = 0x4500_0000 | SECT_SUPER | (0b01 << 10) | 0b10;
        assert!(matches!(
            a.decode(Level::Pmd, sup),
            Decoded::Leaf(PhysAddr(0x4500_0000), _)
        ));
    }

    #[test]
    fn table_entries_carry_domain_and_pxn() {
        let a = Arm32::SHORT;
        let k = a.encode_table(Level::Pmd, PhysAddr(0x1234_5c00), false);
        assert_eq!(k, 0x1234_5c01);
        assert_eq!(
            a.decode(Level::Pmd, k),
            Decoded::Table(PhysAddr(0x1234_5c00))
        );
        let u = a.encode_table(Level::Pmd, PhysAddr(0x1234_5c00), true);
        assert_eq!(u, 0x1234_5c01 | (1 << 5));
        let p = Arm32::SHORT_PXN.encode_table(Level::Pmd, PhysAddr(0x400), true);
        assert_eq!(p, 0x400 | (1 << 5) | (1 << 2) | 1);
        assert_eq!(
            Arm32::SHORT_PXN.encode_table(Level::Pmd, PhysAddr(0x400), false),
            0x401,
            "kernel tables never PXN"
        );
        assert_eq!(
            Arm32::SHORT_PXN.decode(Level::Pmd, p),
            Decoded::Table(PhysAddr(0x400))
        );
        assert_eq!(a.decode(Level::Pmd, 0), Decoded::None);
        assert_eq!(a.decode(Level::Pte, 0), Decoded::None);
        assert_eq!(
            a.decode(Level::Pte, 0xffff_f000),
            Decoded::None,
            "type 0b00"
        );
    }

    #[test]
    fn permissions_prot_cannot_express() {
        let a = Arm32::SHORT;
        // AP 0b010: PL1 RW, PL0 RO. Prot has no "kernel may write, user may
        // only read": it reads as a user read-only page.
        let raw = 0x7000 | 0b10 | (0b10 << 4) | PAGE_NG;
        assert_eq!(
            a.decode(Level::Pte, raw),
            Decoded::Leaf(
                PhysAddr(0x7000),
                Prot::new(Access::USER | Access::EXEC, CacheMode::Uncached)
            )
        );
        // A 64 KiB large page (never written) reports its frame and XN.
        let large = 0x5555_0000 | LARGE_XN | (0b01 << 4) | 0b01;
        assert_eq!(
            a.decode(Level::Pte, large),
            Decoded::Leaf(
                PhysAddr(0x5555_0000),
                Prot::new(Access::WRITE | Access::GLOBAL, CacheMode::Uncached)
            )
        );
    }

    #[test]
    fn sync_is_pmd_level() {
        for a in [Arm32::SHORT, Arm32::SHORT_PXN] {
            assert_eq!(a.sync_mask(), SyncMask::PMD);
            assert_eq!(a.sync_method(), SyncMethod::CopyEntries(Level::Pmd));
            assert_eq!(a.sync_method(), SyncMethod::CopyEntries(a.top_level()));
            assert!(!a.split_roots());
        }
    }

    #[test]
    fn layout_sorted_and_in_the_kernel_half() {
        let a = Arm32::SHORT;
        let l = a.layout();
        let mut prev: Option<&Region> = None;
        for r in l.regions {
            assert!(r.start >= a.kernel_start(), "{}", r.name);
            assert!(r.last <= 0xffff_ffff && r.start <= r.last, "{}", r.name);
            if let Some(p) = prev {
                assert!(p.last < r.start, "{} overlaps {}", p.name, r.name);
            }
            prev = Some(r);
        }
        assert_eq!(
            l.get(RegionKind::DirectMap).map(Region::size),
            Some(768 << 20)
        );
        let vm = l.get(RegionKind::Vmalloc).unwrap();
        assert_eq!((vm.start, vm.last + 1), (0xf080_0000, 0xff80_0000));
        assert_eq!(l.get(RegionKind::Modules).unwrap().start, a.kernel_start());
        assert_eq!(l.get(RegionKind::Pkmap).unwrap().size(), 512 * 4096);
        assert!(l.get(RegionKind::Vmemmap).is_none());
        assert!(l.get(RegionKind::KasanShadow).is_none());
        assert_eq!(
            l.region_of(0xffc8_0000).map(|r| r.kind),
            Some(RegionKind::Fixmap)
        );
    }
}
