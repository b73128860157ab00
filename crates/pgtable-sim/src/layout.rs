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

/// The kernel's virtual layout on the simulated machine.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SimLayout {
    /// `page_offset_base`.
    pub page_offset: u64,
    /// `vmemmap_base`.
    pub vmemmap: u64,
    /// vmalloc area start and end (exclusive).
    pub vmalloc: (u64, u64),
    /// `KASAN_SHADOW_OFFSET`.
    pub kasan_offset: u64,
    /// Bytes one top-level entry maps.
    pub top_slot: u64,
}

impl SimLayout {
    /// The placement for a paging mode.
    pub fn new(arch: impl Arch) -> SimLayout {
        let layout = arch.layout();
        let top_slot = 1u64 << arch.level_shift(arch.top_level());
        let region = |k| {
            layout
                .get(k)
                .map_or((0, 0), |r| (r.start, r.last.wrapping_add(1)))
        };
        let (dm, _) = region(RegionKind::DirectMap);
        let (vmemmap, _) = region(RegionKind::Vmemmap);
        SimLayout {
            // Boot RAM's direct map ends 48 GiB before the end of its slot:
            // memory from HOTPLUG_BASE (64 GiB) on lies in the next slot.
            page_offset: dm + top_slot - HOTPLUG_BASE,
            // Boot RAM's struct pages end in the last GiB of a slot; those of
            // memory from 64 GiB on lie in the next one.
            vmemmap: vmemmap + top_slot - (HOTPLUG_BASE / 4096 * STRUCT_PAGE_SIZE),
            vmalloc: region(RegionKind::Vmalloc),
            // CONFIG_KASAN_SHADOW_OFFSET, the same for 4- and 5-level paging.
            kasan_offset: 0xdfff_fc00_0000_0000,
            top_slot,
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
