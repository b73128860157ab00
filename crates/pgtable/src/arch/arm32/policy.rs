//! How the kernel uses arm32 paging: its memory map and sync rule.

use super::*;
use crate::activate::{self, Activation};
use crate::arch::layout::region;
use crate::arch::{KernelLayout, KernelPolicy, PtdumpFormat, Region, RegionKind, SyncMethod};
use crate::error::Result;
use crate::mask::SyncMask;

impl KernelPolicy for Arm32 {
    #[inline]
    fn user_end(&self) -> u64 {
        TASK_SIZE
    }

    #[inline]
    fn kernel_start(&self) -> u64 {
        TASK_SIZE
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
    fn layout(&self) -> KernelLayout {
        KernelLayout { regions: &LAYOUT }
    }

    #[inline]
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        let _ = kernel_root;
        activate::arm32(root, asid)
    }

    fn ptdump_format(&self) -> PtdumpFormat {
        PtdumpFormat::Arm32
    }
}

/// `TASK_SIZE` = `PAGE_OFFSET - SZ_16M` (`arch/arm/include/asm/memory.h`,
/// without KASAN): the end of user space and the start of the modules area.
const TASK_SIZE: u64 = 0xbf00_0000;

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
