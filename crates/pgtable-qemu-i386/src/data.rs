//! Data blocks the checks map: 2 MiB of RAM each (4 MiB under 2-level
//! paging, a whole PDE), *tagged*: every 4-byte word holds its own physical
//! address, so a read through a virtual address proves which physical
//! address it reached.

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

/// The tag the word at `pa` holds.
pub const fn tag(pa: u64) -> u32 {
    (pa & !3) as u32
}
