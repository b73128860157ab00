//! The ArceOS peer: `page_table_multiarch`'s `PageTable64` over a host
//! buffer posing as physical memory, table frames taken from a
//! [`HostRegion`] as the `x86_64` peer takes them.
//!
//! On this x86-64 host the crate compiles only its x86-64 entry type:
//! `page_table_entry`'s `aarch64` and `riscv` modules, and the crate's own
//! `A64PagingMetaData`/`Sv39MetaData`/`Sv48MetaData`, are behind
//! `cfg(target_arch = …)`. Its x86-64 table is measured as shipped
//! ([`X64PagingMetaData`]); the arm64, Sv39 and Sv48 tables are its generic
//! `PageTable64` with their level count and VA width ([`Arm64Shape`],
//! [`Sv39Shape`], [`Sv48Shape`]) and the entry type it compiles here,
//! `X64PTE`. The walk, the allocation and the per-page loop are the crate's
//! code; only the bit layout of an entry differs from the real one.

use crate::peer::{HostRegion, PeerTables};
use memory_addr::{PhysAddr, VirtAddr};
use page_table_entry::x86_64::X64PTE;
use page_table_multiarch::x86_64::X64PagingMetaData;
use page_table_multiarch::{MappingFlags, PageTable64, PagingHandler, PagingMetaData};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

/// The crate asks for frames through associated functions, without a
/// receiver: the region they come from is global. One peer at a time holds
/// it (tests run in parallel threads).
static REGION_IN_USE: Mutex<()> = Mutex::new(());
/// Physical address of the region's first byte.
static PHYS_BASE: AtomicU64 = AtomicU64::new(0);
/// Host address of the region's first byte.
static HOST_BASE: AtomicUsize = AtomicUsize::new(0);
/// Next free frame, and the end of the region.
static NEXT: AtomicU64 = AtomicU64::new(0);
static END: AtomicU64 = AtomicU64::new(0);

/// The crate's `PagingHandler`: a bump over the region, as [`crate::peer`]'s
/// `Bump`; frames come back all at once when the peer is reset.
pub struct HostFrames;

impl PagingHandler for HostFrames {
    fn alloc_frames(num: usize, align: usize) -> Option<PhysAddr> {
        let align = align.max(4096) as u64;
        let pa = NEXT.load(Relaxed).next_multiple_of(align);
        let end = pa.checked_add(num as u64 * 4096)?;
        if end > END.load(Relaxed) {
            return None;
        }
        NEXT.store(end, Relaxed);
        Some(PhysAddr::from(pa as usize))
    }

    fn dealloc_frames(_paddr: PhysAddr, _num: usize) {}

    fn phys_to_virt(paddr: PhysAddr) -> VirtAddr {
        let off = paddr.as_usize() - PHYS_BASE.load(Relaxed) as usize;
        VirtAddr::from(HOST_BASE.load(Relaxed) + off)
    }
}

/// arm64, 48-bit VA, 4 KiB granule: four levels (the crate's
/// `A64PagingMetaData` constants).
pub struct Arm64Shape;
/// RISC-V Sv39: three levels, 39-bit VA (`Sv39MetaData`'s constants).
pub struct Sv39Shape;
/// RISC-V Sv48: four levels, 48-bit VA (`Sv48MetaData`'s constants).
pub struct Sv48Shape;

macro_rules! shape {
    ($t:ty, $levels:expr, $pa:expr, $va:expr) => {
        impl PagingMetaData for $t {
            const LEVELS: usize = $levels;
            const PA_MAX_BITS: usize = $pa;
            const VA_MAX_BITS: usize = $va;
            type VirtAddr = VirtAddr;
            // Never called on a hosted target: the crate flushes only under
            // `target_os = "none"`, and these tables are never loaded.
            fn flush_tlb(_vaddr: Option<VirtAddr>) {}
        }
    };
}
shape!(Arm64Shape, 4, 48, 48);
shape!(Sv39Shape, 3, 56, 39);
shape!(Sv48Shape, 4, 56, 48);

/// Which of the crate's tables a figure measures, for its name.
pub trait Shape: PagingMetaData<VirtAddr = VirtAddr> {
    /// The figure's name for the peer.
    const NAME: &'static str;
}
impl Shape for X64PagingMetaData {
    const NAME: &'static str = "page_table_multiarch X64PageTable";
}
impl Shape for Arm64Shape {
    const NAME: &'static str = "page_table_multiarch PageTable64 (arm64 shape)";
}
impl Shape for Sv39Shape {
    const NAME: &'static str = "page_table_multiarch PageTable64 (Sv39 shape)";
}
impl Shape for Sv48Shape {
    const NAME: &'static str = "page_table_multiarch PageTable64 (Sv48 shape)";
}

/// Read/write kernel data, as `Prot::KERNEL`.
const FLAGS: MappingFlags = MappingFlags::READ.union(MappingFlags::WRITE);

/// The crate's tables of shape `M`, rebuilt from an empty root by `reset`.
pub struct MultiPeer<'r, M: Shape> {
    region: &'r HostRegion,
    table: Option<PageTable64<M, X64PTE, HostFrames>>,
    _owner: MutexGuard<'static, ()>,
    _shape: PhantomData<M>,
}

impl<'r, M: Shape> MultiPeer<'r, M> {
    /// Empty tables in `region`.
    pub fn new(region: &'r HostRegion) -> MultiPeer<'r, M> {
        let owner = REGION_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
        PHYS_BASE.store(region.phys_base(), Relaxed);
        HOST_BASE.store(region.host(region.phys_base()).as_ptr() as usize, Relaxed);
        let mut p = MultiPeer {
            region,
            table: None,
            _owner: owner,
            _shape: PhantomData,
        };
        p.reset();
        p
    }

    fn table(&mut self) -> &mut PageTable64<M, X64PTE, HostFrames> {
        self.table.as_mut().expect("reset builds the table")
    }
}

impl<M: Shape> PeerTables for MultiPeer<'_, M> {
    const NAME: &'static str = M::NAME;
    const RATIO_OF: &'static str = "page_table_multiarch ÷ ours";
    const MAP: &'static str = "map_region";
    const UNMAP: &'static str = "unmap_region";

    fn reset(&mut self) {
        // Dropping the old table walks it (its frames are still there),
        // then every frame is free again.
        self.table = None;
        NEXT.store(self.region.phys_base(), Relaxed);
        END.store(self.region.phys_end(), Relaxed);
        self.table = Some(PageTable64::try_new().expect("page_table_multiarch root"));
    }

    fn map(&mut self, va: u64, pa: u64, bytes: u64, huge: bool) {
        let start = va as usize;
        self.table()
            .cursor()
            .map_region(
                VirtAddr::from(start),
                |v| PhysAddr::from(pa as usize + (v.as_usize() - start)),
                bytes as usize,
                FLAGS,
                huge,
            )
            .expect("page_table_multiarch map_region");
    }

    fn unmap(&mut self, va: u64, bytes: u64) {
        self.table()
            .cursor()
            .unmap_region(VirtAddr::from(va as usize), bytes as usize)
            .expect("page_table_multiarch unmap_region");
    }

    #[cfg(test)]
    fn leaf(&self, va: u64) -> Option<(u64, u64)> {
        let t = self.table.as_ref()?;
        let (pa, _, size) = t.query(VirtAddr::from(va as usize)).ok()?;
        Some((pa.as_usize() as u64, size as u64))
    }
}
