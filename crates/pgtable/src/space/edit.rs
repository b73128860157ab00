//! The kernel edit guard: every change of kernel mappings goes through it,
//! tracked (Linux 6.17) or legacy (before), one type with a policy.

use super::policy::{side, EditPolicy, Legacy, Tracked};
use super::report::{SyncOutcome, SyncReport};
use super::{KernelSpace, SyncPolicy};
use crate::addr::VirtAddr;
use crate::arch::{Arch, Level, SyncMethod};
use crate::args::check_kernel_span;
use crate::error::Result;
use crate::mask::SyncMask;
use crate::memory::TableMemory;
use crate::sync::DefaultLock;
use crate::vmalloc::Vmalloc;
use crate::walk::pgalloc::{Populate, Tracker};
use core::marker::PhantomData;
use lock_api::RawMutex;

/// A change of kernel mappings in progress, lent to the closure given to
/// [`KernelSpace::edit`](crate::KernelSpace::edit) (policy [`Tracked`]) or
/// to the `unsafe` [`KernelSpace::legacy_edit`](crate::KernelSpace::legacy_edit)
/// (policy [`Legacy`], known as [`LegacyEdit`]).
///
/// It holds the kernel space mutably. A tracked edit records in a
/// [`SyncMask`] each level its populate helpers (`*_populate_kernel`) and
/// walks touch, and the library owns it: when the closure returns, the
/// library runs the architecture's sync once over the touched range if the
/// mask meets `ARCH_PAGE_TABLE_SYNC_MASK`. The closure only ever holds a
/// `&mut`, so no code can leak the edit (`mem::forget`) and skip the sync.
/// Failed calls leave their populated tables in the mask, so they are
/// synced too. A legacy edit writes the plain `*_populate()` of kernels
/// before 6.17: no mask, no sync; its methods are the same walks.
pub struct KernelEdit<
    'k,
    'a,
    A: Arch,
    M: TableMemory,
    L: RawMutex = DefaultLock,
    P: EditPolicy = Tracked,
> {
    pub(super) ks: &'k mut KernelSpace<'a, A, M, L>,
    pub(super) tracker: Tracker,
    finished: bool,
    pub(super) allow_wx: bool,
    policy: PhantomData<P>,
}

/// A kernel edit written as before Linux 6.17: the plain populate helpers,
/// no mask, no sync. Lent by the `unsafe`
/// [`KernelSpace::legacy_edit`](crate::KernelSpace::legacy_edit); only the
/// historical scenarios use it.
pub type LegacyEdit<'k, 'a, A, M, L = DefaultLock> = KernelEdit<'k, 'a, A, M, L, Legacy>;

impl<'k, 'a, A: Arch, M: TableMemory, L: RawMutex, P: EditPolicy> KernelEdit<'k, 'a, A, M, L, P> {
    /// The page tables this edit changes (for the `mm` layer above).
    pub(crate) fn tables(&self) -> &crate::space::PageTables<A, M, L> {
        self.ks.pt
    }

    pub(crate) fn new(ks: &'k mut KernelSpace<'a, A, M, L>) -> Self {
        KernelEdit {
            ks,
            tracker: Tracker::default(),
            finished: false,
            allow_wx: false,
            policy: PhantomData,
        }
    }

