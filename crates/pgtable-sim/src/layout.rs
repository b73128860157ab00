//! Where the simulated kernel puts things: Linux's x86-64 memory map with the
//! bases `CONFIG_RANDOMIZE_MEMORY` (KASLR) may choose.
//!
//! KASLR places `page_offset_base`, `vmalloc_base` and `vmemmap_base` at
//! random PUD-aligned addresses inside their regions. The simulator uses one
//! such placement in which boot memory's direct map and `struct page` array
//! end shortly before a top-level slot boundary, so that memory added later
//! needs a new top-level slot: the situation of the machines where
//! 9b861528a801, 4917f55b4ef9 and 8d400913c231 were hit.

use pgtable::arch::RegionKind;
use pgtable::Arch;
use serde::Serialize;

/// Size of a `struct page`.
pub const STRUCT_PAGE_SIZE: u64 = 64;
/// x86-64 `SECTION_SIZE_BITS`: memory hotplug works in 128 MiB sections.
pub const SECTION_SIZE: u64 = 128 << 20;
/// Sub-section size (`SUBSECTION_SHIFT` = 21): ZONE_DEVICE granularity.
pub const SUBSECTION_SIZE: u64 = 2 << 20;
/// Physical memory present at boot.
pub const BOOT_RAM: u64 = 16 << 30;
/// Where table frames come from (the top of boot RAM).
pub const TABLE_FRAMES: core::ops::Range<u64> = (12 << 30)..BOOT_RAM;
/// Where data frames come from.
pub const DATA_FRAMES: core::ops::Range<u64> = (16 << 20)..(12 << 30);
/// First physical address whose direct map and vmemmap need new top-level
/// slots under [`SimLayout`]'s placement.
pub const HOTPLUG_BASE: u64 = 64 << 30;

/// Physical memory of a 32-bit machine: lowmem only, all of it direct-mapped.
pub const BOOT_RAM_32: u64 = 512 << 20;

/// The kernel's virtual layout and the physical memory of the simulated
/// machine, for one paging mode.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SimLayout {
    /// `page_offset_base`.
    #[serde(serialize_with = "crate::json::hex")]
    pub page_offset: u64,
    /// `vmemmap_base` (0 where the mode has no vmemmap).
    #[serde(serialize_with = "crate::json::hex")]
    pub vmemmap: u64,
    /// vmalloc area start and end (exclusive).
    #[serde(serialize_with = "crate::json::hex_pair")]
    pub vmalloc: (u64, u64),
    /// `KASAN_SHADOW_OFFSET`.
    #[serde(serialize_with = "crate::json::hex")]
    pub kasan_offset: u64,
    /// Bytes one top-level entry maps.
    pub top_slot: u64,
    /// Bytes one entry of the level the kernel copies into every process
    /// maps (the sync level; the top level where nothing is copied later):
    /// the unit a kernel user must fill to need a sync.
    pub sync_slot: u64,
    /// Physical memory present (and direct-mapped) at boot.
    pub boot_ram: u64,
    /// Where table frames come from.
    #[serde(serialize_with = "crate::json::hex_pair")]
    pub table_frames: (u64, u64),
    /// Where user PTE tables come from under HIGHPTE: high memory, outside
    /// the direct map.
    #[serde(serialize_with = "crate::json::hex_opt_pair")]
    pub high_tables: Option<(u64, u64)>,
    /// Where data frames come from.
    #[serde(serialize_with = "crate::json::hex_pair")]
    pub data_frames: (u64, u64),
    /// Where hot-added memory goes, if the mode has memory hotplug of the
    /// direct map (64-bit modes).
    #[serde(serialize_with = "crate::json::hex_opt")]
    pub hotplug_base: Option<u64>,
    /// Whether the mode has a virtually mapped `struct page` array.
    pub has_vmemmap: bool,
    /// Whether the mode has a KASAN shadow region in the kernel half.
    pub has_kasan: bool,
    /// `sizeof(struct page)`: 64, or more with debug options (the machine
    /// of 8d400913c231's report had 80).
    pub struct_page: u64,
    /// Where the historical scenarios put their device memory.
    #[serde(serialize_with = "crate::json::hex")]
    pub device: u64,
}

/// The machine of a reported oops: the bases memory KASLR chose (or the
/// defaults), the size of `struct page`, where the device memory sat, and
/// the address the kernel faulted on, so that the simulator reproduces that
/// exact address on x86-64 with 4-level paging. The values are derived in
/// `docs/linux-baselines.md` section 2 from the reports' register dumps.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ReportedOops {
    /// The Linux commit the report led to (or that introduced the bug).
    pub commit: &'static str,
    /// `page_offset_base`, if the report shows it.
    #[serde(serialize_with = "crate::json::hex_opt")]
    pub page_offset: Option<u64>,
    /// `vmemmap_base`.
    #[serde(serialize_with = "crate::json::hex")]
    pub vmemmap: u64,
    /// `vmalloc_base`, if KASLR moved it: KASLR orders the regions direct
    /// map, vmalloc, vmemmap, so a `vmemmap_base` below the default one
    /// moves the vmalloc area down too.
    #[serde(serialize_with = "crate::json::hex_opt")]
    pub vmalloc: Option<u64>,
    /// `sizeof(struct page)`.
    pub struct_page: u64,
    /// Physical start of the device memory.
    #[serde(serialize_with = "crate::json::hex")]
    pub device: u64,
    /// The faulting address of the report.
    #[serde(serialize_with = "crate::json::hex")]
    pub oops: u64,
}

