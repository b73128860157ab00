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
mod spaces;
mod trace;

pub use audit::{Audit, AuditReport};

use crate::machine::Machine;
use hashbrown::HashMap;
use pgtable::{Decoded, Level, PhysAddr};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};
use pgtable_mmu::{Fault, Mmu, Roots, Xlat};
use spaces::Spaces;
use trace::RootReads;

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

/// An entry every space must agree with the kernel on.
#[derive(Clone, Copy, Debug)]
enum Shared {
    /// Kernel slot `s` of the root.
    Slot(usize),
    /// Entry `i` of the table under kernel slot `s`, where each space has
    /// its own copy of that table and the sync copies its entries (x86-32
    /// PAE with per-process kernel PMDs).
    Below(usize, usize),
}

/// The kernel's translations of some addresses, grouped by what their
/// walks read of the kernel's root tables ([`trace`]).
struct Wanted {
    want: Vec<Result<Xlat, Fault>>,
    /// Each walk's first read past the root tables (address, value).
    next: Vec<Option<(u64, u64)>>,
    /// (what the walks read of the root tables, the addresses' indices).
    groups: Vec<(RootReads, Vec<usize>)>,
}

impl Checker {
    /// A checker that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The roots a CPU would load for `root` (with the kernel's upper half
    /// on split-root architectures).
    fn roots(m: &Machine, root: u64) -> Roots {
        m.roots_for(root)
    }

    fn slot_entry(m: &Machine, root: PhysAddr, slot: usize) -> u64 {
        let size = m.arch.entry_size();
        let pa = PhysAddr(root.0 + slot as u64 * size);
        if size == 8 {
            m.pt.mem().read_u64(pa)
        } else {
            u64::from(m.pt.mem().read_u32(pa))
        }
    }

    /// (a) for `slots` of `root`. Under the lazy strategy a root may lack an
    /// entry the kernel has (it is copied on the first fault), but never
    /// hold a different one.
    /// A PTI user-mode root must hold the kernel's entry in the shared
    /// (entry-area) slots and nothing in any other kernel slot.
    fn check_slots(
        m: &Machine,
        root: PhysAddr,
        user: bool,
        slots: std::ops::Range<usize>,
    ) -> Check {
        let kroot = m.pt.kernel_root();
        let shared = m.pt.pti_slots().unwrap_or(0..0);
        let (esize, first) = (m.arch.entry_size(), slots.start as u64);
        let (mut kernel, mut own) = (Vec::new(), Vec::new());
        Audit::read_entries(m, kroot.0 + first * esize, slots.len(), &mut kernel);
        Audit::read_entries(m, root.0 + first * esize, slots.len(), &mut own);
        for ((slot, &kernel), &have) in slots.zip(&kernel).zip(&own) {
            let want = if user && !shared.contains(&slot) {
                0
            } else {
                kernel
            };
            let lazily_missing = m.lazy_fixing() && have == 0;
            if !lazily_missing && !Self::same_entry(m, want, have) {
                return Err(CheckFailure {
                    root: root.0,
                    slot: Some(slot),
                    addr: None,
                    detail: format!("top-level entry {have:#x}, kernel has {want:#x}"),
                });
            }
        }
        Ok(())
    }

    /// The level of the tables each space copies entry by entry just below
    /// its root, if the sync works there (x86-32 PAE with per-process
    /// kernel PMDs).
    fn copied_level(m: &Machine) -> Option<Level> {
        use pgtable::arch::SyncMethod;
        let top = m.arch.top_level();
        match m.arch.sync_method() {
            SyncMethod::CopyEntries(l) if l > top => top.next(),
            _ => None,
        }
    }

    /// The table `root`'s top-level entry `slot` points at, if any.
    fn child(m: &Machine, root: PhysAddr, slot: usize) -> Option<PhysAddr> {
        match m
            .arch
            .decode(m.arch.top_level(), Self::slot_entry(m, root, slot))
        {
            Decoded::Table(t) => Some(t),
            _ => None,
        }
    }

    /// Whether a root's top-level kernel entry `have` matches the kernel's
    /// `want`. Where each process has its own copy of the table below the
    /// top (x86-32 PAE with per-process kernel PMDs), the two point at
    /// different tables whose entries must be equal instead.
    fn same_entry(m: &Machine, want: u64, have: u64) -> bool {
        if want == have {
            return true;
        }
        let top = m.arch.top_level();
        let (Decoded::Table(k), Decoded::Table(h), Some(child)) = (
            m.arch.decode(top, want),
            m.arch.decode(top, have),
            Self::copied_level(m),
        ) else {
            return false;
        };
        let n = 1usize << m.arch.level_bits(child);
        let (mut kernel, mut own) = (Vec::with_capacity(n), Vec::with_capacity(n));
        Audit::read_entries(m, k.0, n, &mut kernel);
        Audit::read_entries(m, h.0, n, &mut own);
        // Under the lazy strategy an entry is copied on first fault.
        kernel
            .iter()
            .zip(&own)
            .all(|(&k, &h)| h == k || (m.lazy_fixing() && h == 0))
    }

