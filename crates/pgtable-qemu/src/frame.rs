//! Physical 4 KiB frame allocator over the RAM above the kernel image.
//!
//! Frames come from the boot memory map clipped to
//! `[kernel image end, DIRECT_MAP_END)`, i.e. RAM the boot tables
//! identity-map, so a frame's physical address is also a usable pointer
//! (`phys_to_virt`). Allocation pops a free list (frames given back with
//! `free_frame`, LIFO) and otherwise bumps through the ranges.

use crate::memmap::{BootInfo, MemRange, MAX_RANGES};
use crate::sync::SpinLock;

pub const PAGE_SIZE: u64 = 4096;
/// The boot tables identity-map virtual `[0, DIRECT_MAP_END)` to the same
/// physical addresses (2 MiB pages, RW, supervisor, executable).
pub const DIRECT_MAP_END: u64 = 4 << 30;
/// Virtual address of physical address 0 in the boot tables.
pub const DIRECT_MAP_OFFSET: u64 = 0;

/// Pointer to physical address `pa` through the boot identity map.
pub fn phys_to_virt(pa: u64) -> *mut u8 {
    debug_assert!(pa < DIRECT_MAP_END);
    (pa + DIRECT_MAP_OFFSET) as *mut u8
}

struct FrameAllocator {
    ranges: [MemRange; MAX_RANGES],
    nr: usize,
    cur: usize,
    next: u64,
    free_head: u64, // physical address of the first free frame, 0 = none
    free_count: u64,
    in_use: u64,
    total: u64,
}

static FRAMES: SpinLock<FrameAllocator> = SpinLock::new(FrameAllocator {
    ranges: [MemRange {
        start: 0,
        end: 0,
        kind: 0,
    }; MAX_RANGES],
    nr: 0,
    cur: 0,
    next: 0,
    free_head: 0,
    free_count: 0,
    in_use: 0,
    total: 0,
});

/// Hand the usable RAM above `kernel_end` to the allocator. Call once.
pub fn init(info: &BootInfo, kernel_end: u64) {
    let mut fa = FRAMES.lock();
    for r in info.usable(kernel_end, DIRECT_MAP_END) {
        if fa.nr == MAX_RANGES {
            break;
        }
        let n = fa.nr;
        fa.ranges[n] = r;
        fa.nr += 1;
        fa.total += r.len() / PAGE_SIZE;
    }
    fa.cur = 0;
    fa.next = fa.ranges[0].start;
}

impl FrameAllocator {
    fn bump(&mut self, pages: u64) -> Option<u64> {
        while self.cur < self.nr {
            let r = self.ranges[self.cur];
            let start = self.next.max(r.start);
            if start + pages * PAGE_SIZE <= r.end {
                self.next = start + pages * PAGE_SIZE;
                return Some(start);
            }
            self.cur += 1;
            if self.cur < self.nr {
                self.next = self.ranges[self.cur].start;
            }
        }
        None
    }
}

/// One frame (contents undefined), or `None` when RAM is exhausted.
pub fn alloc_frame() -> Option<u64> {
    let mut fa = FRAMES.lock();
    let pa = if fa.free_head != 0 {
        let pa = fa.free_head;
        // SAFETY: frames on the free list are identity-mapped RAM owned by
        // the allocator; their first word holds the next free frame.
        fa.free_head = unsafe { *(phys_to_virt(pa) as *const u64) };
        fa.free_count -= 1;
        pa
    } else {
        fa.bump(1)?
    };
    fa.in_use += 1;
    Some(pa)
}

/// One zero-filled frame.
pub fn alloc_zeroed_frame() -> Option<u64> {
    let pa = alloc_frame()?;
    // SAFETY: the frame was just allocated to us and is identity-mapped.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa), 0, PAGE_SIZE as usize) };
    Some(pa)
}

/// `pages` physically contiguous frames (never from the free list).
pub fn alloc_contiguous(pages: u64) -> Option<u64> {
    let mut fa = FRAMES.lock();
    let pa = fa.bump(pages)?;
    fa.in_use += pages;
    Some(pa)
}

/// Give a frame back.
///
/// # Safety
/// `pa` must come from `alloc_frame`/`alloc_zeroed_frame`, not be freed
/// already, and nothing (no page table, no pointer) may use it any more.
pub unsafe fn free_frame(pa: u64) {
    assert!(
        pa.is_multiple_of(PAGE_SIZE) && pa != 0,
        "free_frame({pa:#x})"
    );
    let mut fa = FRAMES.lock();
    // SAFETY: the caller gives up the frame, so we may store the list link
    // in it; it is identity-mapped RAM.
    unsafe { *(phys_to_virt(pa) as *mut u64) = fa.free_head };
    fa.free_head = pa;
    fa.free_count += 1;
    fa.in_use -= 1;
}

/// Allocator statistics.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    /// Frames the allocator manages in total.
    pub total: u64,
    /// Frames currently handed out.
    pub in_use: u64,
    /// Frames on the free list.
    pub free_listed: u64,
}

pub fn stats() -> Stats {
    let fa = FRAMES.lock();
    Stats {
        total: fa.total,
        in_use: fa.in_use,
        free_listed: fa.free_count,
    }
}

/// The RAM ranges the allocator manages.
pub fn ranges() -> ([MemRange; MAX_RANGES], usize) {
    let fa = FRAMES.lock();
    (fa.ranges, fa.nr)
}
