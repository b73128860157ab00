//! Whole-state snapshots for the reliability tests (hostile inputs,
//! allocation-failure sweeps, fuzzing): every non-zero entry of every table
//! reachable from the kernel root and from each registered root, read with
//! the public [`TableMemory`] and [`Arch::decode`] only, plus the counters.
//!
//! [`reachable_frames`] is the leak oracle of the tests: it counts the
//! table frames reachable from the roots with the same independent walk,
//! never with the library's own [`PageTables::reachable_tables`].
#![allow(dead_code)]

use pgtable::{
    Arch, Decoded, Level, PageTables, PhysAddr, SyncStats, TableMemory, VirtAddr, PAGE_SIZE,
};
use std::collections::{BTreeMap, BTreeSet};

/// One leaf seen from one root: (root, first va, level, raw entry).
pub type Leaf = (u64, u64, Level, u64);

/// Everything observable about the tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// (table frame, index) → raw entry, for every non-zero entry of every
    /// reachable table (each table once).
    pub entries: BTreeMap<(u64, u64), u64>,
    /// Every leaf as seen from every root, the kernel's included.
    pub leaves: BTreeSet<Leaf>,
    pub tables_in_use: usize,
    /// Table frames reachable from the roots ([`reachable_frames`]).
    pub reachable: usize,
    pub stats: SyncStats,
    pub out_of_sync: Option<(PhysAddr, usize)>,
    pub roots: Vec<PhysAddr>,
}

/// The real level below `level` (skipping folded ones).
pub fn next_real<A: Arch>(arch: &A, level: Level) -> Option<Level> {
    let mut l = level.next()?;
    while arch.is_folded(l) {
        l = l.next()?;
    }
    Some(l)
}

fn sign_extend<A: Arch>(arch: &A, va: u64) -> u64 {
    if arch.kernel_end() != 0 || arch.va_bits() >= 64 {
        // A 32-bit address space: nothing to extend.
        return va;
    }
    let unused = 64 - arch.va_bits();
    (((va << unused) as i64) >> unused) as u64
}

/// Entry `i` of `table`, read with the public [`TableMemory`] reads only.
fn entry<A: Arch, M: TableMemory>(pt: &PageTables<A, M>, table: u64, i: u64) -> u64 {
    let size = pt.arch().entry_size();
    let pa = PhysAddr(table + i * size);
    if size == 8 {
        pt.mem().read_u64(pa)
    } else {
        u64::from(pt.mem().read_u32(pa))
    }
}

/// The level whose bits index `table`: a root is indexed with the PGD's
/// bits even when the top real level is a folded P4D (4-level x86-64: the
/// root holds P4D entries).
fn index_level(table: u64, root: u64, level: Level) -> Level {
    if table == root {
        Level::Pgd
    } else {
        level
    }
}

/// Every root: the kernel root, each registered root and its user copy
/// (PTI).
fn all_roots<A: Arch, M: TableMemory>(pt: &PageTables<A, M>) -> Vec<PhysAddr> {
    let mut roots = vec![pt.kernel_root()];
    for (root, user) in pt.roots_with_user() {
        roots.push(root);
        roots.extend(user);
    }
    roots
}

/// The page frames reachable from every root (the roots' own included),
/// each once; a table smaller than a page (a fragment) counts its page, a
/// larger one (arm32's 16 KiB first level) each of its pages. This is what
/// `tables_in_use()` must equal when no frame leaked.
pub fn reachable_frames<A: Arch, M: TableMemory>(pt: &PageTables<A, M>) -> usize {
    reachable(pt).1.len()
}

/// The tables (by address) and the page frames reachable from every root,
/// the roots included: what [`reachable_frames`] counts.
pub fn reachable<A: Arch, M: TableMemory>(pt: &PageTables<A, M>) -> (BTreeSet<u64>, BTreeSet<u64>) {
    let arch = *pt.arch();
    let mut tables = BTreeSet::new();
    let mut frames = BTreeSet::new();
    let mut stack: Vec<(u64, u64, Level)> = all_roots(pt)
        .into_iter()
        .map(|r| (r.0, r.0, arch.top_level()))
        .collect();
    while let Some((root, table, level)) = stack.pop() {
        if !tables.insert(table) {
            continue;
        }
        let index = index_level(table, root, level);
        let bytes = arch.table_bytes(index).max(1);
        frames.extend(((table & !(PAGE_SIZE - 1))..table + bytes).step_by(PAGE_SIZE as usize));
        for i in 0..(1u64 << arch.level_bits(index)) {
            let raw = entry(pt, table, i);
            if raw == 0 {
                continue;
            }
            if let Decoded::Table(t) = arch.decode(level, raw) {
                if let Some(l) = next_real(&arch, level) {
                    stack.push((root, t.0, l));
                }
            }
        }
    }
    (tables, frames)
}

