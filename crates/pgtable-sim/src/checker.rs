//! The checker: (a) the kernel half of every registered root equals the
//! kernel's; (b) every kernel address the kernel users mapped translates,
//! through the software MMU, to the same frame and rights in every context
//! and from every CPU (its TLB included).
//!
//! It reads the tables only through raw memory and the independent MMU,
//! never through the library's walk.
//!
//! [`Checker::full`] compares everything; [`Checker::step`] compares what
//! the last step could have changed: the kernel's shared entries that
//! differ from the last step's, in every space, and every space whose own
//! tables the memory's write log says were written. (b) is derived from
//! (a) where a space's walk reads, in its root table, what the kernel's
//! walk read there (`checker/trace.rs`), and walked through the MMU otherwise.

mod audit;
mod slots;
mod spaces;
mod trace;
mod translations;

pub use audit::{Audit, AuditReport};

use crate::machine::Machine;
use pgtable::PhysAddr;
use slots::Shared;
use spaces::Spaces;

/// The first difference found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    /// The root that differs.
    pub root: u64,
    /// Its top-level slot, for (a).
    pub slot: Option<usize>,
    /// The address, for (b).
    pub addr: Option<u64>,
    /// What differs.
    pub detail: String,
}

impl std::fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "root {:#x}", self.root)?;
        if let Some(s) = self.slot {
            write!(f, " slot {s}")?;
        }
        if let Some(a) = self.addr {
            write!(f, " address {a:#x}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// Checker state: the entries every space shares with the kernel as last
/// read, the spaces as last read, and where the rotating sample stands.
#[derive(Debug, Default)]
pub struct Checker {
    snapshot: Vec<u64>,
    spaces: Spaces,
    rotate: usize,
    /// Translations compared so far.
    pub compared: u64,
}

type Check = Result<(), CheckFailure>;

impl Checker {
    /// A checker that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Check everything: every root, every probe address, every TLB.
    pub fn full(&mut self, m: &Machine) -> Check {
        self.snapshot = Self::kernel_state(m);
        self.spaces.read_all(m);
        let probes = Self::probes(m);
        let mmu = m.arch.mmu();
        let w = Self::wanted(m, &*mmu, &probes);
        for (root, user) in self.spaces.list.clone() {
            Self::check_space(m, &self.snapshot, root, user)?;
            self.check_root(m, &*mmu, root, &probes, &w)?;
        }
        self.check_tlbs(m, &probes, &w)?;
        self.check_cached(m, &*mmu)
    }

    /// Check after one step that touched the kernel addresses `touched` and
    /// wrote the pages `written` (the memory's write log since the last
    /// check: [`SparseMemory::take_written`](pgtable::SparseMemory::take_written)).
    ///
    /// (a) is checked wherever the step could have changed it, so it finds
    /// every disagreement a [`full`](Self::full) check would: a space's
    /// entry can come to differ from the kernel's only if the kernel's
    /// changed (its shared entries are compared with the last step's, and
    /// the changed ones checked in every space), if the space's own tables
    /// were written (the write log: that space is checked in full), or if
    /// the space is new (a registry whose length changed, or a written root,
    /// is read again, and new spaces are checked in full). A space's walk
    /// below its own tables reaches the kernel's tables, the same for
    /// every space, so (b) follows from (a) (`checker/trace.rs`); it is still
    /// checked for `touched` through every CPU's root and a rotating sample
    /// of eight other roots. Every CPU's TLB is checked for `touched` and
    /// for every kernel-half page it caches.
    ///
    /// What it relies on: `written` holds every page written since the last
    /// check (with none, it sees only the kernel's changes:
    /// `tests/checker_step.rs` shows what that misses), and a space that
    /// leaves the registry has its root written (freed, so zeroed) or its
    /// count changes, so a step that both adds and drops a space is seen. A
    /// space dropped without freeing its root while another is added in
    /// the same step is found by the next full check, which reads the
    /// registry afresh.
    pub fn step(&mut self, m: &Machine, touched: &[u64], written: &[PhysAddr]) -> Check {
        let now = Self::kernel_state(m);
        let changed: Vec<Shared> = if self.snapshot.len() == now.len() {
            now.iter()
                .zip(&self.snapshot)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, _)| Self::shared_at(m, i))
                .collect()
        } else {
            (0..now.len()).map(|i| Self::shared_at(m, i)).collect()
        };
        self.snapshot = now;
        // Spaces whose own tables the step wrote (before the registry is
        // read again: a destroyed space's freed root is among them).
        let mut dirty: Vec<u64> = written
            .iter()
            .flat_map(|p| self.spaces.owners_of(p.0 & !0xfff))
            .copied()
            .collect();
        dirty.sort_unstable();
        dirty.dedup();
        let mut whole: Vec<(PhysAddr, Option<PhysAddr>)> = Vec::new();
        if m.pt.space_count() != self.spaces.list.len() || !dirty.is_empty() {
            whole = self.spaces.update(m);
        }
        for root in dirty {
            if let Some(user) = self.spaces.relearn(m, root) {
                whole.push((PhysAddr(root), user));
            }
        }
        for &(root, user) in &whole {
            Self::check_space(m, &self.snapshot, root, user)?;
        }
        if !changed.is_empty() {
            for &(root, user) in &self.spaces.list {
                Self::check_shared(m, root, user, &changed)?;
            }
        }
        let mmu = m.arch.mmu();
        let w = Self::wanted(m, &*mmu, touched);
        let cpu_roots: Vec<PhysAddr> = m
            .cpus
            .borrow()
            .iter()
            .map(|c| PhysAddr(c.cpu.roots().user))
            .collect();
        for root in cpu_roots {
            self.check_root(m, &*mmu, root, touched, &w)?;
        }
        let n = self.spaces.list.len();
        if n > 0 {
            for k in 0..8.min(n) {
                let root = self.spaces.list[(self.rotate + k) % n].0;
                self.check_root(m, &*mmu, root, touched, &w)?;
            }
            self.rotate = (self.rotate + 8) % n;
        }
        self.check_tlbs(m, touched, &w)?;
        self.check_cached(m, &*mmu)
    }
}
