//! Physical memory of QEMU's pc machine: RAM from 0 (minus the legacy hole
//! at 640 KiB..1 MiB) to `ram_end()`, as the multiboot information says.
//!
//! Low memory, `[0, LOWMEM_END)`, is mapped at `KBASE + pa` by every
//! kernel root (the direct map); a bump allocator hands it out above the
//! kernel image. High memory, `[LOWMEM_END, ram_end())`, has no permanent
//! mapping (Linux's `ZONE_HIGHMEM`); the HIGHPTE image hands out its first
//! `HIGH_WINDOW` bytes for user PTE tables and reaches them through a
//! window in the pkmap area (machine.rs). Nothing is ever freed.

use crate::boot::{KBASE, LOWMEM_END};
use core::sync::atomic::{AtomicU64, Ordering};

pub const PAGE_SIZE: u64 = 4096;
/// Legacy VGA/BIOS hole: not RAM.
const HOLE: core::ops::Range<u64> = 0xa_0000..0x10_0000;
/// High memory the HIGHPTE image uses for page tables (the pkmap window).
pub const HIGH_WINDOW: u64 = 2 << 20;

static NEXT: AtomicU64 = AtomicU64::new(0);
static NEXT_HIGH: AtomicU64 = AtomicU64::new(LOWMEM_END);
static RAM_END: AtomicU64 = AtomicU64::new(0);

/// The kernel's virtual address of low-memory `pa`.
pub const fn kva(pa: u64) -> u64 {
    KBASE + pa
}

/// End of RAM.
pub fn ram_end() -> u64 {
    RAM_END.load(Ordering::SeqCst)
}

/// RAM (not the legacy hole, not device memory).
pub fn is_ram(pa: u64) -> bool {
    pa < ram_end() && !HOLE.contains(&pa)
}

/// Low memory the kernel reaches at `kva(pa)`.
pub fn is_lowmem(pa: u64) -> bool {
    pa < LOWMEM_END.min(ram_end()) && !HOLE.contains(&pa)
}

/// Start handing out low memory at `first` (physical, page aligned); RAM
/// ends at `end`.
pub fn init(first: u64, end: u64) {
    NEXT.store(first, Ordering::SeqCst);
    RAM_END.store(end, Ordering::SeqCst);
}

fn bump(next: &AtomicU64, limit: u64, pages: u64, align: u64) -> Option<u64> {
    let mut cur = next.load(Ordering::SeqCst);
    loop {
        let start = cur.checked_add(align - 1)? & !(align - 1);
        let end = start.checked_add(pages * PAGE_SIZE)?;
        if end > limit {
            return None;
        }
        match next.compare_exchange(cur, end, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Some(start),
            Err(now) => cur = now,
        }
    }
}

/// `pages` contiguous low-memory frames aligned to `align` bytes (a power
/// of two, at least a page), or `None` when low memory is exhausted. Not
/// zeroed.
pub fn alloc_aligned(pages: u64, align: u64) -> Option<u64> {
    bump(&NEXT, LOWMEM_END.min(ram_end()), pages, align)
}

/// `pages` contiguous high-memory frames from the window's RAM.
pub fn alloc_high(pages: u64) -> Option<u64> {
    let limit = (LOWMEM_END + HIGH_WINDOW).min(ram_end());
    bump(&NEXT_HIGH, limit, pages, PAGE_SIZE)
}

/// Bytes of low memory left.
pub fn free_bytes() -> u64 {
    LOWMEM_END
        .min(ram_end())
        .saturating_sub(NEXT.load(Ordering::SeqCst))
}
