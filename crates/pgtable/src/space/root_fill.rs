//! A new root (`pgd_alloc()`'s `__pgd_alloc()`): where the kernel root's
//! entries are shared as they are and the memory lends its words, a frame
//! that is not cleared first, every word of it written once the registry
//! lock is held.

use super::PageTables;
use crate::addr::{PhysAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::Result;
use crate::memory::TableMemory;
use crate::walk::tables::EntryPtr;
use core::sync::atomic::{AtomicU64, Ordering};
use lock_api::RawMutex;

/// How a new root's kernel slots are filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RootFill {
    /// The root is allocated zeroed and only the kernel's present entries
    /// are written into it, with tables copied per space where needed.
    Zeroed,
    /// The root is not cleared when allocated: every word of it is written
    /// under the registry lock, the kernel's (empty or not) in the kernel
    /// slots and zero elsewhere.
    Overwrite,
}

impl<A: Arch, M: TableMemory, L: RawMutex> PageTables<A, M, L> {
    /// How [`create_space`](Self::create_space) fills a new root:
    /// [`RootFill::Overwrite`] where the root's 8-byte entries are shared
    /// as they are at the top level and the memory lends the kernel root's
    /// words (x86-64, riscv64 and arm64 on `OffsetMemory`, `SparseMemory`,
    /// `DirectMap`), so the kernel half is copied word for word.
    pub(crate) fn root_fill(&self) -> RootFill {
        let t = self.tables();
        if self.shared_at(self.arch.top_level()) && t.words_of(EntryPtr(self.kernel_root)).is_some()
        {
            RootFill::Overwrite
        } else {
            RootFill::Zeroed
        }
    }

    /// `pgd_alloc()`'s page. With [`RootFill::Overwrite`] the frame is not
    /// cleared (it may hold anything until
    /// [`clone_kernel_half`](Self::clone_kernel_half) writes every word of
    /// it, which must happen before the root is used); otherwise zeroed.
    ///
    /// An overwritten root gets one store into each of its cache lines
    /// here, before the registry lock: the page's lines (cold, with many
    /// spaces) are fetched before the lock is taken, together, rather than
    /// eight stores a line at a time under it.
    pub(crate) fn alloc_root(&self, fill: RootFill) -> Result<PhysAddr> {
        let t = self.tables();
        if fill == RootFill::Zeroed {
            return t.alloc(Level::Pgd);
        }
        let root = t.alloc_for_overwrite(Level::Pgd)?;
        // Only a root that is a whole page: a smaller one shares its page.
        if self.arch.table_bytes(Level::Pgd) == PAGE_SIZE {
            if let Some((words, _)) = t.words_of(EntryPtr(root)) {
                for line in words.as_chunks::<8>().0 {
                    line[0].store(0, Ordering::Relaxed);
                }
            }
        }
        Ok(root)
    }

    /// [`clone_kernel_half`](Self::clone_kernel_half) into a root from
    /// [`alloc_root`](Self::alloc_root) with [`RootFill::Overwrite`]: every
    /// word of the root written in address order, the kernel's entries
    /// (empty ones too) in `slots` and zeroes outside, the non-zero copies
    /// counted without a branch. Returns that count.
    ///
    /// All of it under the registry lock, though no sync writes outside
    /// `slots`: one pass over the page in address order (see
    /// [`alloc_root`](Self::alloc_root)).
    pub(super) fn overwrite_root(&self, root: PhysAddr, slots: &core::ops::Range<usize>) -> u64 {
        let t = self.tables();
        // The root's entries (fewer than a page's on arm64 52-bit).
        let n = (self.arch.table_bytes(Level::Pgd) / 8) as usize;
        let (start, end) = (slots.start.min(n), slots.end.clamp(slots.start.min(n), n));
        let lent = |table| {
            let (words, at) = t.words_of(EntryPtr(table))?;
            words.get(at..at + n)
        };
        if let (Some(kernel), Some(own)) = (lent(self.kernel_root), lent(root)) {
            zero_words(&own[..start]);
            let copied = copy_words(&kernel[start..end], &own[start..end]);
            zero_words(&own[end..]);
            return copied;
        }
        // A memory that lends the kernel root's words and not this one's.
        let mut copied = 0;
        for i in 0..n {
            let off = i as u64 * 8;
            let raw = match (start..end).contains(&i) {
                true => t.read(EntryPtr(PhysAddr(self.kernel_root.0 + off))),
                false => 0,
            };
            t.write(EntryPtr(PhysAddr(root.0 + off)), raw);
            copied += u64::from(raw != 0);
        }
        copied
    }
}

/// Zero `words` of a root being filled (relaxed, as a frame's zeroing:
/// the root reaches others only through the registry lock).
fn zero_words(words: &[AtomicU64]) {
    for w in words {
        w.store(0, Ordering::Relaxed);
    }
}

/// Copy `kernel`'s words into `own` (as long), counting the non-zero ones.
fn copy_words(kernel: &[AtomicU64], own: &[AtomicU64]) -> u64 {
    let mut copied = 0;
    // Four words a round: the loop's own count and compare would otherwise
    // be a third of the instructions.
    let ((k4, k_rest), (o4, o_rest)) = (kernel.as_chunks::<4>(), own.as_chunks::<4>());
    for (k, o) in k4.iter().zip(o4) {
        for (k, o) in k.iter().zip(o) {
            let raw = k.load(Ordering::Acquire);
            o.store(raw, Ordering::Release);
            copied += u64::from(raw != 0);
        }
    }
    for (k, o) in k_rest.iter().zip(o_rest) {
        let raw = k.load(Ordering::Acquire);
        o.store(raw, Ordering::Release);
        copied += u64::from(raw != 0);
    }
    copied
}
