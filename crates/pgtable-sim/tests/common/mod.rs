//! What the architecture tests expect to see through an MMU.

#![allow(dead_code)] // each test uses its own part

use pgtable::{Prot, PAGE_SIZE};

pub const MIB: u64 = 1 << 20;
pub const GIB: u64 = 1 << 30;

/// What a mapping should look like through the MMU.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    pub va: u64,
    pub pa: u64,
    pub size: u64,
    pub prot: Prot,
}

/// One base page per frame from `va` (a `vmap()` of scattered frames).
pub fn pages(va: u64, frames: &[u64], prot: Prot) -> impl Iterator<Item = Expect> + '_ {
    frames.iter().enumerate().map(move |(i, &pa)| Expect {
        va: va + i as u64 * PAGE_SIZE,
        pa,
        size: PAGE_SIZE,
        prot,
    })
}

/// `n` base pages of contiguous memory from `va` to `pa` (an `ioremap()`).
pub fn contiguous(va: u64, pa: u64, n: u64, prot: Prot) -> impl Iterator<Item = Expect> {
    (0..n).map(move |i| Expect {
        va: va + i * PAGE_SIZE,
        pa: pa + i * PAGE_SIZE,
        size: PAGE_SIZE,
        prot,
    })
}
