//! Enumeration of the valid leaves of a tree, by the translation process's
//! rules (privileged spec 4.3.2) a whole table at a time, and the neutral
//! [`Mmu`] view. Reads memory only: A/D are never updated.

use super::pte::{self, G, V};
use super::{level_shift, Riscv64Mmu};
use crate::{Access, Fault, FaultKind, Leaf, Mmu, Mode, PhysBus, Roots, Xlat};

struct Walker<'a, B: ?Sized> {
    mmu: &'a Riscv64Mmu,
    bus: &'a B,
    start: u128,
    end: u128,
    first_error: Option<Fault>,
    f: &'a mut dyn FnMut(&Leaf),
}

impl Riscv64Mmu {
    /// Calls `f` for every valid, well-formed leaf of the tree at `root`
    /// overlapping `[start, end)` (`end == 0`: to the top), in increasing
    /// address order. Leaves with A = 0 or D = 0 are listed.
    ///
    /// Invalid PTEs are skipped with their subtree; malformed ones (those a
    /// walk would raise a reserved-bit page fault on, including misaligned
    /// superpages and pointers at level 0) too, and the first is returned
    /// as the fault a supervisor read of its first in-range address takes.
    pub fn for_each_mapping(
        &self,
        bus: &impl PhysBus,
        root: u64,
        start: u64,
        end: u64,
        mut f: impl FnMut(&Leaf),
    ) -> Result<(), Fault> {
        let mut w = Walker {
            mmu: self,
            bus,
            start: u128::from(start),
            end: if end == 0 { 1 << 64 } else { u128::from(end) },
            first_error: None,
            f: &mut f,
        };
        w.table(root & !0xfff, self.root_level(), 0, false);
        w.first_error.map_or(Ok(()), Err)
    }

    /// Sign-extends the low VA-width bits of `va`.
    const fn sign_extend(&self, va: u64) -> u64 {
        let unused = 64 - self.scheme.va_bits();
        (((va << unused) as i64) >> unused) as u64
    }
}

impl<B: PhysBus + ?Sized> Walker<'_, B> {
    fn error(&mut self, addr: u64, level: i8, detail: &'static str) {
        if self.first_error.is_none() {
            self.first_error = Some(Fault {
                addr,
                access: Access::Read,
                mode: Mode::Supervisor,
                kind: FaultKind::ReservedBit,
                level,
                detail,
            });
        }
    }

    /// Visits the table at `pa` for `level`, whose entries cover the VAs
    /// `prefix | index << shift` (before sign extension).
    fn table(&mut self, pa: u64, level: i8, prefix: u64, global: bool) {
        let m = self.mmu;
        let shift = level_shift(level);
        let size = 1u64 << shift;
        for i in 0..512u64 {
            // Only root entries straddle the sign boundary, each on one side.
            let va = m.sign_extend(prefix | (i << shift));
            let lo = u128::from(va);
            if lo >= self.end || lo + u128::from(size) <= self.start {
                continue;
            }
            let epa = pa + 8 * i;
            let e = self.bus.read_u64(epa);
            if e & V == 0 {
                continue;
            }
            let at = lo.max(self.start) as u64;
            if let Some(why) = pte::malformed(m, e) {
                self.error(at, level, why);
                continue;
            }
            let global = global || e & G != 0;
            if !pte::is_leaf(e) {
                if level == 0 {
                    self.error(at, 0, "pointer PTE at level 0");
                } else {
                    self.table(pte::to_pa(e), level - 1, prefix | (i << shift), global);
                }
                continue;
            }
            let frame = pte::to_pa(e);
            if frame & (size - 1) != 0 {
                self.error(at, level, "misaligned superpage");
                continue;
            }
            (self.f)(&Leaf {
                va,
                xlat: m.xlat(e, global, frame, size),
                level,
                entry: e,
                entry_pa: epa,
            });
        }
    }
}

/// riscv64: `roots.user` is the root table's physical address (satp.PPN ×
/// 4096); `roots.kernel` is ignored.
impl Mmu for Riscv64Mmu {
    fn translate_any(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault> {
        self.translate(&bus, roots.user, va, access, mode)
            .map(|l| l.xlat)
    }

    fn for_each_leaf(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(&Leaf),
    ) -> Result<(), Fault> {
        self.for_each_mapping(&bus, roots.user, start, end, f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::{edit, map};
    use super::super::pte::*;
    use super::super::Scheme;
    use super::*;
    use crate::test_util::MemBus;
    use std::vec::Vec;

    #[test]
    fn finds_exactly_the_mapped_leaves() {
        for s in [Scheme::Sv39, Scheme::Sv48, Scheme::Sv57] {
            let m = Riscv64Mmu::new(s);
            let bus = MemBus::new();
            let root = bus.alloc();
            let top = !0u64 << (s.va_bits() - 1);
            let mut want = Vec::new();
            for level in 0..s.levels() - 1 {
                let size = 1u64 << level_shift(level);
                let va = size * 7;
                map(&bus, &m, root, va, size * 2, level, R | U);
                want.push((va, size, size * 2, level));
            }
            map(&bus, &m, root, top | 0x20_0000, 0x40_0000, 1, R | W | G);
            want.push((top | 0x20_0000, 0x20_0000, 0x40_0000, 1));
            want.sort();
            // The kernel leaf sorts last as an unsigned address.
            let mut got = Vec::new();
            let roots = Roots::single(root);
            m.for_each_leaf(&bus, &roots, 0, 0, &mut |l| {
                got.push((l.va, l.xlat.size, l.xlat.pa, l.level))
            })
            .unwrap();
            assert_eq!(got, want, "{s:?}");
            let mut n = 0;
            m.for_each_leaf(&bus, &roots, top, 0, &mut |l| {
                assert!(l.xlat.global && l.xlat.writable && !l.xlat.user);
                n += 1;
            })
            .unwrap();
            assert_eq!(n, 1);
        }
    }

    #[test]
    fn malformed_leaves_are_reported_and_skipped() {
        let m = Riscv64Mmu::new(Scheme::Sv39);
        let bus = MemBus::new();
        let root = bus.alloc();
        map(&bus, &m, root, 0x1000, 0x7000, 0, R);
        map(&bus, &m, root, 0x20_0000, 0x40_1000, 1, R);
        map(&bus, &m, root, 0x4000_0000, 0x8000_0000, 2, R);
        edit(&bus, &m, root, 0x4000_0000, 2, |e| e & !R | W);
        let mut got = Vec::new();
        let f = m
            .for_each_mapping(&bus, root, 0, 0, |l| got.push(l.va))
            .unwrap_err();
        assert_eq!(
            (f.kind, f.level, f.addr, f.detail),
            (FaultKind::ReservedBit, 1, 0x20_0000, "misaligned superpage")
        );
        assert_eq!(got, [0x1000]);
        let t = m
            .translate_any(
                &bus,
                &Roots::single(root),
                0x1004,
                Access::Read,
                Mode::Supervisor,
            )
            .unwrap();
        assert_eq!(t.pa, 0x7004);
    }
}