    /// A walk that records into `scratch`, not the edit's mask: for writes
    /// into a table not linked yet, which no root can see. Linking it
    /// records the level at which its subtree becomes visible, which is
    /// what the sync needs.
    pub(super) fn populate_unlinked<'s>(&self, scratch: &'s mut Tracker) -> Populate<'s, A, M>
    where
        'a: 's,
    {
        Populate {
            t: self.ks.pt.tables(),
            side: side::<P>(),
            tracker: scratch,
        }
    }

    /// A walk of the kernel tables, recording into the edit's mask (the
    /// legacy policy records nothing).
    pub(super) fn pop(&mut self) -> Populate<'_, A, M> {
        let pt = self.ks.pt;
        Populate {
            t: pt.tables(),
            side: side::<P>(),
            tracker: &mut self.tracker,
        }
    }

    /// The vmalloc layer over this edit: its tables, mask and area.
    pub(super) fn vmalloc(&mut self) -> Vmalloc<'_, A, M> {
        let keep = self.keep_level();
        let pt = self.ks.pt;
        Vmalloc {
            pop: Populate {
                t: pt.tables(),
                side: side::<P>(),
                tracker: &mut self.tracker,
            },
            root: pt.kernel_root(),
            keep,
            areas: &mut self.ks.state.vmalloc,
            allow_wx: self.allow_wx,
        }
    }

    /// The deepest level whose entries an unmap never clears to free the
    /// table below: the root's. Under [`SyncPolicy::Lazy`] also the sync
    /// level, since nothing would clear the other spaces' copies of such an
    /// entry and they would keep pointing at a freed table (Linux's lazy
    /// `vmalloc_fault()` era never freed kernel page tables for this reason).
    fn keep_level(&self) -> Level {
        let arch = self.ks.pt.arch();
        let top = arch.top_level();
        match (self.ks.pt.policy(), arch.sync_method()) {
            (SyncPolicy::Lazy, SyncMethod::CopyEntries(l)) if l > top => l,
            _ => top,
        }
    }

    /// End the edit: sync if the mask requires it, and say what was done.
    pub(crate) fn complete(&mut self) -> SyncReport {
        self.finished = true;
        let pt = self.ks.pt;
        let arch = pt.arch();
        let top = arch.top_level();
        let (level, range, outcome) = match arch.sync_method() {
            SyncMethod::CopyEntries(level) => (
                level,
                self.tracker.needs_sync(arch.sync_mask()),
                SyncOutcome::Synced,
            ),
            // A new top-level entry where the architecture relies on boot
            // preallocation: copy it rather than leave older roots behind.
            SyncMethod::None
                if !arch.split_roots() && self.tracker.mask.contains(SyncMask::of(top)) =>
            {
                (
                    top,
                    self.tracker
                        .needs_sync(SyncMask::of(top) | arch.sync_mask()),
                    SyncOutcome::CopiedTopLevel,
                )
            }
            // Nothing to copy (split roots, or every root shares the tables
            // below the sync level): the architecture's sync is a no-op, as
            // Linux's `arch_sync_kernel_mappings()` returns at once with a
            // shared kernel PMD.
            SyncMethod::None => (
                top,
                self.tracker.needs_sync(arch.sync_mask()),
                SyncOutcome::Synced,
            ),
        };
        let mut mismatches = 0;
        let outcome = match range {
            None => SyncOutcome::NotNeeded,
            Some(_) if pt.policy() == SyncPolicy::Lazy => SyncOutcome::Deferred,
            Some((start, last)) => {
                if outcome == SyncOutcome::CopiedTopLevel
                    || matches!(arch.sync_method(), SyncMethod::CopyEntries(_))
                {
                    mismatches = pt.sync_level(level, start, last);
                }
                outcome
            }
        };
        SyncReport {
            mask: self.tracker.mask,
            range,
            outcome,
            mismatches,
        }
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex> KernelEdit<'_, '_, A, M, L, Tracked> {
    /// Let this edit map kernel memory that is both writable and
    /// executable (`PAGE_KERNEL_EXEC`: early boot code, some JITs). Without
    /// it such a request is refused with
    /// [`Error::WriteAndExecute`](crate::Error::WriteAndExecute), so every
    /// W+X kernel mapping is an explicit, greppable decision.
    pub fn allow_write_exec(&mut self) -> &mut Self {
        self.allow_wx = true;
        self
    }

    /// Populate every empty top-level kernel slot over `start..=last` with
    /// an empty table, so later edits there never change the top level
    /// (x86-64 `preallocate_vmalloc_pages()`, riscv
    /// `preallocate_pgd_pages_range()`). Returns the tables allocated.
    pub fn preallocate(&mut self, start: VirtAddr, last: VirtAddr) -> Result<usize> {
        let arch = *self.ks.pt.arch();
        check_kernel_span(&arch, start, last)?;
        let top = arch.top_level();
        let step = arch.level_size(top);
        let mut made = 0;
        let root = self.ks.root();
        let mut pop = self.pop();
        let mut va = start.0 & !(step - 1);
        let r = loop {
            let mut e = pop.t.pgd_offset(root, va);
            let mut r = Ok(());
            for level in Level::ALL.into_iter().take_while(|l| *l <= top) {
                // Counted here, not as a difference of the memory's global
                // count, which other threads' edits change meanwhile.
                let empty = pop.t.none(level, e);
                match pop.alloc_track(level, e, va) {
                    Ok(next) => {
                        made += usize::from(empty);
                        e = next;
                    }
                    Err(err) => {
                        r = Err(err);
                        break;
                    }
                }
            }
            if r.is_err() {
                break r;
            }
            match va.checked_add(step) {
                Some(n) if n <= last.0 => va = n,
                _ => break Ok(()),
            }
        };
        r.map(|()| made)
    }

    /// The levels modified so far.
    pub fn mask(&self) -> SyncMask {
        self.tracker.mask
    }

    /// End the edit without a sync: only for boot preallocation in
    /// [`PageTables::with_policy`](super::PageTables::with_policy), before
    /// any address space exists.
    pub(crate) fn skip_sync_before_any_space(&mut self) {
        debug_assert_eq!(self.ks.pt.space_count(), 0);
        self.finished = true;
    }
}

impl<A: Arch, M: TableMemory, L: RawMutex, P: EditPolicy> Drop for KernelEdit<'_, '_, A, M, L, P> {
    fn drop(&mut self) {
        // A legacy edit never syncs: its mask stays empty.
        if P::TRACKED && !self.finished {
            let _ = self.complete();
        }
    }
}
