//! The addresses the cross-check compares: around and inside every leaf
//! the software MMU finds in any root, region boundaries, random kernel and
//! user addresses, the identity part, and non-canonical ones.

use super::setup::USER_BASE;
use crate::data;
use crate::frame;
use crate::space::{PhysMem, IDENTITY_END};
use alloc::vec::Vec;
use pgtable::{Arch, PhysAddr};
use pgtable_mmu::x86_64::X86Mmu;

/// xorshift64*: deterministic, good enough to spread samples.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A random 8-byte aligned offset below `size`.
    pub fn word_in(&mut self, size: u64) -> u64 {
        (self.next() % size) & !7
    }
}

/// Sample addresses for `roots` (deduplicated, 8-byte aligned).
pub fn addresses(mmu: &X86Mmu, arch: &impl Arch, roots: &[PhysAddr], dm: u64) -> Vec<u64> {
    let mut rng = Rng::new(0x5eed_9b86_4917_8d40);
    let mut out = Vec::new();
    let kernel_start = arch.kernel_start();
    let user_end = arch.user_end();
    // Every leaf outside the identity part, in any root.
    let mut leaves = Vec::new();
    for &root in roots {
        for (s, e) in [(IDENTITY_END, user_end), (kernel_start, 0)] {
            let _ = mmu.for_each_mapping(&PhysMem, root.0, s, e, |l| leaves.push((l.va, l.size)));
        }
    }
    leaves.sort_unstable();
    leaves.dedup();
    for &(va, size) in &leaves {
        out.extend([
            va,
            va + 8,
            va + size - 8,
            va.wrapping_sub(8),
            va.wrapping_add(size),
        ]);
        let n = match size {
            0x1000 => 12,
            0x20_0000 => 48,
            _ => 256,
        };
        out.extend((0..n).map(|_| va + rng.word_in(size)));
    }
    // RAM through the identity part and the direct map of the first GiB.
    let (ranges, nr) = frame::ranges();
    let ram = |rng: &mut Rng| {
        let r = ranges[(rng.next() % nr as u64) as usize];
        r.start + rng.word_in(r.end - r.start)
    };
    for _ in 0..400 {
        let pa = ram(&mut rng);
        out.extend([pa, dm + pa]);
    }
    for (s, e) in data::tagged() {
        for _ in 0..8 {
            let pa = s + rng.word_in(e - s);
            out.extend([pa, dm + pa]);
        }
    }
    // Region boundaries.
    for r in arch.layout().regions {
        out.extend([
            r.start.wrapping_sub(8),
            r.start,
            r.last - 7,
            r.last.wrapping_add(1),
        ]);
    }
    // Random kernel-half addresses (mostly unmapped), in every top slot.
    let top = arch.level_shift(arch.top_level());
    for _ in 0..1200 {
        let slot = 256 + rng.next() % 256;
        let va = (slot << top) | rng.word_in(1 << top);
        out.push(sign_extend(va, arch.va_bits()));
    }
    // Random user addresses above the identity map, near the per-process
    // pages and anywhere; the identity map's end.
    for _ in 0..300 {
        out.push(USER_BASE + rng.word_in(32 << 20));
        out.push(IDENTITY_END + rng.word_in(user_end - IDENTITY_END));
    }
    out.extend([IDENTITY_END - 8, IDENTITY_END, user_end - 8]);
    // Non-canonical addresses (#GP).
    for _ in 0..16 {
        let hole = user_end + rng.word_in(kernel_start - user_end);
        out.push(hole);
    }
    out.retain(|&va| va.is_multiple_of(8));
    out.sort_unstable();
    out.dedup();
    out
}

fn sign_extend(va: u64, bits: u32) -> u64 {
    let unused = 64 - bits;
    (((va << unused) as i64) >> unused) as u64
}
