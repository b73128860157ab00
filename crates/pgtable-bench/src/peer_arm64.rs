//! The arm64 peer: the `aarch64-paging` crate's `Mapping` (EL1&0 stage 1,
//! the upper VA range of TTBR1, root at level 0: 48-bit VA, 4 KiB granule)
//! over a host buffer posing as physical memory, a linear map like its own
//! `LinearTranslation`, with table frames taken from a [`HostRegion`] as the
//! `x86_64` peer takes them.

use crate::peer::{HostRegion, PeerTables};
use aarch64_paging::descriptor::{El1Attributes, PhysicalAddress};
use aarch64_paging::paging::{Constraints, El1And0, MemoryRegion, PageTable, Translation, VaRange};
use aarch64_paging::Mapping;
use std::ptr::NonNull;

/// Table frames for the crate: a free list (the crate frees the subtables
/// of a range it unmaps whole), then a bump over the rest of the region.
pub struct HostTranslation<'r> {
    region: &'r HostRegion,
    next: u64,
    free: Vec<u64>,
}

impl Translation<El1Attributes> for HostTranslation<'_> {
    fn allocate_table(&mut self) -> (NonNull<PageTable<El1Attributes>>, PhysicalAddress) {
        let pa = self.free.pop().unwrap_or_else(|| {
            let pa = self.next;
            assert!(
                pa < self.region.phys_end(),
                "the arm64 peer's region is full"
            );
            self.next += 4096;
            pa
        });
        // The crate requires a zeroed page, as the `x86_64` crate zeroes its
        // own: the frame is free (never handed out since the last `reset`,
        // or given back through `deallocate_table`).
        let first = ((pa - self.region.phys_base()) / 8) as usize;
        self.region.words()[first..first + 512].fill(0);
        (self.region.host(pa).cast(), PhysicalAddress(pa as usize))
    }

    unsafe fn deallocate_table(&mut self, page_table: NonNull<PageTable<El1Attributes>>) {
        self.free
            .push(self.region.phys_of(page_table.as_ptr().cast::<u8>()));
    }

    fn physical_to_virtual(&self, pa: PhysicalAddress) -> NonNull<PageTable<El1Attributes>> {
        self.region.host(pa.0 as u64).cast()
    }
}

/// Leaf attributes of a normal kernel read/write mapping, as ours encodes
/// `Prot::KERNEL` on arm64 (`MT_NORMAL`: MAIR index 0, inner shareable,
/// accessed, never executable).
const FLAGS: El1Attributes = El1Attributes::VALID
    .union(El1Attributes::ATTRIBUTE_INDEX_0)
    .union(El1Attributes::INNER_SHAREABLE)
    .union(El1Attributes::ACCESSED)
    .union(El1Attributes::PXN)
    .union(El1Attributes::UXN);

/// `aarch64-paging`'s tables, rebuilt from an empty root by `reset`.
pub struct Arm64Peer<'r> {
    region: &'r HostRegion,
    mapping: Option<Mapping<HostTranslation<'r>, El1And0>>,
}

impl<'r> Arm64Peer<'r> {
    /// Empty tables in `region`.
    pub fn new(region: &'r HostRegion) -> Arm64Peer<'r> {
        let mut p = Arm64Peer {
            region,
            mapping: None,
        };
        p.reset();
        p
    }

    /// The table frames the crate has given back since the last reset.
    #[cfg(test)]
    pub fn freed_tables(&self) -> Vec<u64> {
        self.mapping
            .as_ref()
            .map_or(Vec::new(), |m| m.translation().free.clone())
    }

    fn mapping(&mut self) -> &mut Mapping<HostTranslation<'r>, El1And0> {
        self.mapping.as_mut().expect("reset builds the mapping")
    }
}

impl PeerTables for Arm64Peer<'_> {
    const NAME: &'static str = "aarch64-paging";
    const RATIO_OF: &'static str = "aarch64-paging ÷ ours";
    const MAP: &'static str = "map_range";
    const UNMAP: &'static str = "map_range(invalid)";
    // A range covering whole 2 MiB (or 1 GiB) chunks loses its tables in
    // one entry write each (`aarch64_paging_unmap_frees_tables_whole`).
    const UNMAP_CLEARS_ENTRIES: bool = false;

    fn reset(&mut self) {
        // The old tables go first (the crate frees them into the old
        // translation), then every frame is free again.
        self.mapping = None;
        let t = HostTranslation {
            region: self.region,
            next: self.region.phys_base(),
            free: Vec::with_capacity(1024),
        };
        self.mapping = Some(Mapping::with_asid_and_va_range(
            t,
            0,
            0,
            El1And0,
            VaRange::Upper,
        ));
    }

    fn map(&mut self, va: u64, pa: u64, bytes: u64, huge: bool) {
        let range = MemoryRegion::new(va as usize, (va + bytes) as usize);
        let c = if huge {
            Constraints::empty()
        } else {
            Constraints::NO_BLOCK_MAPPINGS
        };
        self.mapping()
            .map_range(&range, PhysicalAddress(pa as usize), FLAGS, c)
            .expect("aarch64-paging map_range");
    }

    fn unmap(&mut self, va: u64, bytes: u64) {
        // The crate's unmap: the same call with attributes lacking VALID.
        let range = MemoryRegion::new(va as usize, (va + bytes) as usize);
        self.mapping()
            .map_range(
                &range,
                PhysicalAddress(0),
                El1Attributes::empty(),
                Constraints::empty(),
            )
            .expect("aarch64-paging unmap");
    }

    #[cfg(test)]
    fn leaf(&self, va: u64) -> Option<(u64, u64)> {
        let m = self.mapping.as_ref()?;
        let mut leaf = None;
        let range = MemoryRegion::new(va as usize, va as usize + 1);
        m.walk_range(&range, &mut |_, d, level| {
            if d.is_valid() && (level == 3 || !d.is_table_or_page()) {
                // Levels 1, 2 and 3 map 1 GiB, 2 MiB and 4 KiB.
                let size = 1u64 << (12 + 9 * (3 - level as u32));
                leaf = Some((d.output_address().0 as u64 + va % size, size));
            }
            Ok(())
        })
        .ok()?;
        leaf
    }
}
