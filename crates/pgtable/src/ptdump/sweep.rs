//! The walks that feed `note_page()`: `mm/pagewalk.c` as `mm/ptdump.c`
//! drives it, and arm's own `walk_pgd()`.
//!
//! Only [`Tables::read`] touches memory; table addresses come from
//! [`EntryFormat::decode`](crate::EntryFormat::decode), so every read stays inside the table memory's address
//! range or returns what the backend returns for a hole (0).

use crate::addr::PhysAddr;
use crate::arch::{Arch, Decoded, Level};
use crate::memory::TableMemory;
use crate::walk::tables::{EntryPtr, Tables};

/// What the walks report, in address order.
pub(super) trait Sink {
    /// An entry met on the way down (x86's `effective_prot()` callback):
    /// every entry of a folded level, and every entry that is not empty.
    fn entry(&mut self, level: Level, val: u64) {
        let _ = (level, val);
    }
    /// `note_page(addr, level, val)`; `level` `None` is the final flush
    /// (Linux's level -1, arm's 0). `domain` is arm's, of the first-level
    /// entry.
    fn note(&mut self, addr: u64, level: Option<Level>, val: u64, domain: Option<&'static str>);
    /// Whether the output failed, so the walk may stop.
    fn failed(&self) -> bool;
}

/// `walk_page_range_novma()` over `start..end` (`end` 0: the top) from
/// `root`, with ptdump's callbacks. `kasan` enables ptdump's shortcut for
/// tables of the KASAN early shadow (the library's shared tables): the
/// entry pointing at one is noted once, as a PTE holding the early shadow
/// PTE, instead of walking the tables under it.
pub(super) fn walk<A: Arch, M: TableMemory + ?Sized>(
    t: Tables<'_, A, M>,
    root: PhysAddr,
    start: u64,
    end: u64,
    kasan: bool,
    s: &mut dyn Sink,
) {
    let mut w = Walk { t, kasan, s };
    w.table(Level::Pgd, root, start, end);
}

struct Walk<'a, 's, A, M: ?Sized> {
    t: Tables<'a, A, M>,
    kasan: bool,
    s: &'s mut dyn Sink,
}

impl<A: Arch, M: TableMemory + ?Sized> Walk<'_, '_, A, M> {
    /// Every entry of the table `table`, indexed by `level`, for
    /// `start..end`.
    fn table(&mut self, level: Level, table: PhysAddr, start: u64, end: u64) {
        let arch = self.t.arch;
        let mut addr = start;
        loop {
            if self.s.failed() {
                return;
            }
            let next = self.t.addr_end(level, addr, end);
            let off = arch.index(level, addr) * arch.entry_size();
            self.entry(
                level,
                EntryPtr(PhysAddr(table.0.wrapping_add(off))),
                addr,
                next,
            );
            if next == end || next == addr {
                return;
            }
            addr = next;
        }
    }

    fn entry(&mut self, level: Level, e: EntryPtr, addr: u64, next: u64) {
        let arch = self.t.arch;
        let raw = self.t.read(e);
        if arch.is_passthrough(level) {
            // A folded level is never empty: its callback sees the entry of
            // the level below, and the walk goes on with the same entry.
            self.s.entry(level, raw);
            if let Some(child) = level.next() {
                self.entry(child, e, addr, next);
            }
            return;
        }
        let Some(child) = level.next() else {
            // walk_pte_range(): every PTE, empty or not.
            self.s.entry(level, raw);
            self.s.note(addr, Some(level), raw, None);
            return;
        };
        if raw == 0 {
            // ptdump_hole() at this depth.
            self.s.note(addr, Some(level), 0, None);
            return;
        }
        match arch.decode(level, raw) {
            Decoded::Table(table) => {
                if self.kasan && self.t.shared.contains(table) {
                    if let Some(pte) = self.early_shadow_pte(child, table) {
                        self.s.note(addr, Some(Level::Pte), pte, None);
                        return;
                    }
                }
                self.s.entry(level, raw);
                self.table(child, table, addr, next);
            }
            Decoded::Leaf(..) => {
                self.s.entry(level, raw);
                self.s.note(addr, Some(level), raw, None);
            }
            // Not empty, not present: shown as empty (see the module docs).
            Decoded::None => self.s.note(addr, Some(level), 0, None),
        }
    }

