//! Enumeration of the valid leaves of one TTBR's tree, by the walk's rules
//! (Arm ARM D8.2, D8.3) but a whole table at a time, and the neutral
//! [`Mmu`] view. Reads memory only: AF and AP\[2\] are never updated.

use super::desc::{self, VALID};
use super::walk::Rights;
use super::{level_shift, Arm64Mmu, Half};
use crate::{Access, Fault, FaultKind, Leaf, Mmu, Mode, PhysBus, Roots, Xlat};

struct Walker<'a, B: ?Sized> {
    mmu: &'a Arm64Mmu,
    bus: &'a B,
    half: Half,
    start: u128,
    end: u128,
    first_error: Option<Fault>,
    f: &'a mut dyn FnMut(&Leaf),
}

impl Arm64Mmu {
    /// Calls `f` for every valid block or page descriptor of the tree at
    /// `ttbr` (a TTBR0_EL1 value for [`Half::Lower`], TTBR1_EL1 for
    /// [`Half::Upper`]) whose range overlaps `[start, end)` (`end == 0`: to
    /// the top), in increasing VA order. Leaves with AF = 0 are listed (the
    /// mapping exists; an access would take an Access flag fault).
    ///
    /// Invalid descriptors are skipped with their subtree. Valid ones a
    /// walk would fault on (a block where none is allowed, an address above
    /// the PA size) are skipped too, and the first is returned as the
    /// fault a supervisor read of its first in-range address would take.
    pub fn for_each_mapping(
        &self,
        bus: &impl PhysBus,
        ttbr: u64,
        half: Half,
        start: u64,
        end: u64,
        mut f: impl FnMut(&Leaf),
    ) -> Result<(), Fault> {
        let bits = self.va_bits(half);
        let base: u128 = match half {
            Half::Lower => 0,
            Half::Upper => (1 << 64) - (1 << bits),
        };
        let mut w = Walker {
            mmu: self,
            bus,
            half,
            start: u128::from(start).max(base),
            end: if end == 0 { 1 << 64 } else { u128::from(end) }.min(base + (1 << bits)),
            first_error: None,
            f: &mut f,
        };
        if w.start >= w.end {
            return Ok(());
        }
        let root = self.table_base(ttbr, half);
        if root >= self.pa_limit() {
            w.error(
                w.start as u64,
                FaultKind::AddressSize,
                0,
                "TTBR base above PA size",
            );
        } else {
            let level = self.start_level(half);
            w.table(root, level, base as u64, Rights::default());
        }
        w.first_error.map_or(Ok(()), Err)
    }
}

impl<B: PhysBus + ?Sized> Walker<'_, B> {
    fn error(&mut self, addr: u64, kind: FaultKind, level: i8, detail: &'static str) {
        if self.first_error.is_none() {
            self.first_error = Some(Fault {
                addr,
                access: Access::Read,
                mode: Mode::Supervisor,
                kind,
                level,
                detail,
            });
        }
    }

    /// Visits the table at `pa` for `level`, whose first entry maps `base`.
    fn table(&mut self, pa: u64, level: i8, base: u64, rights: Rights) {
        let m = self.mmu;
        let shift = level_shift(level);
        let size = 1u64 << shift;
        let entries = if level == m.start_level(self.half) {
            1u64 << (m.va_bits(self.half) - shift).min(9)
        } else {
            512
        };
        for i in 0..entries {
            let va = base.wrapping_add(i << shift);
            let lo = u128::from(va);
            if lo >= self.end || lo + u128::from(size) <= self.start {
                continue;
            }
            let epa = pa + 8 * i;
            let d = self.bus.read_u64(epa);
            if d & VALID == 0 {
                continue;
            }
            let addr_in_range = lo.max(self.start) as u64;
            let Some(is_table) = desc::kind(m, level, d) else {
                self.error(
                    addr_in_range,
                    FaultKind::NotPresent,
                    level,
                    "block not allowed at this level",
                );
                continue;
            };
            let addr = desc::decode_addr(m, d, level, !is_table);
            if addr >= m.pa_limit() {
                self.error(
                    addr_in_range,
                    FaultKind::AddressSize,
                    level,
                    "address above PA size",
                );
                continue;
            }
            if is_table {
                self.table(addr, level + 1, va, rights.table(d));
            } else {
                let p = m.perms(rights, d);
                (self.f)(&Leaf {
                    va,
                    xlat: m.xlat(p, d, addr, size),
                    level,
                    entry: d,
                    entry_pa: epa,
                });
            }
        }
    }
}

