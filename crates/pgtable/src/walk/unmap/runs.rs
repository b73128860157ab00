//! The unmap walk's loops over one table: runs of whole leaves at any
//! level and the PTEs of a range, checked or cleared in one tight loop;
//! and what the check pass of a strict unmap learnt for the clear pass
//! after it, the runs of whole leaves it found in each table.
//!
//! `vunmap_range()` checks the whole range before it clears anything, so
//! that a refused call changes nothing. Both passes run under the same lock
//! over the same tables, and the check pass changes nothing, so the clear
//! pass would decode every entry again only to learn what the check pass
//! already knew. It looks the runs up here instead and clears them without
//! reading them.

use super::{Pass, Unmap};
use crate::addr::{PhysAddr, VirtAddr, PAGE_SIZE};
use crate::arch::{Arch, Level};
use crate::error::{Error, Result};
use crate::memory::TableMemory;
use crate::walk::tables::EntryPtr;
use core::sync::atomic::{AtomicU64, Ordering};

/// Runs remembered: a range spanning more tables than this clears the rest
/// as an unchecked clear pass does, decoding each entry.
const RUNS: usize = 8;

/// Runs of whole leaves, each as where it starts and where it stops.
#[derive(Default)]
pub(super) struct LeafRuns {
    /// `(first entry, first address, stop address)` of each run.
    runs: [(u64, u64, u64); RUNS],
    len: usize,
}

impl LeafRuns {
    /// Remember that the leaves from the entry at `entry` (for `addr`) on
    /// are whole leaves up to `stop`.
    pub(super) fn record(&mut self, entry: u64, addr: u64, stop: u64) {
        if let Some(slot) = self.runs.get_mut(self.len) {
            *slot = (entry, addr, stop);
            self.len += 1;
        }
    }

    /// Where the run of whole leaves from the entry at `entry` (for `addr`)
    /// stops, if the check pass found one there.
    pub(super) fn stop(&self, entry: u64, addr: u64) -> Option<u64> {
        self.runs[..self.len]
            .iter()
            .find(|r| r.0 == entry && r.1 == addr)
            .map(|r| r.2)
    }
}

/// How many of `words`, from the first, are leaves of `level`. A block of
/// sixteen entries equal to the first in the bits that make a leaf
/// ([`EntryFormat::leaf_bits`](crate::arch::EntryFormat::leaf_bits)) is
/// whole leaves if the first is one, found with an xor and an or per entry
/// and no branch; a block that differs there is tested entry by entry. A
/// strict unmap's range is whole leaves of one protection but for a
/// refused call.
#[inline]
fn leading_leaves<A: Arch>(arch: &A, level: Level, words: &[AtomicU64]) -> usize {
    let load = |w: &AtomicU64| w.load(Ordering::Acquire);
    let is_leaf = |w: &AtomicU64| arch.is_leaf(level, load(w));
    let Some(first) = words.first().map(load) else {
        return 0;
    };
    if !arch.is_leaf(level, first) {
        return 0;
    }
    let bits = arch.leaf_bits(level);
    let mut leaves = 0;
    for block in words.chunks_exact(16) {
        let differ = block.iter().fold(0, |acc, w| acc | (load(w) ^ first));
        if differ & bits != 0 && !block.iter().all(is_leaf) {
            break;
        }
        leaves += 16;
    }
    let rest = &words[leaves..];
    leaves + rest.iter().position(|w| !is_leaf(w)).unwrap_or(rest.len())
}

/// Store zero into every entry of `words`, eight to a block so that the
/// loop is unrolled in every mode's walk alike.
#[inline]
fn clear(words: &[AtomicU64]) {
    let mut blocks = words.chunks_exact(8);
    for block in &mut blocks {
        for w in block {
            w.store(0, Ordering::Release);
        }
    }
    for w in blocks.remainder() {
        w.store(0, Ordering::Release);
    }
}

