//! The peer: the `x86_64` crate's `OffsetPageTable` over a host buffer posing
//! as physical memory, with a bump frame allocator over the same region. The
//! other peers ([`crate::peer_arm64`], [`crate::peer_multiarch`]) take their
//! table frames from a [`HostRegion`] the same way, and are driven through
//! [`PeerTables`].

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size2MiB,
    Size4KiB,
};
use x86_64::{PhysAddr, VirtAddr};

/// A zeroed, page-aligned host buffer seen as physical memory from `phys_base`.
pub struct HostRegion {
    base: NonNull<u8>,
    layout: Layout,
    phys_base: u64,
}

impl HostRegion {
    /// A region of `len` bytes (a multiple of 4096) at physical `phys_base`.
    pub fn new(phys_base: u64, len: u64) -> HostRegion {
        let layout = Layout::from_size_align(len as usize, 4096).expect("region layout");
        // SAFETY: the layout has a non-zero size (callers pass whole pages).
        let ptr = unsafe { alloc_zeroed(layout) };
        let base = NonNull::new(ptr).expect("host memory for the peer's region");
        let r = HostRegion {
            base,
            layout,
            phys_base,
        };
        r.words().fill(0); // fault every page in before anything is timed
        r
    }

    /// The region as 8-byte words (for the plain write loop).
    #[allow(clippy::mut_from_ref)]
    pub fn words(&self) -> &mut [u64] {
        // SAFETY: the buffer is `layout.size()` bytes, 4096-aligned, zeroed
        // and owned by `self`; the benchmark uses one view of it at a time.
        unsafe {
            std::slice::from_raw_parts_mut(self.base.as_ptr().cast::<u64>(), self.layout.size() / 8)
        }
    }

    /// Physical address of the region's first byte.
    pub fn phys_base(&self) -> u64 {
        self.phys_base
    }

    /// Physical address one past the region's last byte.
    pub fn phys_end(&self) -> u64 {
        self.phys_base + self.layout.size() as u64
    }

    /// The host address of physical `pa`, which must lie in the region
    /// (a peer dereferencing it only ever asks for frames it was given).
    pub fn host(&self, pa: u64) -> NonNull<u8> {
        assert!(
            (self.phys_base..self.phys_end()).contains(&pa),
            "physical {pa:#x} outside the peer's region"
        );
        let p = self
            .base
            .as_ptr()
            .wrapping_add((pa - self.phys_base) as usize);
        NonNull::new(p).expect("inside the region, so not null")
    }

    /// The physical address of host pointer `p` into the region.
    pub fn phys_of(&self, p: *const u8) -> u64 {
        self.phys_base + (p as u64).wrapping_sub(self.base.as_ptr() as u64)
    }

    /// The `physical_memory_offset` of the `x86_64` crate: host address of
    /// physical 0.
    fn offset(&self) -> VirtAddr {
        VirtAddr::new((self.base.as_ptr() as u64).wrapping_sub(self.phys_base))
    }
}

impl Drop for HostRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { dealloc(self.base.as_ptr(), self.layout) };
    }
}

/// Bump allocator over the region's frames after the root.
struct Bump {
    next: u64,
    end: u64,
}

// SAFETY: every frame handed out lies inside the region, is 4 KiB aligned and
// is handed out once per `Peer::reset` (the peer's tables are rebuilt from
// an empty root after a reset, so no frame is in use twice).
unsafe impl FrameAllocator<Size4KiB> for Bump {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        if self.next >= self.end {
            return None;
        }
        let f = PhysFrame::containing_address(PhysAddr::new(self.next));
        self.next += 4096;
        Some(f)
    }
}

/// The `x86_64` crate's page tables, one root in the region's first frame.
pub struct Peer<'r> {
    region: &'r HostRegion,
    alloc: Bump,
}

/// Leaf flags equal to `Prot::KERNEL` (read/write, global, no execute).
pub const FLAGS: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::GLOBAL)
    .union(PageTableFlags::NO_EXECUTE);

