//! Data blocks the checks map: 2 MiB of RAM each (4 MiB under 2-level
//! paging, a whole PDE), *tagged*: every 4-byte word holds its own physical
//! address, so a read through a virtual address proves which physical
//! address it reached.
//!
//! The two words at [`FETCH_OFFSET`] of every 4 KiB page hold instead a
//! fetch stub, `mov $pa_of_page, %eax; ret`: the fetch probes call it, and
//! the value it returns proves which physical page the fetch reached. Its
//! words are their [`tag`]s, so loads and stores check them as any other.

use crate::frame::{self, kva};
use alloc::vec::Vec;

/// A block: the mode's PMD leaf size.
pub const BLOCK: u64 = crate::machine::LEAF_SIZE;

static TAGGED: spin::Mutex<Vec<(u64, u64)>> = spin::Mutex::new(Vec::new());

/// A fresh tagged block (physical address, aligned to its size).
pub fn block() -> Result<u64, &'static str> {
    let pa =
        frame::alloc_aligned(BLOCK / frame::PAGE_SIZE, BLOCK).ok_or("no RAM for a data block")?;
    for off in (0..BLOCK).step_by(4) {
        // SAFETY: the block was just taken from the frame allocator for good
        // and is mapped read-write at kva(pa) by every kernel root.
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u32, tag(pa + off)) };
    }
    TAGGED.lock().push((pa, pa + BLOCK));
    Ok(pa)
}

/// Whether `pa` lies in a tagged block.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e)| (s..e).contains(&pa))
}

/// Offset in every page of a block of its fetch stub (8 bytes).
pub const FETCH_OFFSET: u64 = 0xff8;

/// The tag the word at `pa` holds: its own address, or the page's fetch
/// stub at [`FETCH_OFFSET`]: `b8 <page pa, 4 bytes> c3 cc cc` (`mov imm32,
/// %eax; ret; int3; int3`).
pub const fn tag(pa: u64) -> u32 {
    let w = (pa & !3) as u32;
    let page = w & !0xfff;
    match w as u64 & 0xfff {
        FETCH_OFFSET => 0xb8 | (page << 8),
        0xffc => (page >> 24) | 0xcc_cc_c3_00,
        _ => w,
    }
}

/// The value the fetch stub of the page at `pa` leaves in eax.
pub const fn fetch_value(pa: u64) -> u32 {
    (pa as u32) & !0xfff
}
