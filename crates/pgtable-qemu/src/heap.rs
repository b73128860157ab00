//! Kernel heap for `alloc`: a `linked_list_allocator` heap over physically
//! contiguous frames taken from the frame allocator at boot.

use crate::frame::{self, phys_to_virt, PAGE_SIZE};
use linked_list_allocator::LockedHeap;

/// Heap size wanted; shrunk to half the free frames on a small machine.
pub const HEAP_SIZE: u64 = 64 << 20;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Reserve the heap and hand it to the global allocator. Call once, after
/// `frame::init`. Returns `(physical start, size)`.
pub fn init() -> Option<(u64, u64)> {
    let avail = frame::stats().total;
    let pages = (HEAP_SIZE / PAGE_SIZE).min(avail / 2);
    let pa = frame::alloc_contiguous(pages)?;
    let size = pages * PAGE_SIZE;
    // SAFETY: `[pa, pa + size)` is identity-mapped RAM just taken from the
    // frame allocator for good, so the heap owns it exclusively; `init` is
    // called once.
    unsafe { HEAP.lock().init(phys_to_virt(pa), size as usize) };
    Some((pa, size))
}

/// Bytes used / free in the heap.
pub fn usage() -> (usize, usize) {
    let h = HEAP.lock();
    (h.used(), h.free())
}
