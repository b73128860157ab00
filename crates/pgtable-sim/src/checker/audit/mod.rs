//! The table audit: the checker's own walk of every root's tables.

use super::{trace, CheckFailure, Checker};
use crate::bus::PageBus;
use crate::machine::Machine;
use hashbrown::{HashMap, HashSet};
use pgtable::{KernelPolicy, PagingGeometry};
use pgtable::{Level, PhysAddr};
use pgtable_mmu::Roots;

mod walk;

/// What one [`Audit::check`] found when clean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Table frames reached from the roots (each counted once).
    pub frames: usize,
    /// Tables read afresh (the others had not been written since).
    pub rescanned: usize,
    /// Virtual ranges whose leaves the MMU enumerated for the rights checks.
    pub ranges: usize,
}

/// A table's entries as last read, and the tables they point at.
struct Scan {
    level: Level,
    raw: Vec<u64>,
    /// (entry index, child table); shared so a walk can hold them while
    /// the cache changes.
    children: std::rc::Rc<[(usize, u64)]>,
}

/// The table audit: the checker's own walk of every root's tables, read
/// from raw memory (never through the library's walk or its
/// `reachable_tables()`), after every step:
///
/// - every table frame reached is allocated, and their number equals the
///   memory's [`tables_in_use`](TableMemory::tables_in_use): no frame leaked,
///   none freed while still linked;
/// - through the independent MMU, no leaf of the kernel half is
///   user-accessible or both writable and executable (unless allowed), from
///   the kernel root, from each process root (the kernel entries it holds
///   itself) and from each PTI user-mode root.
///
/// It turns on the memory's write log and rereads only the table frames
/// written since the last check; the rights are checked over the virtual
/// ranges whose entries changed (an entry's whole span, so a changed upper
/// entry covers everything below it). [`Audit::check`] with `full` rereads
/// every table and checks every leaf.
#[derive(Default)]
pub struct Audit {
    cache: HashMap<u64, Scan>,
    /// Kernel virtual ranges `[start, end)` allowed to be writable and
    /// executable at once.
    pub allow_wx: Vec<(u64, u64)>,
    /// Pages written that someone else took from the write log.
    taken: Vec<u64>,
}

struct Walk<'a> {
    m: &'a Machine,
    dirty: HashSet<u64>,
    full: bool,
    /// Table → whether a written frame lies in its subtree.
    visited: HashMap<u64, bool>,
    /// Table frames reached (with repeats: a table is visited once, but
    /// 4-byte-entry tables can share a page).
    frames: Vec<u64>,
    /// (roots, start, end) whose kernel leaves to check.
    ranges: Vec<Range>,
    rescanned: usize,
    buf: Vec<u64>,
}

/// (roots, start, end) of kernel leaves to check and, for a range under
/// one entry, that entry's address and the table it points at by the scan.
type Range = (Roots, u64, u64, Option<(u64, u64)>);

/// Where a visited table sits.
#[derive(Clone, Copy)]
struct At {
    /// Virtual address its first entry maps (unused for a root).
    va: u64,
    /// It serves the kernel half (unused for a root).
    kernel: bool,
    /// The roots a CPU uses to reach it, for the MMU's checks.
    roots: Roots,
    /// An enclosing range is checked already.
    covered: bool,
    /// It is a root: its entries' addresses come from the slot layout.
    root: bool,
}

impl Audit {
    /// An audit of `m`: turns on the write log of its memory.
    pub fn new(m: &Machine) -> Self {
        m.pt.mem().log_writes(true);
        let _ = m.pt.mem().take_written();
        Self::default()
    }

    /// Pages written that the caller took from the memory's write log
    /// ([`take_written`](pgtable::SparseMemory::take_written)), to watch a
    /// call write nothing: the next check rereads them as if still logged.
    pub fn mark_written(&mut self, pages: impl IntoIterator<Item = PhysAddr>) {
        self.taken.extend(pages.into_iter().map(|p| p.0));
    }

    /// The pages written since the last check: the memory's write log,
    /// taken now, and those handed over by
    /// [`mark_written`](Self::mark_written). The next check rereads them
    /// all the same; this is for a [`Checker::step`] run beside the audit.
    pub fn pending(&mut self, m: &Machine) -> Vec<PhysAddr> {
        self.taken
            .extend(m.pt.mem().take_written().into_iter().map(|p| p.0));
        self.taken.iter().map(|&p| PhysAddr(p)).collect()
    }