    /// (a) for one entry below the top (see [`Shared::Below`]). A root
    /// whose slot holds no table is the slot check's to judge.
    fn check_below(m: &Machine, root: PhysAddr, slot: usize, i: usize) -> Check {
        let kroot = m.pt.kernel_root();
        let (Some(k), Some(h)) = (Self::child(m, kroot, slot), Self::child(m, root, slot)) else {
            return Self::check_slots(m, root, false, slot..slot + 1);
        };
        let size = m.arch.entry_size();
        let want = Self::slot_entry(m, PhysAddr(k.0 + i as u64 * size), 0);
        let have = Self::slot_entry(m, PhysAddr(h.0 + i as u64 * size), 0);
        if have == want || (m.lazy_fixing() && have == 0) {
            return Ok(());
        }
        Err(CheckFailure {
            root: root.0,
            slot: Some(slot),
            addr: None,
            detail: format!("entry {i} below the top is {have:#x}, kernel has {want:#x}"),
        })
    }

    /// The entries every space shares with the kernel, as the kernel holds
    /// them now: its kernel slots, then, where each space copies the table
    /// below a slot, that table's entries slot by slot.
    fn kernel_state(m: &Machine) -> Vec<u64> {
        let (slots, kroot) = (m.arch.kernel_top_slots(), m.pt.kernel_root());
        let esize = m.arch.entry_size();
        let mut state = Vec::new();
        Audit::read_entries(
            m,
            kroot.0 + slots.start as u64 * esize,
            slots.len(),
            &mut state,
        );
        if let Some(child) = Self::copied_level(m) {
            let n = 1usize << m.arch.level_bits(child);
            let mut buf = Vec::with_capacity(n);
            for slot in slots {
                match Self::child(m, kroot, slot) {
                    Some(t) => {
                        Audit::read_entries(m, t.0, n, &mut buf);
                        state.extend_from_slice(&buf);
                    }
                    None => state.resize(state.len() + n, 0),
                }
            }
        }
        state
    }

    /// The entry at index `i` of [`kernel_state`](Self::kernel_state).
    fn shared_at(m: &Machine, i: usize) -> Shared {
        let slots = m.arch.kernel_top_slots();
        if i < slots.len() {
            return Shared::Slot(slots.start + i);
        }
        let n = Self::copied_level(m).map_or(1, |c| 1usize << m.arch.level_bits(c));
        let k = i - slots.len();
        Shared::Below(slots.start + k / n, k % n)
    }

    /// (a) in full for one space: every kernel slot (and every entry
    /// below them that it copies), of its root and of its PTI user-mode
    /// root. `state` is the kernel's [`kernel_state`](Self::kernel_state)
    /// now: a slot equal to it, or whose copy below equals it, passes
    /// without reading the kernel's tables again; any other goes through
    /// [`check_slots`](Self::check_slots).
    fn check_space(m: &Machine, state: &[u64], root: PhysAddr, user: Option<PhysAddr>) -> Check {
        let slots = m.arch.kernel_top_slots();
        let (esize, n) = (m.arch.entry_size(), slots.len());
        let mut own = Vec::with_capacity(n);
        Audit::read_entries(m, root.0 + slots.start as u64 * esize, n, &mut own);
        let lazy = m.lazy_fixing();
        let copied = Self::copied_level(m).map(|c| 1usize << m.arch.level_bits(c));
        let mut below = Vec::new();
        for (j, (&have, &kernel)) in own.iter().zip(&state[..n]).enumerate() {
            if have == kernel || (lazy && have == 0) {
                continue;
            }
            let slot = slots.start + j;
            if let (Some(cn), Decoded::Table(t), Decoded::Table(_)) = (
                copied,
                m.arch.decode(m.arch.top_level(), have),
                m.arch.decode(m.arch.top_level(), kernel),
            ) {
                let want = &state[n + j * cn..n + (j + 1) * cn];
                let agrees = |h: u64, k: u64| h == k || (lazy && h == 0);
                let same = match m.pt.mem().peek_words(t) {
                    // A whole page of 8-byte entries: compared in place.
                    Some(words) if esize == 8 && cn == words.len() => words
                        .iter()
                        .zip(want)
                        .all(|(h, &k)| agrees(h.load(std::sync::atomic::Ordering::Acquire), k)),
                    _ => {
                        Audit::read_entries(m, t.0, cn, &mut below);
                        below.iter().zip(want).all(|(&h, &k)| agrees(h, k))
                    }
                };
                if same {
                    continue;
                }
            }
            Self::check_slots(m, root, false, slot..slot + 1)?;
        }
        if let Some(u) = user {
            Self::check_slots(m, u, true, slots)?;
        }
        Ok(())
    }

