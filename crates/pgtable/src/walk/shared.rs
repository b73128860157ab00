//! The shared tables (the KASAN early shadow's): linked under many
//! entries, so the walks never write through them nor free them.

use crate::addr::PhysAddr;
use crate::sync::{AtomicU64, AtomicUsize};
use core::sync::atomic::Ordering;

/// How many shared tables one machine may have: the KASAN early shadow
/// needs one per level.
pub const MAX_SHARED_TABLES: usize = 32;

/// The shared tables, readable without a lock by every walk (they are only
/// added, under the kernel lock, and never removed).
pub(crate) struct SharedSet {
    /// Table address and size in bytes, per slot.
    frames: [(AtomicU64, AtomicU64); MAX_SHARED_TABLES],
    len: AtomicUsize,
}

impl Default for SharedSet {
    fn default() -> Self {
        SharedSet {
            // Built at run time: loom's atomics have no `const` constructor.
            frames: core::array::from_fn(|_| (AtomicU64::new(0), AtomicU64::new(0))),
            len: AtomicUsize::new(0),
        }
    }
}

impl SharedSet {
    fn live(&self) -> &[(AtomicU64, AtomicU64)] {
        &self.frames[..self.len.load(Ordering::Acquire)]
    }

    /// Whether the table at `table` is shared. One load when there are
    /// none, which is the common case for every walk.
    #[inline]
    pub fn contains(&self, table: PhysAddr) -> bool {
        self.live()
            .iter()
            .any(|(f, _)| f.load(Ordering::Relaxed) == table.0)
    }

    /// Whether the entry at `entry` lies in a shared table.
    pub fn holds_entry(&self, entry: PhysAddr) -> bool {
        self.live().iter().any(|(f, b)| {
            let f = f.load(Ordering::Relaxed);
            entry.0.wrapping_sub(f) < b.load(Ordering::Relaxed)
        })
    }

    /// Add the table at `table` of `bytes`; `false` when the set is full.
    /// Callers hold the kernel lock, so there is one writer.
    pub fn insert(&self, table: PhysAddr, bytes: u64) -> bool {
        if self.contains(table) {
            return true;
        }
        let n = self.len.load(Ordering::Acquire);
        let Some((f, b)) = self.frames.get(n) else {
            return false;
        };
        f.store(table.0, Ordering::Relaxed);
        b.store(bytes, Ordering::Relaxed);
        self.len.store(n + 1, Ordering::Release);
        true
    }

    /// Free slots left.
    pub fn room(&self) -> usize {
        MAX_SHARED_TABLES - self.len.load(Ordering::Acquire)
    }
}
