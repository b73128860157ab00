//! Whole-state snapshots for the reliability tests (hostile inputs,
//! allocation-failure sweeps, fuzzing): every non-zero entry of every table
//! reachable from the kernel root and from each registered root, read with
//! the public [`TableMemory`] and [`Arch::decode`] only, plus the counters.
#![allow(dead_code)]

use pgtable::{
    Arch, Decoded, Level, PageTables, PhysAddr, SyncStats, TableMemory, VirtAddr, X86_64,
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
    pub reachable: usize,
    pub stats: SyncStats,
    pub out_of_sync: Option<(PhysAddr, usize)>,
    pub roots: Vec<PhysAddr>,
}

/// The real level below `level` (skipping folded ones).
pub fn next_real(arch: &X86_64, level: Level) -> Option<Level> {
    let mut l = level.next()?;
    while arch.is_folded(l) {
        l = l.next()?;
    }
    Some(l)
}

fn sign_extend(arch: &X86_64, va: u64) -> u64 {
    let unused = 64 - arch.va_bits();
    (((va << unused) as i64) >> unused) as u64
}

#[allow(clippy::too_many_arguments)]
fn walk<M: TableMemory>(
    pt: &PageTables<X86_64, M>,
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
    // A root is indexed with the PGD's bits even when the top real level is
    // a folded P4D (4-level x86-64: the root holds P4D entries).
    let index = if table == root { Level::Pgd } else { level };
    let shift = arch.level_shift(index);
    for i in 0..(1u64 << arch.level_bits(index)) {
        let raw = pt.mem().read_u64(PhysAddr(table + i * 8));
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
pub fn snapshot<M: TableMemory>(pt: &PageTables<X86_64, M>) -> Snapshot {
    let mut entries = BTreeMap::new();
    let mut leaves = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let roots = pt.roots();
    let top = pt.arch().top_level();
    for root in std::iter::once(pt.kernel_root()).chain(roots.iter().copied()) {
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
        reachable: pt.reachable_tables(),
        stats: pt.stats(),
        out_of_sync: pt.first_out_of_sync(),
        roots,
    }
}

/// The leaves of one root whose range overlaps `va..va+size`.
pub fn leaves_in<M: TableMemory>(
    pt: &PageTables<X86_64, M>,
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