    /// (a) for the entries `at` of one space.
    fn check_shared(m: &Machine, root: PhysAddr, user: Option<PhysAddr>, at: &[Shared]) -> Check {
        for &s in at {
            match s {
                Shared::Slot(slot) => {
                    Self::check_slots(m, root, false, slot..slot + 1)?;
                    if let Some(u) = user {
                        Self::check_slots(m, u, true, slot..slot + 1)?;
                    }
                }
                // PTI user-mode roots exist only where the sync copies
                // top-level entries (x86-64).
                Shared::Below(slot, i) => Self::check_below(m, root, slot, i)?,
            }
        }
        Ok(())
    }

    /// Addresses to probe: the first, middle and last page of each range.
    fn probes(m: &Machine) -> Vec<u64> {
        let mut v = Vec::new();
        for (s, e, _) in m.mapped_ranges() {
            v.extend([s, s + (((e - s) / 2) & !0xfff), e - 4096]);
        }
        v
    }

    fn same(a: &Xlat, b: &Xlat) -> bool {
        (a.pa, a.writable, a.user, a.executable) == (b.pa, b.writable, b.user, b.executable)
    }

    /// The kernel's translation of each of `addrs`, walked once.
    fn wanted(m: &Machine, mmu: &dyn Mmu, addrs: &[u64]) -> Wanted {
        let kroots = Self::roots(m, m.pt.kernel_root().0);
        let mut want = Vec::with_capacity(addrs.len());
        let mut next = Vec::with_capacity(addrs.len());
        let mut index: HashMap<RootReads, usize> = HashMap::new();
        let mut groups: Vec<(RootReads, Vec<usize>)> = Vec::new();
        for (i, &va) in addrs.iter().enumerate() {
            let t = trace::traced(m, mmu, &kroots, va);
            want.push(t.result);
            next.push(t.next);
            let g = *index.entry(t.reads.clone()).or_insert_with(|| {
                groups.push((t.reads, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        Wanted { want, next, groups }
    }

    /// Whether `have`, `va`'s translation through `root`, is the kernel's
    /// `want` (or, under the lazy strategy, a fault yet to be fixed).
    fn judge(
        m: &Machine,
        root: PhysAddr,
        va: u64,
        want: &Result<Xlat, Fault>,
        have: &Result<Xlat, Fault>,
    ) -> Check {
        let ok = match (want, have) {
            (Ok(w), Ok(h)) => Self::same(w, h),
            (Err(_), Err(_)) => true,
            (Ok(_), Err(_)) => m.lazy_fixing(),
            (Err(_), Ok(_)) => false,
        };
        if ok {
            return Ok(());
        }
        Err(CheckFailure {
            root: root.0,
            slot: None,
            addr: Some(va),
            detail: format!("kernel: {}, this root: {}", show(want), show(have)),
        })
    }

    /// (b) for `addrs` through `root`: the same translation as the
    /// kernel's, `w`. An address whose walk through `root` reads what the
    /// kernel's read of the root tables is the same walk ([`trace`]); the
    /// others are walked, but where the space copies the table below its
    /// root entry: there the first of a group is walked, which shows where
    /// the copy lies ([`trace::copy_distance`]), and the others' walks are
    /// the kernel's if the copy holds what the kernel's walk read there.
    fn check_root(
        &mut self,
        m: &Machine,
        mmu: &dyn Mmu,
        root: PhysAddr,
        addrs: &[u64],
        w: &Wanted,
    ) -> Check {
        let roots = Self::roots(m, root.0);
        let copies = Self::copied_level(m).is_some();
        let lazy = m.lazy_fixing();
        for (reads, group) in &w.groups {
            self.compared += group.len() as u64;
            if trace::reads_same(m, &roots, reads) {
                continue;
            }
            // Under the lazy strategy a missing entry faults until the
            // first fault copies it: allowed ([`Self::judge`]).
            if lazy && trace::first_read_zero(m, &roots, reads) {
                continue;
            }
            let (mut rest, mut moved) = (&group[..], None);
            if let (true, [kernel], Some(&first)) = (copies, &reads[..], group.first()) {
                let t = trace::traced(m, mmu, &roots, addrs[first]);
                Self::judge(m, root, addrs[first], &w.want[first], &t.result)?;
                rest = &group[1..];
                if let [own] = &t.reads[..] {
                    moved = own
                        .same_place(kernel)
                        .then(|| {
                            trace::copy_distance(own.value, kernel.value, t.next, w.next[first])
                        })
                        .flatten();
                }
            }
            for &i in rest {
                if let (Some(d), Some((k, v))) = (moved, w.next[i]) {
                    let own = m.pt.mem().read_u64(PhysAddr(k.wrapping_add(d)));
                    // The same entry, or (lazy) none yet: a fault there.
                    if own == v || (lazy && own == 0) {
                        continue;
                    }
                }
                let have = trace::translate(m, mmu, &roots, addrs[i]);
                Self::judge(m, root, addrs[i], &w.want[i], &have)?;
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation of `addrs` the kernel's tables no
    /// longer give (`w`).
    fn check_tlbs(&mut self, m: &Machine, addrs: &[u64], w: &Wanted) -> Check {
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for (&va, want) in addrs.iter().zip(&w.want) {
                let Some(cached) = c.cpu.tlb_peek(va) else {
                    continue;
                };
                if !want.as_ref().is_ok_and(|w| Self::same(w, &cached)) {
                    return Err(CheckFailure {
                        root: c.cpu.roots().user,
                        slot: None,
                        addr: Some(va),
                        detail: format!(
                            "cpu{i} TLB holds pa {:#x}, tables give {}",
                            cached.pa,
                            show(want)
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation of a kernel-half page that the
    /// kernel's tables no longer give: a translation goes stale only when
    /// the tables change, so after every step every cached one is looked at.
    fn check_cached(&mut self, m: &Machine, mmu: &dyn Mmu) -> Check {
        let kroots = Self::roots(m, m.pt.kernel_root().0);
        let kernel_start = m.arch.kernel_start();
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for (va, cached) in c.cpu.tlb_entries() {
                if va < kernel_start {
                    continue;
                }
                let want = trace::translate(m, mmu, &kroots, va);
                if !want.as_ref().is_ok_and(|w| Self::same(w, &cached)) {
                    return Err(CheckFailure {
                        root: c.cpu.roots().user,
                        slot: None,
                        addr: Some(va),
                        detail: format!(
                            "cpu{i} TLB holds pa {:#x}, tables give {}",
                            cached.pa,
                            show(&want)
                        ),
                    });
                }
            }
        }
        Ok(())
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

fn show(r: &Result<Xlat, Fault>) -> String {
    match r {
        Ok(t) => format!("pa {:#x}{}", t.pa, if t.writable { " rw" } else { " ro" }),
        Err(f) => format!("{} fault at level {}", f.kind.name(), f.level),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setup::{machine, Config};
    use crate::{Context, SimArch};
    use pgtable::arch::x86_32::X86_32;

    /// Where each process copies the kernel's PMD, the translation check
    /// walks one address of a group and takes the others' walks as the
    /// kernel's only where the copy holds what the kernel's walk read: a
    /// copy entry changed under another address of the group is found.
    #[test]
    fn copied_tables_are_compared_where_the_kernel_walk_read() {
        let m = machine(&Config {
            arch: SimArch::X86_32(X86_32::PAE_UNSHARED_PMD),
            spaces: 2,
            ..Config::default()
        })
        .unwrap();
        let mut k = m.kernel();
        for _ in 0..40 {
            k.vmalloc(crate::Era::V617, 1).unwrap();
        }
        let mmu = m.arch.mmu();
        let probes = Checker::probes(&m);
        let w = Checker::wanted(&m, &*mmu, &probes);
        let root = m.root_of(Context::Process(0)).unwrap();
        let mut checker = Checker::new();
        checker.check_root(&m, &*mmu, root, &probes, &w).unwrap();
        // An address of a group whose kernel PMD entry is not the first
        // one's: only the copy's entry tells its walk from the kernel's.
        let (_, group) = w.groups.iter().find(|g| g.1.len() > 1).unwrap();
        let first = w.next[group[0]].unwrap().0;
        let &i = group
            .iter()
            .find(|&&i| w.next[i].is_some_and(|(a, _)| a & !7 != first & !7))
            .expect("two PMD entries in one group");
        let (kernel_entry, _) = w.next[i].unwrap();
        let slot = m.arch.kernel_top_slots().start;
        let copy = Checker::child(&m, root, slot).unwrap().0 + (kernel_entry & 0xfff);
        m.pt.mem().write_u64(PhysAddr(copy), 0);
        let f = checker
            .check_root(&m, &*mmu, root, &probes, &w)
            .expect_err("a zeroed entry of the copy passed");
        assert_eq!(f.root, root.0);
        let va = f.addr.unwrap();
        assert_eq!(
            w.next[probes.iter().position(|&p| p == va).unwrap()]
                .unwrap()
                .0,
            kernel_entry
        );
    }
}