    /// `kasan_early_shadow_pte[0]`: the first entry of the PTE table at the
    /// bottom of the shared chain starting at `table` (indexed by `level`).
    fn early_shadow_pte(&self, mut level: Level, mut table: PhysAddr) -> Option<u64> {
        for _ in 0..Level::ALL.len() {
            let raw = self.t.read(EntryPtr(table));
            if level == Level::Pte {
                return Some(raw);
            }
            match self.t.arch.decode(level, raw) {
                Decoded::Table(next) => {
                    table = next;
                    level = level.next()?;
                }
                _ => return None,
            }
        }
        None
    }
}

/// arm's domain names (`get_domain_name()`), by the domain field of a
/// first-level entry.
fn domain(raw: u64) -> &'static str {
    match (raw >> 5) & 0xf {
        0 => "KERNEL ",
        1 => "USER   ",
        2 => "IO     ",
        3 => "VECTORS",
        _ => "unknown",
    }
}

/// arm's `walk_pgd()` for short descriptors: 2048 pairs of 1 MiB
/// first-level entries (Linux's 2 MiB `pgd_t`), the even entry noted or
/// walked, then the odd one if it is a section; then the flush.
pub(super) fn walk_arm32<A: Arch, M: TableMemory + ?Sized>(
    t: Tables<'_, A, M>,
    root: PhysAddr,
    s: &mut dyn Sink,
) {
    const SECTION: u64 = 1 << 20;
    let arch = t.arch;
    let read = |pa: u64| t.read(EntryPtr(PhysAddr(pa)));
    let ptes = |s: &mut dyn Sink, table: PhysAddr, base: u64, d: &'static str| {
        for j in 0..256u64 {
            let raw = t.read(EntryPtr(PhysAddr(table.0.wrapping_add(j * 4))));
            s.note(base + (j << 12), Some(Level::Pte), raw, Some(d));
        }
    };
    for i in 0..2048u64 {
        if s.failed() {
            return;
        }
        let addr = i << 21;
        let e0 = root.0.wrapping_add(i * 8);
        let (raw0, raw1) = (read(e0), read(e0.wrapping_add(4)));
        let (d0, d1) = (domain(raw0), domain(raw1));
        let (p0, p1) = (arch.decode(Level::Pmd, raw0), arch.decode(Level::Pmd, raw1));
        match p0 {
            Decoded::Table(t0) => {
                ptes(s, t0, addr, d0);
                match p1 {
                    Decoded::Table(t1) => ptes(s, t1, addr + SECTION, d0),
                    Decoded::Leaf(..) => s.note(addr + SECTION, Some(Level::Pmd), raw1, Some(d1)),
                    // Linux's PTE page covers both halves: the odd half's
                    // PTEs are there, empty.
                    Decoded::None => {
                        for j in 0..256u64 {
                            s.note(addr + SECTION + (j << 12), Some(Level::Pte), 0, Some(d0));
                        }
                    }
                }
            }
            other => {
                let v = if matches!(other, Decoded::Leaf(..)) {
                    raw0
                } else {
                    0
                };
                s.note(addr, Some(Level::Pmd), v, Some(d0));
                match p1 {
                    Decoded::Leaf(..) => s.note(addr + SECTION, Some(Level::Pmd), raw1, Some(d1)),
                    // A shape Linux never builds; shown rather than hidden.
                    Decoded::Table(t1) => ptes(s, t1, addr + SECTION, d1),
                    Decoded::None => {}
                }
            }
        }
    }
    s.note(0, None, 0, None);
}
