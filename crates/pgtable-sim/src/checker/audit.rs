//! The table audit: the checker's own walk of every root's tables.

use super::{trace, CheckFailure, Checker};
use crate::bus::PageBus;
use crate::machine::Machine;
use hashbrown::{HashMap, HashSet};
use pgtable::{Decoded, Level, PhysAddr};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};
use pgtable_mmu::Roots;

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

    /// Read the `count` entries of the table at `table` into `out`.
    pub(super) fn read_entries(m: &Machine, table: u64, count: usize, out: &mut Vec<u64>) {
        let (mem, esize) = (m.pt.mem(), m.arch.entry_size());
        out.clear();
        out.reserve(count);
        let end = table + count as u64 * esize;
        let mut pa = table;
        while pa < end {
            let page = pa & !0xfff;
            let stop = (page + 0x1000).min(end);
            match mem.peek_words(PhysAddr(page)) {
                Some(words) => {
                    let first = ((pa - page) / 8) as usize;
                    let last = (stop - page).div_ceil(8) as usize;
                    for w in &words[first..last] {
                        let v = w.load(std::sync::atomic::Ordering::Acquire);
                        if esize == 8 {
                            out.push(v);
                        } else if pa & 4 != 0 && out.is_empty() {
                            out.push(v >> 32);
                        } else {
                            out.extend([v & 0xffff_ffff, v >> 32]);
                        }
                    }
                }
                None => {
                    // Not a table frame at all: read it word by word (the
                    // allocation check reports it).
                    let mut p = pa;
                    while p < stop {
                        out.push(if esize == 8 {
                            mem.read_u64(PhysAddr(p))
                        } else {
                            u64::from(mem.read_u32(PhysAddr(p)))
                        });
                        p += esize;
                    }
                }
            }
            pa = stop;
        }
        out.truncate(count);
    }

    /// The level whose decoding applies to the entries of a table indexed
    /// by `level`'s bits (folded levels below pass through).
    fn resolve(m: &Machine, mut level: Level) -> Level {
        while m.arch.is_passthrough(level) {
            match level.next() {
                Some(l) => level = l,
                None => break,
            }
        }
        level
    }

    /// The address entry `i` of a table at `at` maps, and whether it serves
    /// the kernel half.
    fn entry_va(m: &Machine, at: At, i: usize, shift: u32) -> (u64, bool) {
        if !at.root {
            return (at.va.wrapping_add((i as u64) << shift), at.kernel);
        }
        if m.arch.split_roots() {
            // The kernel's root (TTBR1) maps the upper half alone, a
            // process's root the lower half alone. The kernel's root is
            // walked with the empty `reserved_pg_dir` below it.
            let kernel = m.pt.kernel_root().0;
            if at.roots.user != kernel && at.roots.user != m.kstate.reserved_pg_dir {
                return ((i as u64) << shift, false);
            }
            let base = 0u64.wrapping_sub(1u64 << m.arch.va_bits());
            return (base.wrapping_add((i as u64) << shift), true);
        }
        let slots = m.arch.kernel_top_slots();
        if slots.contains(&i) {
            let off = ((i - slots.start) as u64) << shift;
            (m.arch.kernel_start().wrapping_add(off), true)
        } else {
            ((i as u64) << shift, false)
        }
    }

    /// Visit the table at `table`, indexed by `level`'s bits, at `at`; of a
    /// root, only the slots `only` marks (all when `None`). Returns whether a
    /// written frame lies in its subtree.
    fn visit(
        &mut self,
        w: &mut Walk<'_>,
        level: Level,
        table: u64,
        at: At,
        only: Option<&[bool]>,
    ) -> bool {
        let m = w.m;
        let shift = m.arch.level_shift(level);
        let count = 1usize << m.arch.level_bits(level);
        if let Some(&sub) = w.visited.get(&table) {
            if sub && at.kernel && !at.covered && !at.root {
                let span = (count as u64) << shift;
                w.ranges
                    .push((at.roots, at.va, at.va.wrapping_add(span), None));
            }
            return sub;
        }
        w.visited.insert(table, false);
        let bytes = m.arch.table_bytes(level).max(1);
        let first_page = table & !0xfff;
        let written = w.full
            || (first_page..table + bytes)
                .step_by(0x1000)
                .any(|p| w.dirty.contains(&p));
        w.frames.extend((first_page..table + bytes).step_by(0x1000));
        let fresh = !matches!(self.cache.get(&table), Some(s) if s.level == level);
        let decode_level = Self::resolve(m, level);
        let child_level = decode_level.next();
        let mut changed: Vec<usize> = Vec::new();
        if written || fresh {
            w.rescanned += 1;
            Self::read_entries(m, table, count, &mut w.buf);
            let children: std::rc::Rc<[(usize, u64)]> = match child_level {
                Some(_) => w
                    .buf
                    .iter()
                    .enumerate()
                    .filter(|(_, &raw)| raw != 0)
                    .filter_map(|(i, &raw)| match m.arch.decode(decode_level, raw) {
                        Decoded::Table(t) => Some((i, t.0)),
                        _ => None,
                    })
                    .collect(),
                None => std::rc::Rc::from([]),
            };
            let old = match self.cache.get(&table) {
                Some(s) if !fresh && !w.full => Some(&s.raw),
                _ => None,
            };
            changed = (0..w.buf.len())
                .filter(|&i| old.map_or(w.buf[i] != 0, |o| o[i] != w.buf[i]))
                .collect();
            self.cache.insert(
                table,
                Scan {
                    level,
                    raw: w.buf.clone(),
                    children,
                },
            );
        }
        if !at.covered {
            let children = &self.cache[&table].children;
            for &i in changed.iter().filter(|&&i| only.is_none_or(|o| o[i])) {
                let (va, kernel) = Self::entry_va(m, at, i, shift);
                if kernel {
                    let under = children
                        .binary_search_by_key(&i, |c| c.0)
                        .ok()
                        .map(|c| (table + i as u64 * m.arch.entry_size(), children[c].1));
                    w.ranges
                        .push((at.roots, va, va.wrapping_add(1 << shift), under));
                }
            }
        }
        let children = self.cache[&table].children.clone();
        let mut sub = written;
        if let Some(cl) = child_level {
            for &(i, child) in children.iter() {
                if only.is_some_and(|o| !o[i]) {
                    continue;
                }
                let (va, kernel) = Self::entry_va(m, at, i, shift);
                let covered = at.covered || changed.binary_search(&i).is_ok();
                let child_at = At {
                    va,
                    kernel,
                    roots: at.roots,
                    covered,
                    root: false,
                };
                sub |= self.visit(w, cl, child, child_at, None);
            }
        }
        w.visited.insert(table, sub);
        sub
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
mod tests {
    use super::*;
    use crate::setup::{machine, Config};
    use crate::SimArch;
    use pgtable::arch::riscv64::Riscv64;

    /// riscv preallocates tables below the root that stay empty; the
    /// rights check skips them once the MMU is seen to walk into them. A
    /// user-accessible leaf written into one is found all the same, by
    /// the incremental audit and by the full one.
    #[test]
    fn a_leaf_in_a_table_read_empty_before_is_checked() {
        let m = machine(&Config {
            arch: SimArch::Riscv64(Riscv64::SV48),
            spaces: 2,
            ..Config::default()
        })
        .unwrap();
        let mut audit = Audit::new(&m);
        audit.check(&m, true).unwrap();
        let kroot = m.pt.kernel_root();
        let top = m.arch.top_level();
        let (child, level) = m
            .arch
            .kernel_top_slots()
            .find_map(
                |s| match m.arch.decode(top, Checker::slot_entry(&m, kroot, s)) {
                    Decoded::Table(t) => {
                        let mut raw = Vec::new();
                        Audit::read_entries(&m, t.0, 512, &mut raw);
                        raw.iter().all(|&e| e == 0).then_some(t)
                    }
                    _ => None,
                },
            )
            .map(|t| (t, top.next().unwrap()))
            .expect("an empty preallocated table");
        assert!(m.arch.leaf_allowed(level));
        let leaf = m
            .arch
            .encode_leaf(level, PhysAddr(0), pgtable::Prot::USER_RW);
        m.pt.mem().write_u64(child, leaf);
        let f = audit
            .check(&m, false)
            .expect_err("incremental audit passed");
        assert!(f.detail.contains("user=true"), "{f}");
        let f = audit.check(&m, true).expect_err("full audit passed");
        assert!(f.detail.contains("user=true"), "{f}");
    }
}
