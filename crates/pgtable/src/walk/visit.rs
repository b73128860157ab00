//! Read-only walks: translate one address, visit the leaves or the tables
//! of a range. The library's own view of the tables; the simulator checks
//! it against an independent MMU.

use super::tables::{EntryPtr, Tables};
use crate::addr::{PhysAddr, VirtAddr};
use crate::arch::{Arch, Decoded, Level};
use crate::memory::TableMemory;
use crate::prot::Prot;
use core::ops::ControlFlow;

/// One leaf mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First virtual address the leaf maps.
    pub va: VirtAddr,
    /// Physical address it maps to.
    pub pa: PhysAddr,
    /// Level of the leaf entry.
    pub level: Level,
    /// Bytes mapped.
    pub size: u64,
    /// Protection.
    pub prot: Prot,
}

impl Mapping {
    /// The physical address `va` (inside this leaf) translates to.
    #[must_use]
    pub fn translate(&self, va: VirtAddr) -> PhysAddr {
        PhysAddr(self.pa.0 + (va.0 - self.va.0))
    }
}

/// What a visit reports.
pub(crate) enum Visit {
    Leaf(Mapping),
    /// A table below the root, indexed by this level, at this address.
    Table(Level, PhysAddr),
}

impl<A: Arch, M: TableMemory + ?Sized> Tables<'_, A, M> {
    /// The leaf mapping `va` through `root`.
    pub fn translate(&self, root: PhysAddr, va: u64) -> Option<Mapping> {
        let mut found = None;
        let _ = self.visit(
            root,
            va & !0xfff,
            (va & !0xfff).wrapping_add(0x1000),
            &mut |v| {
                if let Visit::Leaf(m) = v {
                    found = Some(m);
                }
                ControlFlow::Continue(())
            },
        );
        found
    }

    /// Visit every table and leaf reachable from `root` for `start..end`
    /// (`end == 0`: to the top). The range must lie in one canonical half.
    pub fn visit(
        &self,
        root: PhysAddr,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(Visit) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let mut addr = start;
        loop {
            let next = self.addr_end(Level::Pgd, addr, end);
            self.visit_entry(Level::Pgd, self.pgd_offset(root, addr), addr, next, f)?;
            addr = next;
            if addr == end {
                return ControlFlow::Continue(());
            }
        }
    }

    fn visit_entry(
        &self,
        level: Level,
        e: EntryPtr,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(Visit) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some(child) = level.next() else {
            return self.report_leaf(level, e, start, f);
        };
        if self.arch.is_passthrough(level) {
            return self.visit_entry(child, e, start, end, f);
        }
        match self.decode(level, e) {
            Decoded::None => ControlFlow::Continue(()),
            Decoded::Leaf(..) => self.report_leaf(level, e, start, f),
            Decoded::Table(table) => {
                f(Visit::Table(child, table))?;
                let mut addr = start;
                let mut ce = self.offset(child, e, addr).unwrap_or(e);
                loop {
                    let next = self.addr_end(child, addr, end);
                    self.visit_entry(child, ce, addr, next, f)?;
                    addr = next;
                    if addr == end {
                        return ControlFlow::Continue(());
                    }
                    ce = self.next_entry(ce);
                }
            }
        }
    }

    fn report_leaf(
        &self,
        level: Level,
        e: EntryPtr,
        addr: u64,
        f: &mut dyn FnMut(Visit) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        match self.decode(level, e) {
            Decoded::Leaf(pa, prot) => {
                let size = self.arch.level_size(level);
                f(Visit::Leaf(Mapping {
                    va: VirtAddr(addr & !(size - 1)),
                    pa,
                    level,
                    size,
                    prot,
                }))
            }
            _ => ControlFlow::Continue(()),
        }
    }
}
