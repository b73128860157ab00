//! How the kernel uses arm64 paging: its memory map and sync rule.

use super::*;
use crate::activate::{self, Activation};
use crate::arch::layout::region;
use crate::arch::{KernelLayout, KernelPolicy, PtdumpFormat, Region, RegionKind, SyncMethod};
use crate::error::Result;
use crate::mask::SyncMask;

impl KernelPolicy for Arm64 {
    /// `TASK_SIZE_64`: the whole TTBR0 range.
    #[inline]
    fn user_end(&self) -> u64 {
        1u64 << self.va_bits
    }

    /// The bottom of the TTBR1 range (`PAGE_OFFSET`).
    #[inline]
    fn kernel_start(&self) -> u64 {
        !0u64 << self.va_bits
    }

    #[inline]
    fn sync_mask(&self) -> SyncMask {
        SyncMask::empty()
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::None
    }

    #[inline]
    fn split_roots(&self) -> bool {
        true
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: match self.va_bits {
                39 => &LAYOUT_39,
                48 => &LAYOUT_48,
                52 => &LAYOUT_52,
                _ => &[],
            },
        }
    }

    #[inline]
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        activate::arm64(root, kernel_root, asid, self.lpa2())
    }

    fn ptdump_format(&self) -> PtdumpFormat {
        PtdumpFormat::Arm64
    }
}

// The maps below assume CONFIG_KASAN_GENERIC, as x86-64's lists the KASAN
// shadow: the linear map then ends where the shadow begins (`PAGE_END` is
// `KASAN_SHADOW_START`); without KASAN it runs up to `_PAGE_END(VA_BITS_MIN)`.
// The kernel image has no region of its own: it sits at the bottom of the
// vmalloc area (`KIMAGE_VADDR = MODULES_END = VMALLOC_START`, plus the KASLR
// offset). The PCI I/O window is left out.

/// `memory.rst`, 4 KiB pages + 4 levels (48-bit).
static LAYOUT_48: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xffff_0000_0000_0000,
        0xffff_5fff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xffff_6000_0000_0000,
        0xffff_7fff_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_8000_0000_0000,
        0xffff_8000_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_8000_8000_0000,
        0xffff_fdff_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_fdff_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];

/// 4 KiB pages + 3 levels (39-bit), from `memory.h`: `PAGE_OFFSET` =
/// -2^39, KASAN shadow 1/8 of it ending at `_PAGE_END(39)` (offset
/// 0xdfffffc000000000), 2 GiB of modules, vmemmap of 2^38 / 4096 64-byte
/// `struct page`s (4 GiB) ending 1 GiB below the top, vmalloc up to 8 MiB
/// below vmemmap; PCI I/O and fixmap as with 48 bits.
static LAYOUT_39: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xffff_ff80_0000_0000,
        0xffff_ffaf_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xffff_ffb0_0000_0000,
        0xffff_ffbf_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffc0_0000_0000,
        0xffff_ffc0_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_ffc0_8000_0000,
        0xffff_fffe_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_fffe_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];

/// 4 KiB pages + 5 levels (52-bit, LPA2). `memory.rst` lists the 52-bit map
/// for 64 KiB pages; the linear map, KASAN shadow, modules and the top are
/// the same with 4 KiB pages, while vmemmap is 16 times larger: (2^52 -
/// 2^47) / 4096 `struct page`s of 64 bytes = 62 TiB below `-SZ_1G`, and
/// vmalloc ends 8 MiB below it (`memory.h`, `pgtable.h`).
static LAYOUT_52: [Region; 6] = [
    region(
        RegionKind::DirectMap,
        "Linear map",
        0xfff0_0000_0000_0000,
        0xfffd_7fff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "Kasan shadow",
        0xfffd_8000_0000_0000,
        0xffff_7fff_ffff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_8000_0000_0000,
        0xffff_8000_7fff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_8000_8000_0000,
        0xffff_c1ff_bf7f_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_c1ff_c000_0000,
        0xffff_ffff_bfff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffff_c180_0000,
        0xffff_ffff_ff7f_ffff,
    ),
];