impl<A: Arch, M: TableMemory + ?Sized> Unmap<'_, '_, '_, A, M> {
    /// Check or clear the whole leaves of `level` from the entry `first` on
    /// in one loop over the table, as long as they are leaves; returns where
    /// it stopped, for the per-entry walk to go on from there.
    pub(super) fn leaf_run(&mut self, level: Level, first: EntryPtr, addr: u64, end: u64) -> u64 {
        let t = self.pop.t;
        let size = t.arch.level_size(level);
        if t.arch.is_passthrough(level) || t.arch.entry_size() != 8 || addr & (size - 1) != 0 {
            return addr;
        }
        let Some((words, index)) = t.words_of(first) else {
            return addr;
        };
        let whole = (end.wrapping_sub(addr) / size) as usize;
        let words = &words[index..index + whole];
        // A local copy: read through `t.arch`, its fields would be reloaded
        // after every store.
        let arch = *t.arch;
        let is_leaf = |w: &AtomicU64| arch.is_leaf(level, w.load(Ordering::Acquire));
        let known = if self.checked {
            self.runs.stop(first.0 .0, addr)
        } else {
            None
        };
        let count = match (self.pass, known) {
            (Pass::Check, _) => leading_leaves(&arch, level, words),
            // The check pass found these whole leaves: clear them unread.
            (Pass::Clear, Some(stop)) => {
                let count = (stop.wrapping_sub(addr) / size) as usize;
                clear(&words[..count]);
                count
            }
            (Pass::Clear, None) => {
                let mut count = 0;
                for w in words {
                    if !is_leaf(w) {
                        break;
                    }
                    w.store(0, Ordering::Release);
                    count += 1;
                }
                count
            }
        };
        let a = addr.wrapping_add(count as u64 * size);
        if count != 0 {
            match self.pass {
                Pass::Check => self.runs.record(first.0 .0, addr, a),
                Pass::Clear => {
                    self.pop.note(level, addr);
                    self.pop.note(level, a.wrapping_sub(size));
                    self.cleared.leaf(level);
                }
            }
        }
        a
    }

    /// The entry of the same table as `first` for `addr` (`first` being the
    /// one for `from`).
    pub(super) fn entry_for(
        &self,
        level: Level,
        first: EntryPtr,
        from: u64,
        addr: u64,
    ) -> EntryPtr {
        let t = self.pop.t;
        let skipped = (addr - from) / t.arch.level_size(level) * t.arch.entry_size();
        EntryPtr(PhysAddr(first.0 .0 + skipped))
    }

    /// The PTE entries of `addr..end` starting at `first`: checked (every
    /// one a leaf) or cleared, in one loop over the table.
    pub(super) fn ptes(&mut self, first: EntryPtr, addr: u64, end: u64) -> Result<()> {
        let t = self.pop.t;
        let count = (end.wrapping_sub(addr) / PAGE_SIZE) as usize;
        let arch = *t.arch;
        let is_leaf = |raw: u64| arch.is_leaf(Level::Pte, raw);
        let hole = match t.words_of(first) {
            Some((words, index)) => {
                let words = &words[index..index + count];
                match self.pass {
                    Pass::Check => {
                        let leaves = leading_leaves(&arch, Level::Pte, words);
                        (leaves < count).then_some(leaves)
                    }
                    // After a check pass every entry here is a leaf.
                    Pass::Clear if self.checked => {
                        clear(words);
                        None
                    }
                    Pass::Clear => {
                        for w in words {
                            if is_leaf(w.load(Ordering::Acquire)) {
                                w.store(0, Ordering::Release);
                            }
                        }
                        None
                    }
                }
            }
            None => {
                let mut hole = None;
                for i in 0..count {
                    let e = EntryPtr(PhysAddr(first.0 .0 + i as u64 * t.arch.entry_size()));
                    let leaf = is_leaf(t.read(e));
                    match self.pass {
                        Pass::Check if !leaf => {
                            hole = Some(i);
                            break;
                        }
                        Pass::Clear if leaf => t.write(e, 0),
                        _ => {}
                    }
                }
                hole
            }
        };
        if let Some(i) = hole {
            return Err(Error::NotMapped(VirtAddr(addr + i as u64 * PAGE_SIZE)));
        }
        if self.pass == Pass::Clear {
            self.pop.note(Level::Pte, addr);
            self.pop.note(Level::Pte, end.wrapping_sub(PAGE_SIZE));
            self.cleared.leaf(Level::Pte);
        }
        Ok(())
    }
}