/// arm64: `roots.user` is TTBR0_EL1, `roots.kernel` TTBR1_EL1 (`None`:
/// EPD1 = 1). [`Mode::Supervisor`] is EL1, [`Mode::User`] EL0.
impl Mmu for Arm64Mmu {
    fn translate_any(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault> {
        self.translate_opt(&bus, Some(roots.user), roots.kernel, va, access, mode)
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
        let lower = self.for_each_mapping(&bus, roots.user, Half::Lower, start, end, &mut *f);
        let upper = match roots.kernel {
            Some(t1) => self.for_each_mapping(&bus, t1, Half::Upper, start, end, f),
            None => Ok(()),
        };
        lower.and(upper)
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::{entry_pa, map, or};
    use super::super::desc::*;
    use super::*;
    use crate::test_util::MemBus;
    use std::vec::Vec;

    /// (va, size, pa, level) of an enumerated leaf.
    type Row = (u64, u64, u64, i8);

    fn collect(
        m: &Arm64Mmu,
        bus: &MemBus,
        roots: Roots,
        start: u64,
        end: u64,
    ) -> (Vec<Row>, Result<(), Fault>) {
        let mut v = Vec::new();
        let r = m.for_each_leaf(bus, &roots, start, end, &mut |l| {
            v.push((l.va, l.xlat.size, l.xlat.pa, l.level))
        });
        (v, r)
    }

    #[test]
    fn finds_exactly_the_mapped_leaves() {
        for m in [Arm64Mmu::new_39(), Arm64Mmu::new_48(), Arm64Mmu::new_52()] {
            let bus = MemBus::new();
            let (t0, t1) = (bus.alloc(), bus.alloc());
            let top = !0u64 << m.va_bits(Half::Upper);
            let maps = [
                (Half::Lower, 0x1000u64, 0x7000u64, 3i8),
                (Half::Lower, 0x20_0000, 0x40_0000, 2),
                (Half::Lower, 0x4000_0000, 0x8000_0000, 1),
                (Half::Upper, top, 0x9000, 3),
                (Half::Upper, top | 0x7fe0_0000, 0x60_0000, 2),
            ];
            for &(h, va, pa, l) in &maps {
                let root = if h == Half::Lower { t0 } else { t1 };
                map(&bus, &m, h, root, va, pa, l, AP_EL0);
            }
            // AF = 0 leaves are still mappings.
            let epa = entry_pa(&bus, &m, Half::Lower, t0, 0x1000, 3);
            bus.set(epa, bus.get(epa) & !AF);
            let (got, r) = collect(&m, &bus, Roots::split(t0, t1), 0, 0);
            r.unwrap();
            let want: Vec<_> = maps
                .iter()
                .map(|&(_, va, pa, l)| (va, 1u64 << level_shift(l), pa, l))
                .collect();
            assert_eq!(got, want);
            // A sub-range: the 2 MiB block straddling its start is listed.
            let (got, _) = collect(&m, &bus, Roots::split(t0, t1), 0x30_0000, 0x4000_1000);
            assert_eq!(got, want[1..3].to_vec());
            // Without TTBR1 only the lower half is seen.
            let (got, _) = collect(&m, &bus, Roots::single(t0), 0, 0);
            assert_eq!(got.len(), 3);
        }
    }

    #[test]
    fn rights_and_errors() {
        let m = Arm64Mmu::new_48();
        let bus = MemBus::new();
        let (t0, t1) = (bus.alloc(), bus.alloc());
        map(
            &bus,
            &m,
            Half::Lower,
            t0,
            0x1000,
            0x7000,
            3,
            AP_EL0 | PXN | NG,
        );
        map(&bus, &m, Half::Lower, t0, 0x2000, 0x8000, 3, AP_EL0 | UXN);
        or(&bus, &m, Half::Lower, t0, 0x1000, 1, AP_TABLE_RO);
        // A reserved level 3 encoding, and an oversized output address.
        bus.set(
            entry_pa(&bus, &m, Half::Lower, t0, 0x3000, 3),
            0xa000 | AF | BLOCK,
        );
        map(&bus, &m, Half::Lower, t0, 0x4000, 1 << 48, 3, 0);
        let mut leaves = Vec::new();
        let r = m.for_each_mapping(&bus, t0, Half::Lower, 0, 0, |l| leaves.push(*l));
        let f = r.unwrap_err();
        assert_eq!(
            (f.kind, f.level, f.addr),
            (FaultKind::NotPresent, 3, 0x3000)
        );
        assert_eq!(leaves.len(), 2);
        let x = leaves[0].xlat;
        assert!(x.user && !x.writable && x.executable && !x.global);
        let x = leaves[1].xlat;
        assert!(x.user && !x.writable && !x.executable && x.global);
        // The neutral translate agrees with the enumeration.
        let t = m
            .translate_any(
                &bus,
                &Roots::split(t0, t1),
                0x1008,
                Access::Read,
                Mode::User,
            )
            .unwrap();
        assert_eq!(
            t,
            Xlat {
                pa: 0x7008,
                ..leaves[0].xlat
            }
        );
        // Ranges outside the half are empty; a bad TTBR is reported.
        assert!(m
            .for_each_mapping(&bus, t0, Half::Upper, 0, 1 << 40, |_| panic!())
            .is_ok());
        // (TTBR bits [63:48] are the ASID, so use a 40-bit PA size.)
        let m40 = Arm64Mmu { pa_bits: 40, ..m };
        let f = m40
            .for_each_mapping(&bus, 1 << 41, Half::Lower, 0, 0, |_| panic!())
            .unwrap_err();
        assert_eq!((f.kind, f.level), (FaultKind::AddressSize, 0));
    }
}
