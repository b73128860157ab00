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
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u64, tag(pa + off)) };
    }
    // The stubs were written as data: make them visible to fetches.
    // SAFETY: `fence.i` only orders instruction fetches after the stores.
    unsafe { core::arch::asm!("fence.i") };
    TAGGED.lock().push((pa, pa + BLOCK_2M));
    Ok(pa)
}

/// Whether `pa` lies in a tagged block.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e)| (s..e).contains(&pa))
}

/// Offset in every page of a block of its fetch stub.
pub const FETCH_OFFSET: u64 = 0xff8;
/// `c.jr ra`.
const C_JR_RA: u64 = 0x8082;

/// The tag a word at `pa` holds: its own address, or at [`FETCH_OFFSET`]
/// the page's fetch stub (`lui a0, pa[31:12]` then `c.jr ra`; its last
/// halfword, 0, is never reached).
pub const fn tag(pa: u64) -> u64 {
    let w = pa & !7;
    if w & 0xfff == FETCH_OFFSET {
        // lui a0 (x10), imm = pa[31:12] (RAM lies below 4 GiB).
        let lui = (w & 0xffff_f000) | (10 << 7) | 0x37;
        lui | (C_JR_RA << 32)
    } else {
        w
    }
}

/// The value the fetch stub of the page at `pa` leaves in a0: `lui`
/// sign-extends bit 31.
pub const fn fetch_value(pa: u64) -> u64 {
    (pa & 0xffff_f000) as u32 as i32 as i64 as u64
}
