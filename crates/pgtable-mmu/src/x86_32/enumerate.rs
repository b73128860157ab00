//! Enumeration of the present leaves of 32-bit and PAE paging structures
//! (SDM 4.3, 4.4) and the neutral [`Mmu`] view. Reads memory only.

use super::entry::{G, P, RW, US, XD};
use super::X86_32Mmu;
use crate::{Access, Fault, FaultKind, Leaf, Mmu, Mode, PhysBus, Roots, Xlat};

struct Walker<'a, B: ?Sized> {
    mmu: &'a X86_32Mmu,
    bus: &'a B,
    start: u64,
    end: u64,
    first_error: Option<Fault>,
    f: &'a mut dyn FnMut(&Leaf),
}

impl X86_32Mmu {
    /// Calls `f` for every present, well-formed leaf overlapping
    /// `[start, end)` (`end == 0`: to 4 GiB), in increasing address order.
    /// Entries with reserved bits set are skipped with their subtree; the
    /// first is returned as a [`FaultKind::ReservedBit`] fault.
    pub fn for_each_mapping(
        &self,
        bus: &impl PhysBus,
        cr3: u64,
        start: u64,
        end: u64,
        mut f: impl FnMut(&Leaf),
    ) -> Result<(), Fault> {
        let top = 1u64 << 32;
        let mut w = Walker {
            mmu: self,
            bus,
            start,
            end: if end == 0 { top } else { end.min(top) },
            first_error: None,
            f: &mut f,
        };
        w.table(
            self.root_base(cr3),
            self.root_level(),
            0,
            (true, true, true),
        );
        w.first_error.map_or(Ok(()), Err)
    }
}

impl<B: PhysBus + ?Sized> Walker<'_, B> {
    /// Visits the table at `pa` for `level` starting at linear `base`, with
    /// the (writable, user, executable) rights of the entries above.
    fn table(&mut self, pa: u64, level: i8, base: u64, rights: (bool, bool, bool)) {
        let m = self.mmu;
        let shift = m.shift(level);
        let size = 1u64 << shift;
        for i in 0..m.entries(level) {
            let va = base + (i << shift);
            if va >= self.end || va + size <= self.start {
                continue;
            }
            let epa = pa + m.entry_bytes() * i;
            let e = m.read(self.bus, epa);
            if e & P == 0 {
                continue;
            }
            if let Some(why) = m.reserved(level, e) {
                if self.first_error.is_none() {
                    self.first_error = Some(Fault {
                        addr: va.max(self.start),
                        access: Access::Read,
                        mode: Mode::Supervisor,
                        kind: FaultKind::ReservedBit,
                        level,
                        detail: why,
                    });
                }
                continue;
            }
            let rights = if level == 3 {
                rights
            } else {
                (
                    rights.0 && e & RW != 0,
                    rights.1 && e & US != 0,
                    rights.2 && e & XD == 0,
                )
            };
            if m.is_leaf(level, e) {
                (self.f)(&Leaf {
                    va,
                    xlat: Xlat {
                        pa: m.frame(level, e, true),
                        size,
                        writable: rights.0,
                        user: rights.1,
                        executable: rights.2,
                        global: m.pge && e & G != 0,
                    },
                    level,
                    entry: e,
                    entry_pa: epa,
                });
            } else {
                self.table(m.frame(level, e, false), level - 1, va, rights);
            }
        }
    }
}

/// x86 32-bit/PAE: `roots.user` is CR3; `roots.kernel` is ignored.
impl Mmu for X86_32Mmu {
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
    use super::super::entry::PS;
    use super::*;
    use crate::test_util::MemBus;
    use std::vec::Vec;

    #[test]
    fn finds_exactly_the_mapped_leaves() {
        for m in [X86_32Mmu::new_32bit(), X86_32Mmu::new_pae()] {
            let bus = MemBus::new();
            let cr3 = bus.alloc();
            let big = 1u64 << m.shift(2);
            let maps = [
                (0x1000u64, 0x7000u64, 1i8),
                (big, 2 * big, 2),
                (0xc000_0000, 0x9000, 1),
                (0xffff_f000, 0xa000, 1),
            ];
            for &(va, pa, l) in &maps {
                map(&bus, &m, cr3, va, pa, l, RW);
            }
            let mut got = Vec::new();
            m.for_each_leaf(&bus, &Roots::single(cr3), 0, 0, &mut |l| {
                got.push((l.va, l.xlat.pa, l.level))
            })
            .unwrap();
            assert_eq!(got, maps.to_vec());
            // Corrupt the large page: reported, others still visited.
            // (Bit 21 is reserved in a 4 MiB PDE, bit 13 in a 2 MiB one.)
            let bad = if m.pae { 1 << 13 } else { 1 << 21 };
            edit(&bus, &m, cr3, big, 2, |e| e | PS | bad);
            got.clear();
            let f = m
                .for_each_mapping(&bus, cr3, 0x2000, 0, |l| {
                    got.push((l.va, l.xlat.pa, l.level))
                })
                .unwrap_err();
            assert_eq!((f.kind, f.level, f.addr), (FaultKind::ReservedBit, 2, big));
            assert_eq!(got, maps[2..].to_vec());
        }
    }
}
