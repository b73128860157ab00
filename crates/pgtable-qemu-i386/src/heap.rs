//! The kernel heap: a linked-list allocator over a block of RAM.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Heap size.
pub const HEAP_SIZE: u64 = 16 << 20;

/// Give the heap `HEAP_SIZE` bytes of RAM from the frame allocator.
pub fn init() -> Result<(), &'static str> {
    let pa = crate::frame::alloc_aligned(HEAP_SIZE / crate::frame::PAGE_SIZE, 1 << 21)
        .ok_or("no RAM for the heap")?;
    // SAFETY: the block was just taken from the frame allocator for good and
    // is mapped read-write at kva(pa) in every kernel root; init runs once.
    unsafe {
        HEAP.lock().init(
            crate::frame::kva(pa) as usize as *mut u8,
            HEAP_SIZE as usize,
        )
    };
    Ok(())
}

/// Bytes in use.
pub fn used() -> usize {
    HEAP.lock().used()
}