/// Panic unless every table frame in use is reachable from a root and the
/// other way round (no frame leaked or lost), by the independent walk.
#[track_caller]
pub fn assert_no_leak<A: Arch, M: TableMemory>(pt: &PageTables<A, M>, what: &str) {
    assert_eq!(
        reachable_frames(pt),
        pt.mem().tables_in_use(),
        "{what}: table frames leaked or lost"
    );
}

#[allow(clippy::too_many_arguments)]
fn walk<A: Arch, M: TableMemory>(
    pt: &PageTables<A, M>,
    root: u64,
    table: u64,
    level: Level,
    va: u64,
    seen: &mut BTreeSet<u64>,
    entries: &mut BTreeMap<(u64, u64), u64>,
    leaves: &mut BTreeSet<Leaf>,
) {
    let arch = *pt.arch();
    let first = seen.insert(table);
    let index = index_level(table, root, level);
    let shift = arch.level_shift(index);
    for i in 0..(1u64 << arch.level_bits(index)) {
        let raw = entry(pt, table, i);
        if raw == 0 {
            continue;
        }
        let here = sign_extend(&arch, va | (i << shift));
        if first {
            entries.insert((table, i), raw);
        }
        match arch.decode(level, raw) {
            Decoded::Table(t) => {
                if let Some(l) = next_real(&arch, level) {
                    walk(pt, root, t.0, l, here, seen, entries, leaves);
                }
            }
            Decoded::Leaf(..) => {
                leaves.insert((root, here, level, raw));
            }
            Decoded::None => {}
        }
    }
}

/// Take a snapshot of `pt`. Call only while nothing edits it.
pub fn snapshot<A: Arch, M: TableMemory>(pt: &PageTables<A, M>) -> Snapshot {
    let mut entries = BTreeMap::new();
    let mut leaves = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let roots = pt.roots();
    let top = pt.arch().top_level();
    for root in all_roots(pt) {
        // A root's own entries are recorded even if another root shares
        // lower tables with it: walk() records a table's entries once.
        walk(
            pt,
            root.0,
            root.0,
            top,
            0,
            &mut seen,
            &mut entries,
            &mut leaves,
        );
    }
    Snapshot {
        entries,
        leaves,
        tables_in_use: pt.mem().tables_in_use(),
        reachable: reachable_frames(pt),
        stats: pt.stats(),
        out_of_sync: pt.first_out_of_sync(),
        roots,
    }
}

/// The leaves of one root whose range overlaps `va..va+size`.
pub fn leaves_in<A: Arch, M: TableMemory>(
    pt: &PageTables<A, M>,
    root: PhysAddr,
    va: VirtAddr,
    size: u64,
) -> Vec<Leaf> {
    let s = snapshot(pt);
    let arch = *pt.arch();
    s.leaves
        .into_iter()
        .filter(|&(r, lva, level, _)| {
            let lsize = arch.level_size(level);
            r == root.0
                && lva < va.0.wrapping_add(size).wrapping_sub(1).max(va.0)
                && lva.wrapping_add(lsize - 1) >= va.0
        })
        .collect()
}

/// The differences between two snapshots, described for a failure message.
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &before.entries {
        match after.entries.get(k) {
            None => out.push(format!("entry {:#x}[{}] = {v:#x} cleared", k.0, k.1)),
            Some(w) if w != v => out.push(format!("entry {:#x}[{}] {v:#x} -> {w:#x}", k.0, k.1)),
            _ => {}
        }
    }
    for (k, v) in &after.entries {
        if !before.entries.contains_key(k) {
            out.push(format!("entry {:#x}[{}] = {v:#x} added", k.0, k.1));
        }
    }
    if before.tables_in_use != after.tables_in_use {
        out.push(format!(
            "tables_in_use {} -> {}",
            before.tables_in_use, after.tables_in_use
        ));
    }
    if before.reachable != after.reachable {
        out.push(format!(
            "reachable {} -> {}",
            before.reachable, after.reachable
        ));
    }
    if before.stats != after.stats {
        out.push(format!("stats {:?} -> {:?}", before.stats, after.stats));
    }
    if before.out_of_sync != after.out_of_sync {
        out.push(format!(
            "first_out_of_sync {:?} -> {:?}",
            before.out_of_sync, after.out_of_sync
        ));
    }
    if before.roots != after.roots {
        out.push("registered roots changed".into());
    }
    out.truncate(12);
    out
}
