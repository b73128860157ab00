//! The atomic word accesses every direct-map backend makes: the 4-byte
//! entries of 32-bit formats live inside 8-byte atomic words, so that
//! accesses of both sizes to one address never race in the Rust memory
//! model (mixed-size atomics are not defined there).

use core::sync::atomic::{AtomicU64, Ordering};

/// The shift of the 4-byte word at `pa` inside its 8-byte word.
#[inline]
pub(super) fn half_shift(pa: u64) -> u32 {
    if (pa & 4 == 0) == cfg!(target_endian = "little") {
        0
    } else {
        32
    }
}

/// Read the 4-byte half at `shift` of `word`.
#[inline]
pub(super) fn load_half(word: &AtomicU64, shift: u32) -> u32 {
    (word.load(Ordering::Acquire) >> shift) as u32
}

/// Write the 4-byte half at `shift` of `word`, the other half written back
/// as it was, in one atomic step.
#[inline]
pub(super) fn store_half(word: &AtomicU64, shift: u32, value: u32) {
    let mask = 0xffff_ffffu64 << shift;
    let bits = u64::from(value) << shift;
    let mut old = word.load(Ordering::Relaxed);
    while let Err(cur) = word.compare_exchange_weak(
        old,
        (old & !mask) | bits,
        Ordering::Release,
        Ordering::Relaxed,
    ) {
        old = cur;
    }
}

/// Zero a frame that its caller has just taken from an allocator.
///
/// Relaxed stores are enough (and compile to plain stores): the frame
/// reaches other threads' walks only through the Release store of the entry
/// that links it, which orders these zeroes before it.
#[inline]
pub(super) fn zero(words: &[AtomicU64]) {
    for w in words {
        w.store(0, Ordering::Relaxed);
    }
}
