//! How the kernel uses x86_64 paging: its memory map and sync rule.

use super::*;
use crate::activate::{self, Activation};
use crate::arch::layout::region;
use crate::arch::{
    KernelLayout, KernelPolicy, PagingGeometry, PtdumpFormat, Region, RegionKind, SyncMethod,
};
use crate::error::Result;
use crate::mask::SyncMask;

impl KernelPolicy for X86_64 {
    #[inline]
    fn sync_mask(&self) -> SyncMask {
        if self.la57 {
            SyncMask::PGD
        } else {
            SyncMask::P4D
        }
    }

    #[inline]
    fn sync_method(&self) -> SyncMethod {
        SyncMethod::CopyEntries(self.top_level())
    }

    #[inline]
    fn layout(&self) -> KernelLayout {
        KernelLayout {
            regions: if self.la57 { &LAYOUT_5 } else { &LAYOUT_4 },
        }
    }

    #[inline]
    fn activation(&self, root: PhysAddr, kernel_root: PhysAddr, asid: u16) -> Result<Activation> {
        let _ = kernel_root;
        activate::x86(root, asid, 12, 4096, 52)
    }

    fn ptdump_format(&self) -> PtdumpFormat {
        PtdumpFormat::X86_64
    }
}

/// `mm.rst`, 4-level paging.
static LAYOUT_4: [Region; 11] = [
    region(
        RegionKind::LdtRemap,
        "LDT remap for PTI",
        0xffff_8800_0000_0000,
        0xffff_887f_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct map",
        0xffff_8880_0000_0000,
        0xffff_c87f_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffff_c900_0000_0000,
        0xffff_e8ff_ffff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "Vmemmap",
        0xffff_ea00_0000_0000,
        0xffff_eaff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffff_ec00_0000_0000,
        0xffff_fbff_ffff_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry Area",
        0xffff_fe00_0000_0000,
        0xffff_fe7f_ffff_ffff,
    ),
    region(
        RegionKind::Espfix,
        "%esp fixup stacks",
        0xffff_ff00_0000_0000,
        0xffff_ff7f_ffff_ffff,
    ),
    region(
        RegionKind::EfiRuntime,
        "EFI region mapping",
        0xffff_ffef_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    region(
        RegionKind::KernelText,
        "High Kernel Mapping",
        0xffff_ffff_8000_0000,
        0xffff_ffff_9fff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffff_a000_0000,
        0xffff_ffff_feff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap Area",
        0xffff_ffff_ff00_0000,
        0xffff_ffff_ff5f_ffff,
    ),
];

/// `mm.rst`, 5-level paging.
static LAYOUT_5: [Region; 11] = [
    region(
        RegionKind::LdtRemap,
        "LDT remap for PTI",
        0xff10_0000_0000_0000,
        0xff10_ffff_ffff_ffff,
    ),
    region(
        RegionKind::DirectMap,
        "Direct map",
        0xff11_0000_0000_0000,
        0xff90_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmalloc,
        "vmalloc() area",
        0xffa0_0000_0000_0000,
        0xffd1_ffff_ffff_ffff,
    ),
    region(
        RegionKind::Vmemmap,
        "Vmemmap",
        0xffd4_0000_0000_0000,
        0xffd5_ffff_ffff_ffff,
    ),
    region(
        RegionKind::KasanShadow,
        "KASAN shadow",
        0xffdf_0000_0000_0000,
        0xffff_fbff_ffff_ffff,
    ),
    region(
        RegionKind::CpuEntryArea,
        "CPU entry Area",
        0xffff_fe00_0000_0000,
        0xffff_fe7f_ffff_ffff,
    ),
    region(
        RegionKind::Espfix,
        "%esp fixup stacks",
        0xffff_ff00_0000_0000,
        0xffff_ff7f_ffff_ffff,
    ),
    region(
        RegionKind::EfiRuntime,
        "EFI region mapping",
        0xffff_ffef_0000_0000,
        0xffff_fffe_ffff_ffff,
    ),
    region(
        RegionKind::KernelText,
        "High Kernel Mapping",
        0xffff_ffff_8000_0000,
        0xffff_ffff_9fff_ffff,
    ),
    region(
        RegionKind::Modules,
        "Modules",
        0xffff_ffff_a000_0000,
        0xffff_ffff_feff_ffff,
    ),
    region(
        RegionKind::Fixmap,
        "Fixmap Area",
        0xffff_ffff_ff00_0000,
        0xffff_ffff_ff5f_ffff,
    ),
];
