//! Allocation-failure injection.

use super::TableMemory;
use crate::error::{Error, Result};
use core::sync::atomic::{AtomicUsize, Ordering};

/// Wraps a backend and makes chosen table allocations fail, to test that an
/// operation stopping on `-ENOMEM` at any point leaves everything consistent.
#[derive(Debug)]
pub struct FaultInjector<M> {
    inner: M,
    /// Allocations attempted so far.
    attempts: AtomicUsize,
    /// The attempt number (0-based) from which allocations fail; `usize::MAX`
    /// for never.
    fail_from: AtomicUsize,
    /// How many attempts fail once failing started; `usize::MAX` for all.
    fail_count: AtomicUsize,
}

impl<M: TableMemory> FaultInjector<M> {
    /// Wrap `inner`; nothing fails until [`fail_from`](Self::fail_from) or [`fail_once_at`](Self::fail_once_at).
    pub fn new(inner: M) -> Self {
        FaultInjector {
            inner,
            attempts: AtomicUsize::new(0),
            fail_from: AtomicUsize::new(usize::MAX),
            fail_count: AtomicUsize::new(usize::MAX),
        }
    }

    /// Make the `n`-th allocation from now (0-based) and every later one
    /// fail.
    pub fn fail_from(&self, n: usize) {
        self.fail_count.store(usize::MAX, Ordering::SeqCst);
        self.fail_from.store(
            self.attempts.load(Ordering::SeqCst).saturating_add(n),
            Ordering::SeqCst,
        );
    }

    /// Make only the `n`-th allocation from now (0-based) fail.
    pub fn fail_once_at(&self, n: usize) {
        self.fail_count.store(1, Ordering::SeqCst);
        self.fail_from.store(
            self.attempts.load(Ordering::SeqCst).saturating_add(n),
            Ordering::SeqCst,
        );
    }

    /// Stop injecting failures.
    pub fn heal(&self) {
        self.fail_from.store(usize::MAX, Ordering::SeqCst);
    }

    /// Allocation attempts so far, failed ones included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &M {
        &self.inner
    }
}

impl<M: TableMemory> FaultInjector<M> {
    /// Count an allocation attempt and say whether it must fail.
    pub(super) fn attempt(&self) -> Result<()> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        let from = self.fail_from.load(Ordering::SeqCst);
        let count = self.fail_count.load(Ordering::SeqCst);
        if n >= from && n - from < count {
            return Err(Error::OutOfMemory);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::PhysAddr;
    use crate::memory::{RawAccess, SparseMemory, TableMemory};

    #[test]
    fn far_failure_points_do_not_overflow() {
        let m = FaultInjector::new(SparseMemory::new(PhysAddr(0x1000)..PhysAddr(0x9000)));
        let a = m.alloc_table(RawAccess::new()).unwrap();
        m.fail_from(usize::MAX);
        m.fail_once_at(usize::MAX);
        let b = m.alloc_table(RawAccess::new()).unwrap();
        m.fail_once_at(0);
        assert_eq!(m.alloc_table(RawAccess::new()), Err(Error::OutOfMemory));
        m.free_table(RawAccess::new(), a);
        m.free_table(RawAccess::new(), b);
        assert_eq!(m.tables_in_use(), 0);
    }
}
