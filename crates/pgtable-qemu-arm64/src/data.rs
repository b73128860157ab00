//! Data blocks the checks map: 2 MiB of RAM each, *tagged* (every 8-byte
//! word holds its own physical address), so a read through a virtual
//! address proves which physical address it reached. The last 16 bytes of
//! every page hold a *fetch stub* instead, which returns the physical
//! address it was fetched from, so a jump there proves the same for an
//! instruction fetch.

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
    crate::cpu::sync_icache(kva(pa), BLOCK_2M, frame::PAGE_SIZE, FETCH_OFFSET);
    TAGGED.lock().push((pa, pa + BLOCK_2M));
    Ok(pa)
}

/// Whether `pa` lies in a tagged block.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e)| (s..e).contains(&pa))
}

/// Offset in every page of a block of its fetch stub (16 bytes: the words
/// at 0xff0 and 0xff8). Two instructions (the 8 bytes at 0xff8) cannot
/// load a 20-bit page number and return: `movz` carries 16 bits and a
/// literal `ldr` would prove the data side's translation, not the fetch's.
pub const FETCH_OFFSET: u64 = 0xff0;
/// `bti c`: a landing pad for `blr` should the page ever be guarded (GP);
/// a NOP otherwise (hint space).
const BTI_C: u64 = 0xd503_245f;
/// `movz x0, #imm16, lsl #16`.
const MOVZ_X0_LSL16: u64 = 0xd2a0_0000;
/// `movk x0, #imm16`.
const MOVK_X0: u64 = 0xf280_0000;
/// `ret` (to x30).
const RET: u64 = 0xd65f_03c0;

/// The tag a word at `pa` holds: its own address, or in the fetch stub
/// (`bti c; movz x0, #pa[31:16], lsl #16; movk x0, #pa[15:0]; ret`, with
/// `pa` the stub's own address; RAM lies below 4 GiB) its instructions.
pub const fn tag(pa: u64) -> u64 {
    let w = pa & !7;
    let stub = (w & !0xfff) | FETCH_OFFSET;
    match w & 0xfff {
        FETCH_OFFSET => BTI_C | ((MOVZ_X0_LSL16 | (((stub >> 16) & 0xffff) << 5)) << 32),
        0xff8 => (MOVK_X0 | ((stub & 0xffff) << 5)) | (RET << 32),
        _ => w,
    }
}

/// The value the fetch stub of the page at `pa` leaves in x0: the stub's
/// physical address.
pub const fn fetch_value(pa: u64) -> u64 {
    (pa & 0xffff_f000) | FETCH_OFFSET
}
