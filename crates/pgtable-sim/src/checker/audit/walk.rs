//! The audit's walk of one root's tables: reading entries, the addresses
//! they map, and the visit that collects frames and ranges to check.

use super::{At, Audit, Scan, Walk};
use crate::machine::Machine;
use pgtable::{Decoded, Level, PhysAddr};
use pgtable::{EntryFormat, KernelPolicy, PagingGeometry};

impl Audit {
    /// Read the `count` entries of the table at `table` into `out`.
    pub(in crate::checker) fn read_entries(
        m: &Machine,
        table: u64,
        count: usize,
        out: &mut Vec<u64>,
    ) {
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
    pub(super) fn resolve(m: &Machine, mut level: Level) -> Level {
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
    pub(super) fn entry_va(m: &Machine, at: At, i: usize, shift: u32) -> (u64, bool) {
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
    pub(super) fn visit(
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
}
