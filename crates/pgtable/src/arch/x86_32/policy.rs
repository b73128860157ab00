//! How the kernel uses x86_32 paging: its memory map and sync rule.

use super::*;
use crate::activate::{self, Activation};
use crate::arch::layout::region;
use crate::arch::{KernelLayout, KernelPolicy, PtdumpFormat, Region, RegionKind, SyncMethod};
use crate::error::Result;
use crate::mask::SyncMask;

impl KernelPolicy for X86_32 {
    #[inline]
    fn user_end(&self) -> u64 {
        PAGE_OFFSET
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        PAGE_OFFSET
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

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: if self.pae { &LAYOUT_PAE } else { &LAYOUT_2 },
        }
    }

    #[inline]
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        let _ = kernel_root;
        activate::x86(root, asid, 0, if self.pae { 32 } else { 4096 }, 32)
    }

    fn ptdump_format(&self) -> PtdumpFormat {
        PtdumpFormat::X86_32
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
