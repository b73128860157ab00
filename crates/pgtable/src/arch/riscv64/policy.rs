//! How the kernel uses riscv64 paging: its memory map and sync rule.

use super::*;
use crate::activate::{self, Activation};
use crate::arch::layout::region;
use crate::arch::{KernelLayout, KernelPolicy, PtdumpFormat, Region, RegionKind, SyncMethod};
use crate::error::Result;
use crate::mask::SyncMask;

impl KernelPolicy for Riscv64 {
    #[inline]
    fn sync_mask(&self) -> SyncMask {
        SyncMask::empty()
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::None
    }

    /// `pgtable_cache_init()` with `CONFIG_MODULES`, `CONFIG_MEMORY_HOTPLUG`
    /// and `CONFIG_KASAN`, region by region. Linux preallocates the direct
    /// map from `PAGE_OFFSET` up to `KASAN_SHADOW_START`; under Sv39 that
    /// also covers the 4 GiB (four top-level slots) between
    /// `vm-layout.rst`'s direct map and the shadow, which stay empty here
    /// (Sv48 and Sv57 have no such gap).
    #[inline]
    fn boot_prealloc(&self) -> &'static [RegionKind] {
        &[
            RegionKind::Vmalloc,
            RegionKind::Modules,
            RegionKind::Vmemmap,
            RegionKind::DirectMap,
            RegionKind::KasanShadow,
        ]
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: match self.mode {
                SvMode::Sv39 => &LAYOUT_SV39,
                SvMode::Sv48 => &LAYOUT_SV48,
                SvMode::Sv57 => &LAYOUT_SV57,
            },
        }
    }

    #[inline]
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        let _ = kernel_root;
        activate::riscv(
            root,
            asid,
            match self.mode {
                SvMode::Sv39 => 8,
                SvMode::Sv48 => 9,
                SvMode::Sv57 => 10,
            },
        )
    }

    fn ptdump_format(&self) -> PtdumpFormat {
        PtdumpFormat::Riscv64
    }
}

// `vm-layout.rst`; the PCI I/O window (16 MiB between the fixmap and
// vmemmap) is left out. The modules/BPF area and the kernel are the same top
// 4 GiB in every mode.
const MODULES: Region = region(
    RegionKind::Modules,
    "Modules",
    0xffff_ffff_0000_0000,
    0xffff_ffff_7fff_ffff,
);
const KERNEL: Region = region(
    RegionKind::KernelText,
    "Kernel",
    0xffff_ffff_8000_0000,
    0xffff_ffff_ffff_ffff,
);

/// `vm-layout.rst`, Sv39.
static LAYOUT_SV39: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_ffc4_fea0_0000,
        0xffff_ffc4_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_ffc5_0000_0000,
        0xffff_ffc5_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xffff_ffc6_0000_0000,
        0xffff_ffd5_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xffff_ffd6_0000_0000,
        0xffff_fff5_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_fff7_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];

/// `vm-layout.rst`, Sv48.
static LAYOUT_SV48: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xffff_8d7f_fea0_0000,
        0xffff_8d7f_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xffff_8d80_0000_0000,
        0xffff_8f7f_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xffff_8f80_0000_0000,
        0xffff_af7f_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xffff_af80_0000_0000,
        0xffff_ef7f_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_ef80_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];

/// `vm-layout.rst`, Sv57.
static LAYOUT_SV57: [Region; 7] = [
    region(
        RegionKind::Fixmap,
        "Fixmap",
        0xff1b_ffff_fea0_0000,
        0xff1b_ffff_feff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "vmemmap",
        0xff1c_0000_0000_0000,
        0xff1f_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc/ioremap space",
        0xff20_0000_0000_0000,
        0xff5f_ffff_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct mapping",
        0xff60_0000_0000_0000,
        0xffde_ffff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffdf_0000_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    MODULES,
    KERNEL,
];
