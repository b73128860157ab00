//! The locks and atomics of the address-space machinery (init_mm's lock,
//! `pgd_lock`, the unlinked and fragment lists, the counters).
//!
//! Normally these are `spin`'s mutex (there is no OS to park on in
//! `no_std`) and `core`'s atomics. Built with `RUSTFLAGS="--cfg loom"` they
//! are loom's, so `tests/loom_registry.rs` model-checks the library's own
//! create, sync and destroy code over every interleaving loom explores, not
//! a copy of it. Under `cfg(loom)` these types only work inside
//! `loom::model`, so nothing but the loom test is built that way.
//!
//! Left as they are: the table memories' own locks and atomics (a model
//! supplies a loom-aware [`TableMemory`](crate::TableMemory) of its own) and
//! the global machine counter in `space/mod.rs` (a static, which loom's
//! atomics cannot be: theirs are made inside one model execution).

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize};

#[cfg(not(loom))]
pub(crate) use spin::Mutex;

/// The lock a [`PageTables`](crate::PageTables) uses unless told otherwise:
/// `spin`'s mutex, as a [`lock_api::RawMutex`]. A kernel whose page-table
/// locks must also keep interrupts off passes its own raw mutex as the
/// third type parameter.
pub type DefaultLock = spin::Mutex<()>;

/// The pluggable locks of the address-space machinery.
#[cfg(not(loom))]
pub(crate) type LockMutex<L, T> = lock_api::Mutex<L, T>;
/// The guard of a [`LockMutex`].
#[cfg(not(loom))]
pub(crate) type LockGuard<'a, L, T> = lock_api::MutexGuard<'a, L, T>;

#[cfg(loom)]
pub(crate) use self::model::{LockGuard, LockMutex, Mutex};

#[cfg(loom)]
mod model {
    /// loom's mutex with `spin`'s signature: `lock()` returns the guard, so
    /// call sites are the same in both builds.
    #[derive(Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// The guard of a locked [`Mutex`].
    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    /// loom's mutex in place of a pluggable lock: under the model every
    /// lock is loom's, whatever `L` the machine names.
    pub(crate) struct LockMutex<L, T>(Mutex<T>, core::marker::PhantomData<fn() -> L>);

    /// The guard of a locked [`LockMutex`].
    pub(crate) type LockGuard<'a, L, T> = GuardOf<'a, T, L>;

    /// A guard that names the lock type it stands for.
    pub(crate) type GuardOf<'a, T, L> = <(MutexGuard<'a, T>, L) as First>::Out;

    /// The first of a pair (lets a type alias name an unused parameter).
    pub(crate) trait First {
        type Out;
    }
    impl<X, Y> First for (X, Y) {
        type Out = X;
    }

    impl<L, T> LockMutex<L, T> {
        pub(crate) fn new(value: T) -> Self {
            LockMutex(Mutex::new(value), core::marker::PhantomData)
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock()
        }
    }

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            // Poisoned only after a thread panicked holding it, which has
            // already failed the model; `spin`'s lock knows no poisoning, so
            // the guard is taken the same way.
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}
