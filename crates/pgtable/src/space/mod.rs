//! Address spaces: the kernel's (init_mm) and the users', the registry of
//! their roots, and the sync that keeps the kernel half of every root equal
//! to the kernel's.

mod access;
mod adopt;
mod edit;
pub(crate) mod handle;
mod inspect;
mod kernel;
mod lifecycle;
mod lookup;
mod policy;
mod raw;
mod registry;
mod report;
mod root_fill;
mod setup;
mod user;
mod vmap;

pub use edit::{KernelEdit, LegacyEdit};
pub use handle::{KernelTable, SharedTable, UserPteTable, UserTable};
pub use inspect::Walked;
pub use policy::{EditPolicy, Legacy, Tracked};
pub use registry::SyncStats;
pub use report::{SyncOutcome, SyncReport};
pub use user::{AddressSpace, PteMap, UserSpace};

use crate::addr::PhysAddr;
use crate::arch::{Arch, Level};
use crate::memory::{Fragments, TableMemory};
use crate::sync::DefaultLock;
use crate::sync::{AtomicU64, AtomicUsize, LockGuard, LockMutex};
use crate::vmalloc::VmapAreas;
use crate::walk::shared::SharedSet;
use alloc::vec::Vec;
use lock_api::RawMutex;
use registry::Registry;

/// When kernel entries reach the other roots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPolicy {
    /// At the end of every kernel edit whose mask meets the architecture's
    /// sync mask (Linux 6.17).
    #[default]
    Eager,
    /// Never by the edit; a root gets a missing top-level kernel entry when
    /// an access through it faults ([`PageTables::sync_on_fault`], x86's
    /// `vmalloc_fault()` before Linux 5.8). A baseline for comparison only.
    Lazy,
}

#[derive(Default)]
struct Counters {
    syncs: AtomicU64,
    entries_copied: AtomicU64,
    lazy_fixes: AtomicU64,
    mismatches: AtomicU64,
}

/// The kernel's address space, locked for one user at a time.
///
/// Reading it ([`translate`](Self::translate)) takes `&self`; changing it
/// takes an edit ([`edit`](Self::edit)), which borrows it mutably until the
/// edit has synced. So no code holding the kernel space can look at a
/// mapping between its populate and its sync: the ordering bug of Linux
/// commit 8d400913c231 does not compile.
pub struct KernelSpace<'a, A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    pub(crate) pt: &'a PageTables<A, M, L>,
    pub(crate) state: LockGuard<'a, L, KernelState>,
}

/// Kernel-side state behind init_mm's lock.
pub(crate) struct KernelState {
    pub vmalloc: VmapAreas,
}

/// All the page tables of one machine: the kernel space, every user address
/// space, and the memory they live in.
///
/// `PageTables` is `Sync`: address spaces may be created, edited and
/// destroyed from several threads while one thread at a time holds the
/// [`KernelSpace`].
pub struct PageTables<A: Arch, M: TableMemory, L: RawMutex = DefaultLock> {
    arch: A,
    mem: M,
    kernel_root: PhysAddr,
    policy: SyncPolicy,
    /// init_mm's `page_table_lock` and the vmalloc state.
    kernel: LockMutex<L, KernelState>,
    /// `pgd_lock` and `pgd_list`.
    roots: LockMutex<L, Registry>,
    stats: Counters,
    /// Under page-table isolation, the kernel top-level slots a user-mode
    /// root shares with the kernel (the entry area).
    pti: Option<core::ops::Range<usize>>,
    /// Tables smaller than a page.
    frags: Fragments,
    /// Live temporary mappings of high-memory PTE tables.
    kmaps: AtomicUsize,
    /// Who this is: every address space and shared table names its
    /// machine, so another machine's is refused.
    id: u64,
    /// Kernel tables handed out by `alloc_table` and not linked yet
    /// (address, bytes): the raw helpers may write their entries. Writes
    /// into them and their release take this lock, so a handle dropped on
    /// another thread cannot free a table while an edit writes into it.
    unlinked: LockMutex<L, Vec<Unlinked>>,
    /// Tables linked under many entries (the KASAN early shadow).
    shared: SharedSet,
    /// The protocol mistake the loom model switched on, if any.
    #[cfg(loom)]
    loom_bug: Option<LoomBug>,
}

/// The next machine identity; 0 is never handed out.
///
/// `core`'s atomic even under loom: a static outlives loom's executions,
/// whose atomics are made inside one, and loom's have no `const`
/// constructor. Identities only have to differ, which one `fetch_add` gives
/// however threads interleave, so nothing is lost by not modelling it.
static NEXT_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

impl<A: Arch, M: TableMemory, L: RawMutex> core::fmt::Debug for PageTables<A, M, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PageTables")
            .field("arch", &self.arch.name())
            .field("kernel_root", &self.kernel_root)
            .field("spaces", &self.space_count())
            .finish()
    }
}

/// A kernel table handed out by `alloc_table` and not linked yet.
pub(crate) struct Unlinked {
    /// Its address.
    pub table: u64,
    /// Its size.
    pub bytes: u64,
    /// The level of its entries: the raw helpers write only entries of
    /// that level into it, so no entry is ever read at another level.
    pub level: Level,
}

/// Remove `table` from a list of unlinked tables.
pub(crate) fn forget_in(list: &mut Vec<Unlinked>, table: PhysAddr) {
    if let Some(i) = list.iter().position(|u| u.table == table.0) {
        list.swap_remove(i);
    }
}

/// A mistake in the create/destroy-versus-sync protocol that the loom model
/// switches on in one [`PageTables`] to show that it finds the
/// interleaving that breaks the machine (`tests/loom_registry.rs`). Exists
/// only under `cfg(loom)`; the library's own paths never take these.
#[cfg(loom)]
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoomBug {
    /// `create_space` copies the kernel half before taking the registry
    /// lock: a sync that runs in between misses the new root, and the copy
    /// missed the entry.
    CopyBeforeLock,
    /// `destroy_space` frees the tables before taking the root off the
    /// registry: a sync in between writes into freed frames.
    FreeBeforeUnregister,
}
