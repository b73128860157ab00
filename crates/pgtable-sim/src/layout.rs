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
    pub page_offset: u64,
    /// `vmemmap_base` (0 where the mode has no vmemmap).
    pub vmemmap: u64,
    /// vmalloc area start and end (exclusive).
    pub vmalloc: (u64, u64),
    /// `KASAN_SHADOW_OFFSET`.
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
    pub table_frames: (u64, u64),
    /// Where user PTE tables come from under HIGHPTE: high memory, outside
    /// the direct map.
    pub high_tables: Option<(u64, u64)>,
    /// Where data frames come from.
    pub data_frames: (u64, u64),
    /// Where hot-added memory goes, if the mode has memory hotplug of the
    /// direct map (64-bit modes).
    pub hotplug_base: Option<u64>,
    /// Whether the mode has a virtually mapped `struct page` array.
    pub has_vmemmap: bool,
    /// Whether the mode has a KASAN shadow region in the kernel half.
    pub has_kasan: bool,
}

impl SimLayout {
    /// The placement for a paging mode.
    pub fn new(arch: impl Arch) -> SimLayout {
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
            };
        }
        // Where a top-level slot is larger than the hot-add offset, place
        // boot memory at the end of one so that hot-added memory needs the
        // next (KASLR may choose such bases); smaller slots need no help.
        let struct_pages = HOTPLUG_BASE / 4096 * STRUCT_PAGE_SIZE;
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
        SimLayout {
            page_offset: shift_into(dm, HOTPLUG_BASE),
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
        }
    }

    /// Direct-map address of a physical address (`__va()`).
    pub fn va(&self, pa: u64) -> u64 {
        self.page_offset + pa
    }

    /// Address of the `struct page` of a physical address (`pfn_to_page()`).
    pub fn page(&self, pa: u64) -> u64 {
        self.vmemmap + (pa >> 12) * STRUCT_PAGE_SIZE
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
        }
    }
}
