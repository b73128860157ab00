//! RAM that mappings under test point at, and tags that identify it.
//!
//! A tagged range holds in each 8-byte word its own physical address, so a
//! read through any virtual alias names the frame the real MMU used.

use crate::frame::{self, PAGE_SIZE};
use crate::sync::SpinLock;
use alloc::vec::Vec;
use pgtable::PhysAddr;

pub const BLOCK_2M: u64 = 2 << 20;

/// Tagged physical ranges `[start, end)`, and whether each page of the
/// range holds a fetch stub at [`FETCH_OFFSET`].
static TAGGED: SpinLock<Vec<(u64, u64, bool)>> = SpinLock::new(Vec::new());

/// Offset in every page of a [`tag_with_stubs`] range of its fetch stub.
pub const FETCH_OFFSET: u64 = 0xff8;

/// A zeroed, 2 MiB-aligned, 2 MiB block (for PMD leaves).
pub fn block_2m() -> Result<u64, &'static str> {
    let raw =
        frame::alloc_contiguous(2 * BLOCK_2M / PAGE_SIZE).ok_or("no RAM for a 2 MiB block")?;
    let pa = raw.next_multiple_of(BLOCK_2M);
    fill(pa, BLOCK_2M, |_| 0);
    Ok(pa)
}

/// `n` zeroed 4 KiB frames.
pub fn frames(n: usize) -> Result<Vec<PhysAddr>, &'static str> {
    (0..n)
        .map(|_| {
            frame::alloc_zeroed_frame()
                .map(PhysAddr)
                .ok_or("out of frames")
        })
        .collect()
}

fn fill(pa: u64, len: u64, value: impl Fn(u64) -> u64) {
    for w in (pa..pa + len).step_by(8) {
        // SAFETY: callers pass RAM they just took from the frame allocator,
        // identity-mapped below 4 GiB and used by nothing else.
        unsafe { (frame::phys_to_virt(w) as *mut u64).write_volatile(value(w)) };
    }
}

/// Write each word's own physical address into `[pa, pa+len)` and remember
/// the range as tagged.
pub fn tag(pa: u64, len: u64) {
    fill(pa, len, |w| w);
    TAGGED.lock().push((pa, pa + len, false));
}

/// As [`tag`], but the word at [`FETCH_OFFSET`] of every page (`pa` and
/// `len` page aligned) holds the page's fetch stub instead: `mov $page_pa,
/// %eax; ret` (`b8 <imm32> c3 cc cc`; the identity-mapped RAM is below
/// 4 GiB). The fetch probes call it; the value it returns proves which
/// physical page the fetch reached.
pub fn tag_with_stubs(pa: u64, len: u64) {
    fill(pa, len, stub_or_tag);
    TAGGED.lock().push((pa, pa + len, true));
}

fn stub_or_tag(w: u64) -> u64 {
    if w & 0xfff == FETCH_OFFSET {
        0xcccc_c300_0000_00b8 | (fetch_value(w) << 8)
    } else {
        w
    }
}

/// The value the fetch stub of the page at `pa` leaves in rax.
pub const fn fetch_value(pa: u64) -> u64 {
    pa & 0xffff_f000
}

/// Whether `pa` lies in a tagged range.
pub fn is_tagged(pa: u64) -> bool {
    TAGGED.lock().iter().any(|&(s, e, _)| (s..e).contains(&pa))
}

/// The word a tagged range holds at `pa` (8-byte aligned), if tagged.
pub fn tag_at(pa: u64) -> Option<u64> {
    let stubs = TAGGED
        .lock()
        .iter()
        .find(|&&(s, e, _)| (s..e).contains(&pa))?
        .2;
    Some(if stubs { stub_or_tag(pa & !7) } else { pa & !7 })
}

/// Whether `pa` lies in a range with fetch stubs.
pub fn has_stubs(pa: u64) -> bool {
    TAGGED
        .lock()
        .iter()
        .any(|&(s, e, stubs)| stubs && (s..e).contains(&pa))
}

/// Whether `pa` is RAM the kernel may read (its image, or the frames).
pub fn is_ram(pa: u64) -> bool {
    let (kstart, kend) = crate::boot::kernel_image();
    let (ranges, n) = frame::ranges();
    (kstart..kend).contains(&pa) || ranges[..n].iter().any(|r| (r.start..r.end).contains(&pa))
}

/// Read the u64 at physical `pa` through the identity map.
pub fn read_phys(pa: u64) -> u64 {
    // SAFETY: callers pass 8-byte aligned RAM below 4 GiB (identity-mapped
    // in every root this kernel loads); a volatile read has no side effect.
    unsafe { (frame::phys_to_virt(pa) as *const u64).read_volatile() }
}

/// Write the u64 at physical `pa` through the identity map.
///
/// # Safety
/// `pa` must be 8-byte aligned RAM below 4 GiB that the caller owns (taken
/// from the frame allocator for this use, not part of any Rust object).
pub unsafe fn write_phys(pa: u64, value: u64) {
    // SAFETY: the caller owns the word; the identity map reaches it.
    unsafe { (frame::phys_to_virt(pa) as *mut u64).write_volatile(value) }
}

/// The tagged ranges.
pub fn tagged() -> Vec<(u64, u64)> {
    TAGGED.lock().iter().map(|&(s, e, _)| (s, e)).collect()
}
