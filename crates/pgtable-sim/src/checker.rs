//! The checker: (a) the kernel half of every registered root equals the
//! kernel's; (b) every kernel address the kernel users mapped translates,
//! through the software MMU, to the same frame and rights in every context
//! and from every CPU (its TLB included).
//!
//! It reads the tables only through raw memory and the independent MMU,
//! never through the library's walk.

use crate::bus::Bus;
use crate::machine::Machine;
use pgtable::{Arch, Decoded, Level, PhysAddr};
use pgtable_mmu::{Access, Mode};
use pgtable_mmu::{Fault, Mmu, Roots, Xlat};
use std::collections::{HashMap, HashSet};

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

/// Checker state: what the kernel's top level looked like last time, and
/// which roots were already checked in full.
#[derive(Debug, Default)]
pub struct Checker {
    snapshot: Vec<u64>,
    seen: HashSet<u64>,
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

    /// The roots a CPU would load for `root` (with the kernel's upper half
    /// on split-root architectures).
    fn roots(m: &Machine, root: u64) -> Roots {
        m.roots_for(root)
    }

    fn translate(m: &Machine, mmu: &dyn Mmu, root: u64, va: u64) -> Result<Xlat, Fault> {
        mmu.translate_any(
            &Bus(m.pt.mem()),
            &Self::roots(m, root),
            va,
            Access::Read,
            Mode::Supervisor,
        )
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
        slots: impl Iterator<Item = usize>,
    ) -> Check {
        let kroot = m.pt.kernel_root();
        let shared = m.pt.pti_slots().unwrap_or(0..0);
        for slot in slots {
            let kernel = Self::slot_entry(m, kroot, slot);
            let want = if user && !shared.contains(&slot) {
                0
            } else {
                kernel
            };
            let have = Self::slot_entry(m, root, slot);
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

    /// Whether a root's top-level kernel entry `have` matches the kernel's
    /// `want`. Where each process has its own copy of the table below the
    /// top (x86-32 PAE with per-process kernel PMDs), the two point at
    /// different tables whose entries must be equal instead.
    fn same_entry(m: &Machine, want: u64, have: u64) -> bool {
        use pgtable::arch::SyncMethod;
        if want == have {
            return true;
        }
        let top = m.arch.top_level();
        let copies = matches!(m.arch.sync_method(), SyncMethod::CopyEntries(l) if l > top);
        let (Decoded::Table(k), Decoded::Table(h), true) =
            (m.arch.decode(top, want), m.arch.decode(top, have), copies)
        else {
            return false;
        };
        let Some(child) = top.next() else {
            return false;
        };
        let size = m.arch.entry_size();
        (0..1u64 << m.arch.level_bits(child)).all(|i| {
            let have = Self::slot_entry(m, PhysAddr(h.0 + i * size), 0);
            // Under the lazy strategy an entry is copied on first fault.
            have == Self::slot_entry(m, PhysAddr(k.0 + i * size), 0)
                || (m.lazy_fixing() && have == 0)
        })
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

    /// (b) for `addrs` through `root`.
    fn check_root(&mut self, m: &Machine, root: PhysAddr, addrs: &[u64]) -> Check {
        let (mmu, kroot) = (m.arch.mmu(), m.pt.kernel_root().0);
        for &va in addrs {
            self.compared += 1;
            let want = Self::translate(m, &*mmu, kroot, va);
            let have = Self::translate(m, &*mmu, root.0, va);
            let ok = match (&want, &have) {
                (Ok(w), Ok(h)) => Self::same(w, h),
                (Err(_), Err(_)) => true,
                (Ok(_), Err(_)) => m.lazy_fixing(),
                (Err(_), Ok(_)) => false,
            };
            if !ok {
                return Err(CheckFailure {
                    root: root.0,
                    slot: None,
                    addr: Some(va),
                    detail: format!("kernel: {}, this root: {}", show(&want), show(&have)),
                });
            }
        }
        Ok(())
    }

    /// No CPU's TLB holds a translation the kernel's tables no longer give.
    fn check_tlbs(&mut self, m: &Machine, addrs: &[u64]) -> Check {
        let (mmu, kroot) = (m.arch.mmu(), m.pt.kernel_root().0);
        for (i, c) in m.cpus.borrow().iter().enumerate() {
            for &va in addrs {
                let Some(cached) = c.cpu.tlb_peek(va) else {
                    continue;
                };
                let want = Self::translate(m, &*mmu, kroot, va);
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
        let slots = m.arch.kernel_top_slots();
        self.snapshot = slots
            .clone()
            .map(|s| Self::slot_entry(m, m.pt.kernel_root(), s))
            .collect();
        let probes = Self::probes(m);
        let roots = m.pt.roots_with_user();
        self.seen = roots.iter().map(|r| r.0 .0).collect();
        for &(root, user) in &roots {
            Self::check_slots(m, root, false, slots.clone())?;
            self.check_root(m, root, &probes)?;
            if let Some(u) = user {
                Self::check_slots(m, u, true, slots.clone())?;
            }
        }
        self.check_tlbs(m, &probes)
    }

    /// Check after one step that touched `touched`: (a) for the kernel slots
    /// that changed since the last check in every root and in full for
    /// roots not seen before; (b) for `touched` through every CPU's root and
    /// a rotating sample of eight other roots.
    pub fn step(&mut self, m: &Machine, touched: &[u64]) -> Check {
        let slots = m.arch.kernel_top_slots();
        let first = slots.start;
        let now: Vec<u64> = slots
            .clone()
            .map(|s| Self::slot_entry(m, m.pt.kernel_root(), s))
            .collect();
        let changed: Vec<usize> = if self.snapshot.len() == now.len() {
            now.iter()
                .zip(&self.snapshot)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, _)| first + i)
                .collect()
        } else {
            slots.clone().collect()
        };
        self.snapshot = now;
        let with_user = m.pt.roots_with_user();
        for &(root, user) in &with_user {
            let check: Vec<usize> = if self.seen.insert(root.0) {
                slots.clone().collect()
            } else {
                changed.clone()
            };
            Self::check_slots(m, root, false, check.iter().copied())?;
            if let Some(u) = user {
                Self::check_slots(m, u, true, check.iter().copied())?;
            }
        }
        let roots: Vec<PhysAddr> = with_user.iter().map(|r| r.0).collect();
        let cpu_roots: Vec<PhysAddr> = m
            .cpus
            .borrow()
            .iter()
            .map(|c| PhysAddr(c.cpu.roots().user))
            .collect();
        for root in cpu_roots {
            self.check_root(m, root, touched)?;
        }
        if !roots.is_empty() {
            for k in 0..8.min(roots.len()) {
                let root = roots[(self.rotate + k) % roots.len()];
                self.check_root(m, root, touched)?;
            }
            self.rotate = (self.rotate + 8) % roots.len();
        }
        self.check_tlbs(m, touched)
    }
}

fn show(r: &Result<Xlat, Fault>) -> String {
    match r {
        Ok(t) => format!("pa {:#x}{}", t.pa, if t.writable { " rw" } else { " ro" }),
        Err(f) => format!("{} fault at level {}", f.kind.name(), f.level),
    }
}

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
    /// (entry index, child table).
    children: Vec<(usize, u64)>,
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
    frames: HashSet<u64>,
    /// (roots, start, end) whose kernel leaves to check.
    ranges: Vec<(Roots, u64, u64)>,
    rescanned: usize,
    buf: Vec<u64>,
}

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

    /// Read the `count` entries of the table at `table` into `out`.
    fn read_entries(m: &Machine, table: u64, count: usize, out: &mut Vec<u64>) {
        let (mem, esize) = (m.pt.mem(), m.arch.entry_size());
        out.clear();
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
            if at.roots.user != kernel && at.roots.user != m.reserved_pg_dir {
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
                w.ranges.push((at.roots, at.va, at.va.wrapping_add(span)));
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
            let children: Vec<(usize, u64)> = match child_level {
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
                None => Vec::new(),
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
            for &i in changed.iter().filter(|&&i| only.is_none_or(|o| o[i])) {
                let (va, kernel) = Self::entry_va(m, at, i, shift);
                if kernel {
                    w.ranges.push((at.roots, va, va.wrapping_add(1 << shift)));
                }
            }
        }
        let children = self.cache[&table].children.clone();
        let mut sub = written;
        if let Some(cl) = child_level {
            for (i, child) in children {
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
            frames: HashSet::new(),
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
        let user_slots = |root: PhysAddr| -> Vec<bool> {
            let n = 1usize << m.arch.level_bits(Level::Pgd);
            (0..n)
                .map(|i| {
                    !slots.contains(&i)
                        || Checker::slot_entry(m, root, i) != Checker::slot_entry(m, kroot, i)
                })
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
        let mut frames: Vec<u64> = w.frames.iter().copied().collect();
        frames.sort_unstable();
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
        let bus = Bus(mem);
        w.ranges
            .sort_unstable_by_key(|r| (r.0.user, r.0.kernel, r.1));
        w.ranges.dedup();
        let mut bad = None;
        for &(roots, start, end) in &w.ranges {
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
