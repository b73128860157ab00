//! Enumeration of every present leaf in a linear-address range, by the same
//! rules as the walk (SDM 4.5.4) but visiting whole tables at once.
//!
//! This is an inspection, not a hardware walk: it reads memory only and
//! never sets Accessed/Dirty bits.

use super::{entry, Level, PageFault, X86Mmu};
use crate::{Access, FaultKind, Mode, PhysBus};

/// One present leaf found by [`X86Mmu::for_each_mapping`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// Canonical linear address of the start of the page (may lie before
    /// the requested range when a large page straddles its start).
    pub va: u64,
    /// Page size in bytes.
    pub size: u64,
    /// Physical address of the start of the page.
    pub pa: u64,
    /// Level of the leaf entry.
    pub level: Level,
    /// R/W = 1 at every level on the path (SDM 4.6).
    pub writable: bool,
    /// U/S = 1 at every level on the path.
    pub user: bool,
    /// XD = 0 at every level on the path (always true with NXE = 0).
    pub executable: bool,
    /// Leaf G bit with CR4.PGE = 1.
    pub global: bool,
    /// Leaf A bit.
    pub accessed: bool,
    /// Leaf D bit.
    pub dirty: bool,
    /// Leaf PWT.
    pub pwt: bool,
    /// Leaf PCD.
    pub pcd: bool,
    /// Leaf PAT (bit 7 of a PTE, bit 12 of a large leaf).
    pub pat: bool,
    /// Raw leaf entry.
    pub entry: u64,
    /// Physical address of the leaf entry.
    pub entry_pa: u64,
    /// Physical address of the table used at each level, indexed by
    /// `level.number() - 1`; `None` below the leaf and above the root.
    pub tables: [Option<u64>; 5],
}

impl Mapping {
    /// Physical address of the paging structure used at `level` on this
    /// leaf's path (`Some(cr3 base)` for the root level).
    pub const fn table(&self, level: Level) -> Option<u64> {
        self.tables[level as usize - 1]
    }
}

/// Rights accumulated from the root down (SDM 4.6).
#[derive(Clone, Copy)]
struct Rights {
    writable: bool,
    user: bool,
    executable: bool,
}

struct Walker<'a, B: ?Sized> {
    mmu: &'a X86Mmu,
    bus: &'a B,
    start: u128,
    end: u128,
    first_error: Option<PageFault>,
    f: &'a mut dyn FnMut(Mapping),
}

impl X86Mmu {
    /// Calls `f` for every present, well-formed leaf whose page overlaps the
    /// linear range `[start, end)`, in increasing address order. `end == 0`
    /// means "to the top of the address space" (so `0, 0` is everything).
    ///
    /// Non-present entries are skipped with their whole subtree, and only
    /// entries overlapping the range are read, so the cost is proportional
    /// to the tables present, not to the range size. Non-canonical
    /// addresses in the range have no translation and are simply absent.
    ///
    /// A present entry with a reserved bit set (which would make any access
    /// below it fault, SDM 4.7) is skipped with its subtree; enumeration
    /// carries on so `f` still sees every good leaf, and the first such entry
    /// is returned as a [`FaultKind::ReservedBit`] fault (a supervisor read
    /// of the first address it covers in the range).
    pub fn for_each_mapping(
        &self,
        bus: &impl PhysBus,
        cr3: u64,
        start: u64,
        end: u64,
        mut f: impl FnMut(Mapping),
    ) -> Result<(), PageFault> {
        let mut w = Walker {
            mmu: self,
            bus,
            start: u128::from(start),
            end: if end == 0 { 1 << 64 } else { u128::from(end) },
            first_error: None,
            f: &mut f,
        };
        let root = self.root_level();
        let all = Rights {
            writable: true,
            user: true,
            executable: true,
        };
        w.table(cr3 & entry::ADDR_MASK, root, 0, all, [None; 5]);
        match w.first_error {
            Some(fault) => Err(fault),
            None => Ok(()),
        }
    }
}