/// 4917f55b4ef9 ("mm/sparse-vmemmap: improve memory savings for compound
/// devmaps"): `__init_single_page()` of the first compound head in a new
/// top-level slot (4-level slot 462) faulted writing `_refcount` (offset
/// 0x34) at `ffffe70000000034`. That slot is below the default
/// `vmemmap_base` (`0xffffea0000000000`), so KASLR had moved it down; one
/// PUD-aligned base that puts pfn `0x40000000` (4 TiB) at the slot's first
/// byte is `0xffffe6f000000000` (the reporter's own is not known), with the
/// 32 TiB vmalloc area just below it (`arch/x86/mm/kaslr.c`
/// `kernel_randomize_memory()` places the regions in that order).
pub const OOPS_4917F55B4EF9: ReportedOops = ReportedOops {
    commit: "4917f55b4ef9",
    page_offset: None,
    vmemmap: 0xffff_e6f0_0000_0000,
    vmalloc: Some(0xffff_c6f0_0000_0000),
    struct_page: 64,
    device: 0x400_0000_0000,
    oops: 0xffff_e700_0000_0034,
};

/// 8d400913c231 ("x86/vmemmap: handle unpopulated sub-pmd ranges"):
/// `vmemmap_use_new_sub_pmd()`'s memset of the first `struct page` of a
/// new, partly used PMD block faulted at `ffffeb3ff1200000` (4-level slot
/// 470), before `sync_global_pgds()`. The register dump shows the default
/// direct map (no memory KASLR), an 80-byte `struct page` (a 128 MiB
/// section's memmap is 2.5 MiB, not a multiple of 2 MiB) and a memmap of
/// `ffffeb3ff1000000..ffffeb3ff1280000`: the first section of device memory
/// at `0x3ffd00000000`.
pub const OOPS_8D400913C231: ReportedOops = ReportedOops {
    commit: "8d400913c231",
    page_offset: Some(0xffff_8880_0000_0000),
    vmemmap: 0xffff_ea00_0000_0000,
    vmalloc: None,
    struct_page: 80,
    device: 0x3ffd_0000_0000,
    oops: 0xffff_eb3f_f120_0000,
};

impl SimLayout {
    /// The placement for a paging mode.
    pub fn new(arch: impl Arch) -> SimLayout {
        Self::with_struct_page(arch, STRUCT_PAGE_SIZE)
    }

    /// The machine of a reported oops ([`ReportedOops`]): its bases, its
    /// `struct page` size and its device memory.
    pub fn reported(arch: impl Arch, oops: &ReportedOops) -> SimLayout {
        let mut l = Self::with_struct_page(arch, oops.struct_page);
        if let Some(po) = oops.page_offset {
            // The report's default direct map: no memory KASLR, so the
            // vmalloc area sits at its default too.
            l.page_offset = po;
            if let Some(r) = arch.layout().get(RegionKind::Vmalloc) {
                l.vmalloc = (r.start, r.last.wrapping_add(1));
            }
        }
        l.vmemmap = oops.vmemmap;
        if let Some(base) = oops.vmalloc {
            l.vmalloc = (
                base,
                base.wrapping_add(l.vmalloc.1.wrapping_sub(l.vmalloc.0)),
            );
        }
        l.device = oops.device;
        l
    }

