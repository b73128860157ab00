//! Data blocks the checks map: 2 MiB of RAM each, *tagged* (every 4-byte
//! word holds its own physical address), so a read through a virtual
//! address proves which physical address it reached; and a *return page*
//! (every word `bx lr`), the only memory the checks execute.

use crate::frame::{self, kva};
use alloc::vec::Vec;

pub const BLOCK_2M: u64 = 2 << 20;
/// `bx lr` in A32.
pub const BX_LR: u32 = 0xe12f_ff1e;

static TAGGED: spin::Mutex<Vec<(u64, u64)>> = spin::Mutex::new(Vec::new());
static RET_PAGES: spin::Mutex<Vec<u64>> = spin::Mutex::new(Vec::new());
static TRAMP_PAGES: spin::Mutex<Vec<u64>> = spin::Mutex::new(Vec::new());
/// `blx r0` and `svc #0` in A32: the PL0 fetch probe's trampoline.
const TRAMPOLINE: [u32; 2] = [0xe12f_ff30, 0xef00_0000];

/// A fresh tagged 2 MiB block (physical address, 2 MiB aligned).
pub fn block_2m() -> Result<u64, &'static str> {
    let pa = frame::alloc_aligned(BLOCK_2M / frame::PAGE_SIZE, BLOCK_2M)
        .ok_or("no RAM for a data block")?;
    for off in (0..BLOCK_2M).step_by(4) {
        // SAFETY: the block was just taken from the frame allocator for good
        // and is mapped read-write at kva(pa) by every kernel root.
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u32, tag(pa + off)) };
    }
    TAGGED.lock().push((pa, pa + BLOCK_2M));
    Ok(pa)
}

/// Whether `pa` lies in a tagged block.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e)| (s..e).contains(&pa))
}

/// The tag a word at `pa` holds.
pub const fn tag(pa: u64) -> u32 {
    (pa & !3) as u32
}

/// A fresh page of `bx lr` instructions (physical address).
pub fn ret_page() -> Result<u64, &'static str> {
    let pa = frame::alloc_aligned(1, frame::PAGE_SIZE).ok_or("no RAM for a return page")?;
    for off in (0..frame::PAGE_SIZE).step_by(4) {
        // SAFETY: as in `block_2m`.
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u32, BX_LR) };
    }
    crate::cpu::sync_icache();
    RET_PAGES.lock().push(pa);
    Ok(pa)
}

/// A fresh trampoline page (physical address): `blx r0; svc #0` at its
/// start, for [`crate::probe::exec_user`].
pub fn tramp_page() -> Result<u64, &'static str> {
    let pa = frame::alloc_aligned(1, frame::PAGE_SIZE).ok_or("no RAM for a trampoline")?;
    for off in (0..frame::PAGE_SIZE).step_by(4) {
        let word = TRAMPOLINE.get(off as usize / 4).copied().unwrap_or(BX_LR);
        // SAFETY: as in `block_2m`.
        unsafe { core::ptr::write_volatile(kva(pa + off) as *mut u32, word) };
    }
    crate::cpu::sync_icache();
    TRAMP_PAGES.lock().push(pa);
    Ok(pa)
}

/// Whether `pa` is the start of a trampoline page.
pub fn is_tramp(pa: u64) -> bool {
    TRAMP_PAGES.lock().contains(&pa)
}

/// Whether `pa` lies in a return page (executing there returns at once).
pub fn is_ret(pa: u64) -> bool {
    RET_PAGES
        .lock()
        .iter()
        .any(|&p| (p..p + frame::PAGE_SIZE).contains(&pa))
}