impl<'r> Peer<'r> {
    /// Empty tables in `region`.
    pub fn new(region: &'r HostRegion) -> Peer<'r> {
        let mut p = Peer {
            region,
            alloc: Bump { next: 0, end: 0 },
        };
        p.reset();
        p
    }

    /// Start again from an empty root; every table frame is free again.
    pub fn reset(&mut self) {
        self.region.words()[..512].fill(0);
        self.alloc = Bump {
            next: self.region.phys_base + 4096,
            end: self.region.phys_base + self.region.layout.size() as u64,
        };
    }

    fn with_table<R>(&mut self, f: impl FnOnce(&mut OffsetPageTable<'_>, &mut Bump) -> R) -> R {
        // SAFETY: the root is the region's first frame, page-aligned and
        // owned by this peer; `offset()` maps every physical address of the
        // region onto the host buffer, which is all the crate dereferences
        // (every table frame comes from `Bump` over the same region).
        let root = unsafe { &mut *self.region.base.as_ptr().cast::<PageTable>() };
        // SAFETY: as above: the complete region is mapped at `offset()`.
        let mut opt = unsafe { OffsetPageTable::new(root, self.region.offset()) };
        f(&mut opt, &mut self.alloc)
    }

    /// Map `n` 4 KiB pages from `va` to `pa..` one by one with `map_to`.
    pub fn map_4k(&mut self, va: u64, pa: u64, n: u64) {
        self.with_table(|t, a| {
            for i in 0..n {
                let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va + i * 4096));
                let frame = PhysFrame::containing_address(PhysAddr::new(pa + i * 4096));
                // SAFETY: the frames are fake physical addresses outside the
                // region, never dereferenced; the page tables are not loaded
                // in any CPU, so no live mapping changes.
                unsafe { t.map_to(page, frame, FLAGS, a) }
                    .expect("peer map_to")
                    .ignore();
            }
        });
    }

    /// Map `n` 2 MiB pages from `va` to `pa..` with `map_to`.
    pub fn map_2m(&mut self, va: u64, pa: u64, n: u64) {
        self.with_table(|t, a| {
            for i in 0..n {
                let page = Page::<Size2MiB>::containing_address(VirtAddr::new(va + (i << 21)));
                let frame = PhysFrame::containing_address(PhysAddr::new(pa + (i << 21)));
                // SAFETY: as in `map_4k`.
                unsafe { t.map_to(page, frame, FLAGS, a) }
                    .expect("peer map_to")
                    .ignore();
            }
        });
    }

    /// Unmap `n` 4 KiB pages from `va` with `unmap`.
    pub fn unmap_4k(&mut self, va: u64, n: u64) {
        self.with_table(|t, _| {
            for i in 0..n {
                let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va + i * 4096));
                t.unmap(page).expect("peer unmap").1.ignore();
            }
        });
    }

    /// Unmap `n` 2 MiB pages from `va` with `unmap`.
    pub fn unmap_2m(&mut self, va: u64, n: u64) {
        self.with_table(|t, _| {
            for i in 0..n {
                let page = Page::<Size2MiB>::containing_address(VirtAddr::new(va + (i << 21)));
                Mapper::<Size2MiB>::unmap(t, page)
                    .expect("peer unmap")
                    .1
                    .ignore();
            }
        });
    }
}

/// A peer's page tables, as the comparison drives them.
pub trait PeerTables {
    /// The peer, for the figure names.
    const NAME: &'static str;
    /// What the ratio divides by what.
    const RATIO_OF: &'static str;
    /// The peer's map call, for the figure names.
    const MAP: &'static str;
    /// The peer's unmap call, for the figure names.
    const UNMAP: &'static str;
    /// Whether the peer's unmap clears every entry of the range, as ours
    /// does and Linux's `vunmap_pte_range()` does, one
    /// `ptep_get_and_clear()` per PTE. A peer that drops whole tables
    /// instead, their entries left in place, does other work: its unmap
    /// figures are shown for information, without a target.
    const UNMAP_CLEARS_ENTRIES: bool = true;
    /// Start again from an empty root.
    fn reset(&mut self);
    /// Map `va..va+bytes` to `pa..`: 4 KiB pages, or 2 MiB leaves if `huge`.
    fn map(&mut self, va: u64, pa: u64, bytes: u64, huge: bool);
    /// Unmap `va..va+bytes`.
    fn unmap(&mut self, va: u64, bytes: u64);
    /// The leaf mapping `va`: the physical address `va` translates to and
    /// the leaf's size (the tests check that each side does the work it is
    /// timed on).
    #[cfg(test)]
    fn leaf(&self, va: u64) -> Option<(u64, u64)>;
}