impl<B: PhysBus + ?Sized> Walker<'_, B> {
    /// Visits the table at `pa`, a `level` table covering linear addresses
    /// starting at `prefix` (before sign extension).
    fn table(
        &mut self,
        pa: u64,
        level: Level,
        prefix: u64,
        rights: Rights,
        mut tables: [Option<u64>; 5],
    ) {
        tables[level as usize - 1] = Some(pa);
        let size = level.page_size();
        for i in 0..512u64 {
            // Only the root's entries straddle the sign boundary, and each
            // entry's span stays on one side of it, so sign-extending its
            // first address gives the canonical span.
            let va = self.mmu.sign_extend(prefix | (i << level.shift()));
            let lo = u128::from(va);
            if lo >= self.end || lo + u128::from(size) <= self.start {
                continue;
            }
            let epa = pa + 8 * i;
            let e = self.bus.read_u64(epa);
            if e & entry::P == 0 {
                continue;
            }
            if entry::reserved_bits(self.mmu, level, e) != 0 {
                if self.first_error.is_none() {
                    let addr = va.max(self.start as u64);
                    self.first_error = Some(self.mmu.fault(
                        addr,
                        Access::Read,
                        Mode::Supervisor,
                        FaultKind::ReservedBit,
                        level,
                    ));
                }
                continue;
            }
            let rights = Rights {
                writable: rights.writable && e & entry::RW != 0,
                user: rights.user && e & entry::US != 0,
                executable: rights.executable && e & entry::XD == 0,
            };
            if entry::is_leaf(level, e) {
                (self.f)(Mapping {
                    va,
                    size,
                    pa: entry::frame(level, e, true),
                    level,
                    writable: rights.writable,
                    user: rights.user,
                    executable: rights.executable,
                    global: self.mmu.pge && e & entry::G != 0,
                    accessed: e & entry::A != 0,
                    dirty: e & entry::D != 0,
                    pwt: e & entry::PWT != 0,
                    pcd: e & entry::PCD != 0,
                    pat: entry::pat(level, e),
                    entry: e,
                    entry_pa: epa,
                    tables,
                });
            } else if let Some(lower) = level.lower() {
                let next = entry::frame(level, e, false);
                self.table(next, lower, prefix | (i << level.shift()), rights, tables);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::*;
    use super::*;
    use crate::test_util::MemBus;
    use crate::x86_64::build;
    use std::vec::Vec;

    fn collect(m: &X86Mmu, bus: &MemBus, cr3: u64, start: u64, end: u64) -> Vec<(u64, u64, u64)> {
        let mut v = Vec::new();
        m.for_each_mapping(bus, cr3, start, end, |x| v.push((x.va, x.size, x.pa)))
            .unwrap();
        v
    }

    fn build(m: &X86Mmu) -> (MemBus, u64, Vec<(u64, u64, u64)>) {
        let bus = MemBus::new();
        let cr3 = bus.alloc();
        let maps = [
            (0x0000_0000_0040_0000, 0x1000, 0x9000),
            (0x0000_0000_0040_2000, 0x1000, 0xa000),
            (0x0000_7fff_c000_0000, 0x4000_0000, 0x4000_0000),
            (0xffff_8880_0000_0000, 0x20_0000, 0x20_0000),
            (0xffff_8880_0020_0000, 0x1000, 0xb000),
            (0xffff_ffff_ffff_f000, 0x1000, 0xc000),
        ];
        for (va, size, pa) in maps {
            let level = match size {
                0x1000 => Level::Pt,
                0x20_0000 => Level::Pd,
                _ => Level::Pdpt,
            };
            build::map(&bus, m, cr3, va, pa, level, RW);
        }
        (bus, cr3, maps.to_vec())
    }

    #[test]
    fn finds_exactly_the_mapped_leaves() {
        for m in [X86Mmu::new(), X86Mmu::new_la57()] {
            let (bus, cr3, maps) = build(&m);
            assert_eq!(collect(&m, &bus, cr3, 0, 0), maps);
            // The kernel half only.
            assert_eq!(collect(&m, &bus, cr3, 0xffff_8000_0000_0000, 0), maps[3..]);
            // A range starting inside the 2 MiB page still reports it.
            let got = collect(&m, &bus, cr3, 0xffff_8880_0010_0000, 0xffff_8880_0020_1000);
            assert_eq!(got, maps[3..5]);
            // End is exclusive.
            assert_eq!(collect(&m, &bus, cr3, 0x40_0000, 0x40_2000), maps[..1]);
            // Every leaf translates the same way through the walker.
            for (va, size, pa) in maps {
                let t = m
                    .translate(&bus, cr3, va, Access::Read, Mode::Supervisor)
                    .unwrap();
                assert_eq!((t.pa, t.page_size), (pa, size));
            }
        }
    }

    #[test]
    fn reports_path_and_rights() {
        let m = X86Mmu::new();
        let (bus, cr3, _) = build(&m);
        let pde = build::entry_pa(&bus, &m, cr3, 0xffff_8880_0020_0000, Level::Pd, 0);
        bus.set(pde, bus.get(pde) | XD);
        let mut seen = Vec::new();
        m.for_each_mapping(
            &bus,
            cr3,
            0xffff_8880_0020_0000,
            0xffff_8880_0020_1000,
            |x| seen.push(x),
        )
        .unwrap();
        assert_eq!(seen.len(), 1);
        let x = seen[0];
        // Leaf has R/W but not U/S; the XD in the PDE is inherited.
        assert!(x.writable && !x.user && !x.executable && !x.accessed);
        assert_eq!(x.table(Level::Pml4), Some(cr3));
        assert_eq!(x.table(Level::Pml5), None);
        assert_eq!(x.table(Level::Pd), Some(pde & !0xfff));
        assert_eq!(
            x.entry_pa,
            build::entry_pa(&bus, &m, cr3, x.va, Level::Pt, 0)
        );
    }

    #[test]
    fn skips_absent_subtrees_and_reports_reserved() {
        let m = X86Mmu::new();
        let (bus, cr3, maps) = build(&m);
        // A full enumeration reads each table once: root, 4 tables under
        // the lower half, 6 under the upper half.
        assert_eq!(bus.table_count(), 11);
        bus.reads.set(0);
        collect(&m, &bus, cr3, 0, 0);
        assert_eq!(bus.reads.get(), 512 * 11);
        // A range with nothing in it reads only the entries it overlaps.
        bus.reads.set(0);
        assert!(collect(&m, &bus, cr3, 0x1000_0000_0000, 0x2000_0000_0000).is_empty());
        assert_eq!(bus.reads.get(), 32);
        // Corrupt the 2 MiB leaf: reported, and the rest still visited.
        let pde = build::entry_pa(&bus, &m, cr3, maps[3].0, Level::Pd, 0);
        bus.set(pde, bus.get(pde) | (1 << 13));
        let mut got = Vec::new();
        let err = m
            .for_each_mapping(&bus, cr3, 0, 0, |x| got.push((x.va, x.size, x.pa)))
            .unwrap_err();
        assert_eq!(
            (err.kind, err.level, err.addr),
            (FaultKind::ReservedBit, Level::Pd, maps[3].0)
        );
        let mut want = maps.clone();
        want.remove(3);
        assert_eq!(got, want);
    }
}