    /// The placement for a paging mode with `struct page`s of
    /// `struct_page` bytes.
    pub fn with_struct_page(arch: impl Arch, struct_page: u64) -> SimLayout {
        let layout = arch.layout();
        let top_slot = 1u64 << arch.level_shift(arch.top_level());
        let sync_slot = match arch.sync_method() {
            pgtable::arch::SyncMethod::CopyEntries(l) => arch.level_size(l),
            pgtable::arch::SyncMethod::None => top_slot,
        };
        let region = |k| {
            layout
                .get(k)
                .map_or((0, 0), |r| (r.start, r.last.wrapping_add(1)))
        };
        let (dm, _) = region(RegionKind::DirectMap);
        let (vmemmap, _) = region(RegionKind::Vmemmap);
        let has_vmemmap = layout.get(RegionKind::Vmemmap).is_some();
        let kasan = layout.get(RegionKind::KasanShadow);
        let vmalloc = region(RegionKind::Vmalloc);
        if arch.va_bits() <= 32 {
            // Lowmem: boot RAM is all there is, direct-mapped from
            // PAGE_OFFSET; tables at its top, and under HIGHPTE user PTE
            // tables from high memory above the direct map's reach.
            return SimLayout {
                page_offset: dm,
                vmemmap: 0,
                vmalloc,
                kasan_offset: 0,
                top_slot,
                sync_slot,
                boot_ram: BOOT_RAM_32,
                table_frames: (384 << 20, BOOT_RAM_32),
                high_tables: arch.highpte().then_some((1 << 30, (1 << 30) + (64 << 20))),
                data_frames: (16 << 20, 384 << 20),
                hotplug_base: None,
                has_vmemmap: false,
                has_kasan: false,
                struct_page,
                device: 0,
            };
        }
        // Where a top-level slot is larger than the hot-add offset, place
        // boot memory at the end of one so that hot-added memory needs the
        // next (KASLR may choose such bases); smaller slots need no help.
        let struct_pages = HOTPLUG_BASE / 4096 * struct_page;
        let shift_into = |base: u64, reach: u64| {
            if top_slot > reach {
                base + top_slot - reach
            } else {
                base
            }
        };
        let kasan_offset = match (arch.name().starts_with("x86_64"), kasan) {
            // CONFIG_KASAN_SHADOW_OFFSET, the same for 4- and 5-level paging.
            (true, _) => 0xdfff_fc00_0000_0000,
            // Generic KASAN: the shadow region is the shadow of the kernel
            // half, so its start gives the offset.
            (false, Some(r)) => r.start.wrapping_sub(arch.kernel_start() >> 3),
            (false, None) => 0,
        };
        let page_offset = shift_into(dm, HOTPLUG_BASE);
        // x86-64 memory KASLR moves vmalloc_base too, after the direct map
        // and before vmemmap (`kernel_randomize_memory()`): by the direct
        // map's shift here, which keeps the order and PUD alignment.
        let vmalloc = if arch.name().starts_with("x86_64") && vmalloc != (0, 0) {
            let delta = page_offset - dm;
            (vmalloc.0 + delta, vmalloc.1.wrapping_add(delta))
        } else {
            vmalloc
        };
        SimLayout {
            page_offset,
            vmemmap: shift_into(vmemmap, struct_pages),
            vmalloc,
            kasan_offset,
            top_slot,
            sync_slot,
            boot_ram: BOOT_RAM,
            table_frames: (TABLE_FRAMES.start, TABLE_FRAMES.end),
            high_tables: None,
            data_frames: (DATA_FRAMES.start, DATA_FRAMES.end),
            hotplug_base: Some(HOTPLUG_BASE),
            has_vmemmap,
            has_kasan: kasan.is_some(),
            struct_page,
            device: HOTPLUG_BASE,
        }
    }

    /// Direct-map address of a physical address (`__va()`).
    pub fn va(&self, pa: u64) -> u64 {
        self.page_offset + pa
    }

    /// Address of the `struct page` of a physical address (`pfn_to_page()`).
    pub fn page(&self, pa: u64) -> u64 {
        self.vmemmap + (pa >> 12) * self.struct_page
    }

    /// KASAN shadow of an address (`kasan_mem_to_shadow()`).
    pub fn shadow(&self, va: u64) -> u64 {
        (va >> 3).wrapping_add(self.kasan_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgtable::X86_64;
    use pgtable::{KernelPolicy, PagingGeometry};

    #[test]
    fn hot_added_memory_needs_new_slots_in_both_modes() {
        for arch in [X86_64::FOUR_LEVEL, X86_64::FIVE_LEVEL] {
            let l = SimLayout::new(arch);
            let slot = |va: u64| arch.index(pgtable::Level::Pgd, va);
            assert_eq!(slot(l.va(0)), slot(l.va(BOOT_RAM - 1)));
            assert_ne!(slot(l.va(BOOT_RAM - 1)), slot(l.va(HOTPLUG_BASE)));
            assert_eq!(slot(l.page(0)), slot(l.page(BOOT_RAM - 1)));
            assert_ne!(slot(l.page(BOOT_RAM - 1)), slot(l.page(HOTPLUG_BASE)));
            let dm = arch.layout().get(RegionKind::DirectMap).unwrap();
            assert!(dm.contains(l.va(0)) && dm.contains(l.va(HOTPLUG_BASE + (1 << 40))));
            let vm = arch.layout().get(RegionKind::Vmemmap).unwrap();
            assert!(vm.contains(l.page(0)) && vm.contains(l.page(HOTPLUG_BASE + (1 << 40))));
            assert!(
                l.page_offset.is_multiple_of(1 << 30) && l.vmemmap.is_multiple_of(1 << 30),
                "PUD-aligned as KASLR does"
            );
            let ks = arch.layout().get(RegionKind::KasanShadow).unwrap();
            assert!(ks.contains(l.shadow(l.va(0))), "{:#x}", l.shadow(l.va(0)));
            // vmalloc moved with the direct map, in KASLR's order and
            // alignment, by the same amount.
            let vm = arch.layout().get(RegionKind::Vmalloc).unwrap();
            assert_eq!(l.vmalloc.0 - vm.start, l.page_offset - dm.start);
            assert!(l.page_offset < l.vmalloc.0 && l.vmalloc.1 <= l.vmemmap);
            assert!(l.vmalloc.0.is_multiple_of(1 << 30));
        }
    }
}
