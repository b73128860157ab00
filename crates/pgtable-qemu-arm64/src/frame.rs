//! Physical memory: RAM of QEMU `virt` at 1 GiB, reached at `KBASE + pa`.
//!
//! A bump allocator hands out RAM above the kernel image; nothing is ever
//! freed (scenario machines leak their blocks, a few MiB each).

use core::sync::atomic::{AtomicU64, Ordering};

/// Virtual base of the kernel's view of physical memory: `KBASE + pa`
/// (the boot tables and every kernel root map RAM there).
pub const KBASE: u64 = 0xffff_ff80_0000_0000;

pub const PAGE_SIZE: u64 = 4096;
/// Start of RAM on `virt`.
pub const RAM_START: u64 = 0x4000_0000;
/// RAM size: xtask runs QEMU with `-m 512M`.
pub const RAM_SIZE: u64 = 512 << 20;
pub const RAM_END: u64 = RAM_START + RAM_SIZE;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The kernel's virtual address of physical `pa`.
pub const fn kva(pa: u64) -> u64 {
    KBASE + pa
}

pub fn is_ram(pa: u64) -> bool {
    (RAM_START..RAM_END).contains(&pa)
}

/// Start handing out RAM at `first` (physical, page aligned).
pub fn init(first: u64) {
    NEXT.store(first, Ordering::SeqCst);
}

/// `pages` contiguous frames aligned to `align` bytes (a power of two, at
/// least a page), or `None` when RAM is exhausted. Not zeroed.
pub fn alloc_aligned(pages: u64, align: u64) -> Option<u64> {
    let mut cur = NEXT.load(Ordering::SeqCst);
    loop {
        let start = cur.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(pages * PAGE_SIZE)?;
        if end > RAM_END {
            return None;
        }
        match NEXT.compare_exchange(cur, end, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Some(start),
            Err(now) => cur = now,
        }
    }
}

/// `pages` contiguous zeroed frames, page aligned.
pub fn alloc_zeroed(pages: u64) -> Option<u64> {
    let pa = alloc_aligned(pages, PAGE_SIZE)?;
    // SAFETY: the range was just taken from the allocator for good, lies in
    // RAM, which every kernel root maps read-write at KBASE + pa.
    unsafe { core::ptr::write_bytes(kva(pa) as *mut u8, 0, (pages * PAGE_SIZE) as usize) };
    Some(pa)
}

/// Bytes of RAM left.
pub fn free_bytes() -> u64 {
    RAM_END - NEXT.load(Ordering::SeqCst)
}
