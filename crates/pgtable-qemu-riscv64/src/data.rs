//! Data blocks the checks map: 2 MiB of RAM each, *tagged* (every 8-byte
//! word holds its own physical address), so a read through a virtual
//! address proves which physical address it reached.

use crate::frame::{self, kva};
use alloc::vec::Vec;

pub const BLOCK_2M: u64 = 2 << 20;

static TAGGED: spin::Mutex<Vec<(u64, u64)>> = spin::Mutex::new(Vec::new());

/// A fresh tagged 2 MiB block (physical address, 2 MiB aligned).
pub fn block_2m() -> Result<u64, &'static str> {
    let pa = frame::alloc_aligned(BLOCK_2M / frame::PAGE_SIZE, BLOCK_2M)
        .ok_or("no RAM for a data block")?;
    for off in (0..BLOCK_2M).step_by(8) {
        // SAFETY: the block was just taken from the frame allocator for good
        // and is mapped read-write at kva(pa) by every kernel root.
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u64, pa + off) };
    }
    TAGGED.lock().push((pa, pa + BLOCK_2M));
    Ok(pa)
}

/// Whether `pa` lies in a tagged block.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e)| (s..e).contains(&pa))
}

/// The tag a word at `pa` holds.
pub const fn tag(pa: u64) -> u64 {
    pa & !7
}