    /// Walk every root; check the frames and, through the MMU, the rights
    /// of the kernel leaves in the ranges that changed (all of them when
    /// `full`, which also forgets every table read before).
    pub fn check(&mut self, m: &Machine, full: bool) -> Result<AuditReport, CheckFailure> {
        let mem = m.pt.mem();
        if full {
            self.cache.clear();
        }
        let mut dirty: HashSet<u64> = mem.take_written().into_iter().map(|p| p.0).collect();
        dirty.extend(self.taken.drain(..));
        let mut w = Walk {
            m,
            dirty,
            full,
            visited: HashMap::new(),
            frames: Vec::new(),
            ranges: Vec::new(),
            rescanned: 0,
            buf: Vec::with_capacity(4096),
        };
        let kroot = m.pt.kernel_root();
        let slots = m.arch.kernel_top_slots();
        let root_at = |roots| At {
            va: 0,
            kernel: false,
            roots,
            covered: false,
            root: true,
        };
        let kroots = Checker::roots(m, kroot.0);
        self.visit(&mut w, Level::Pgd, kroot.0, root_at(kroots), None);
        // Other roots: their user half, and the kernel slots they hold
        // themselves (an entry equal to the kernel's leads to the tables
        // just walked, with the same rights).
        let n = 1usize << m.arch.level_bits(Level::Pgd);
        let mut kernel_top = Vec::new();
        Self::read_entries(m, kroot.0, n, &mut kernel_top);
        let mut top = Vec::new();
        let mut user_slots = |root: PhysAddr| -> Vec<bool> {
            Self::read_entries(m, root.0, n, &mut top);
            (0..n)
                .map(|i| !slots.contains(&i) || top[i] != kernel_top[i])
                .collect()
        };
        for (root, user) in m.pt.roots_with_user() {
            if root != kroot {
                let own = user_slots(root);
                let roots = Checker::roots(m, root.0);
                self.visit(&mut w, Level::Pgd, root.0, root_at(roots), Some(&own));
            }
            if let Some(u) = user {
                let own = user_slots(u);
                let roots = Roots::single(u.0);
                self.visit(&mut w, Level::Pgd, u.0, root_at(roots), Some(&own));
            }
        }
        // Frames: each allocated, and all of the allocated ones reached.
        let fail = |addr: Option<u64>, detail: String| CheckFailure {
            root: kroot.0,
            slot: None,
            addr,
            detail,
        };
        let mut frames = std::mem::take(&mut w.frames);
        frames.sort_unstable();
        frames.dedup();
        if let Some(&f) = frames
            .iter()
            .find(|&&f| !mem.is_table_allocated(PhysAddr(f)))
        {
            return Err(fail(
                None,
                format!("table frame {f:#x} is linked but not allocated (freed while in use)"),
            ));
        }
        if frames.len() != mem.tables_in_use() {
            return Err(fail(
                None,
                format!(
                    "{} table frames allocated, {} reachable from the roots: frames leaked",
                    mem.tables_in_use(),
                    frames.len()
                ),
            ));
        }
        // Rights of the kernel leaves where entries changed.
        let has_nx = !matches!(m.arch, crate::SimArch::X86_32(a) if !a.pae);
        let mmu = m.arch.mmu();
        let bus = PageBus::new(mem);
        w.ranges
            .sort_unstable_by_key(|r| (r.0.user, r.0.kernel, r.1));
        w.ranges.dedup();
        // A range under an entry whose table the scan read as all zero has
        // no leaf, if the MMU too goes from that entry into that table: a
        // walk of its first address shows where the MMU goes (a zero entry
        // is invalid in every mode, and the rest of the table is zero).
        let empty = |under: Option<(u64, u64)>, roots: &Roots, start: u64| {
            let Some((entry, child)) = under else {
                return false;
            };
            let Some(scan) = self.cache.get(&child) else {
                return false;
            };
            let bytes = m.arch.table_bytes(scan.level);
            scan.raw.iter().all(|&e| e == 0)
                && trace::walk_enters(m, &*mmu, roots, start, entry, child..child + bytes)
        };
        // Ranges that meet are enumerated as one (the MMU then scans the
        // tables above them once, not once per range).
        let mut spans: Vec<(Roots, u64, u64)> = Vec::with_capacity(w.ranges.len());
        for &(roots, start, end, under) in &w.ranges {
            if empty(under, &roots, start) {
                continue;
            }
            match spans.last_mut() {
                Some(last) if last.0 == roots && last.2 == start && start != 0 => last.2 = end,
                _ => spans.push((roots, start, end)),
            }
        }
        let mut bad = None;
        for &(roots, start, end) in &spans {
            // The ranges lie in the kernel half (an end of 0 is the top of
            // the address space).
            let _ = mmu.for_each_leaf(&bus, &roots, start, end, &mut |l: &pgtable_mmu::Leaf| {
                let x = l.xlat;
                let allowed = self.allow_wx.iter().any(|&(a, b)| a <= l.va && l.va < b);
                if x.user || (has_nx && x.writable && x.executable && !allowed) {
                    bad.get_or_insert((
                        roots.user,
                        l.va,
                        format!(
                            "kernel leaf user={} writable={} executable={}",
                            x.user, x.writable, x.executable
                        ),
                    ));
                }
            });
            if let Some((root, va, detail)) = bad.take() {
                return Err(CheckFailure {
                    root,
                    slot: None,
                    addr: Some(va),
                    detail,
                });
            }
        }
        // Forget tables no longer reached.
        if self.cache.len() > 2 * w.visited.len() + 64 {
            self.cache.retain(|t, _| w.visited.contains_key(t));
        }
        Ok(AuditReport {
            frames: frames.len(),
            rescanned: w.rescanned,
            ranges: w.ranges.len(),
        })
    }
}

#[cfg(test)]
mod tests;
