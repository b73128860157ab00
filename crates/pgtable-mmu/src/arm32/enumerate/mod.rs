//! Enumeration of the leaves of one TTBR's tables (B3.5) and the neutral
//! [`Mmu`] view. Reads memory only.
//!
//! Large pages and supersections must be replicated in 16 consecutive
//! entries (B3.5.1: otherwise the translation is UNPREDICTABLE); each
//! correctly replicated group is reported once, and a group that is not
//! (mixed or misplaced entries) is reported as an error.

use super::walk::{LeafDesc, L1};
use super::{Arm32Mmu, Half};
use crate::{Access, Fault, FaultKind, Leaf, Mmu, Mode, PhysBus, Roots, Xlat};

struct Walker<'a, B: ?Sized> {
    mmu: &'a Arm32Mmu,
    bus: &'a B,
    start: u64,
    end: u64,
    first_error: Option<Fault>,
    f: &'a mut dyn FnMut(&Leaf),
}

impl Arm32Mmu {
    /// Calls `f` for every section, supersection, large page and small page
    /// of the tables at `ttbr` (TTBR0 for [`Half::Lower`], TTBR1 for
    /// [`Half::Upper`]) overlapping `[start, end)` within that TTBR's range
    /// (`end == 0`: to 4 GiB), in increasing VA order.
    ///
    /// Fault descriptors are skipped. Unimplemented first-level encodings
    /// (reported as translation faults, as a walk would) and badly
    /// replicated 64 KiB / 16 MiB entries (reported as
    /// [`FaultKind::ReservedBit`]) are skipped and the first is returned.
    pub fn for_each_mapping(
        &self,
        bus: &impl PhysBus,
        ttbr: u64,
        half: Half,
        start: u64,
        end: u64,
        mut f: impl FnMut(&Leaf),
    ) -> Result<(), Fault> {
        let (lo, hi) = match half {
            Half::Lower => (0, self.boundary()),
            Half::Upper => (self.boundary(), 1 << 32),
        };
        let mut w = Walker {
            mmu: self,
            bus,
            start: start.max(lo),
            end: if end == 0 { hi } else { end.min(hi) },
            first_error: None,
            f: &mut f,
        };
        let base = self.l1_base(ttbr, half);
        // Entry i of either table maps VA i << 20 (TTBR1's table is indexed
        // by all of VA[31:20]). Start at a 16-entry group boundary so a
        // supersection straddling `start` is seen from its first entry.
        let mut i = (w.start >> 20) & !15;
        while i < w.end.div_ceil(1 << 20) {
            i = w.l1_entry(base, i);
        }
        w.first_error.map_or(Ok(()), Err)
    }
}

impl<B: PhysBus + ?Sized> Walker<'_, B> {
    fn error(&mut self, va: u64, kind: FaultKind, level: i8, detail: &'static str) {
        if self.first_error.is_none() {
            self.first_error = Some(Fault {
                addr: va.max(self.start),
                access: Access::Read,
                mode: Mode::Supervisor,
                kind,
                level,
                detail,
            });
        }
    }

    fn overlaps(&self, va: u64, size: u64) -> bool {
        va < self.end && va + size > self.start
    }

    fn emit(&mut self, va: u64, leaf: &LeafDesc, level: i8, d: u32, epa: u64) {
        (self.f)(&Leaf {
            va,
            xlat: self.mmu.xlat(leaf, leaf.base),
            level,
            entry: u64::from(d),
            entry_pa: epa,
        });
    }

    /// Whether the 16 words from `pa` all equal `d`.
    fn replicated(&self, pa: u64, d: u32) -> bool {
        (1..16).all(|k| self.bus.read_u32(pa + 4 * k) == d)
    }

    /// Visits first-level entry `i` of the table at `base`; returns the
    /// next index to visit (past the group for a supersection).
    fn l1_entry(&mut self, base: u64, i: u64) -> u64 {
        let va = i << 20;
        let pa = base + 4 * i;
        let group_start = i.is_multiple_of(16) && self.overlaps(va, 16 << 20);
        if !self.overlaps(va, 1 << 20) && !group_start {
            return i + 1;
        }
        let d = self.bus.read_u32(pa);
        match self.mmu.l1(d) {
            L1::Invalid => {}
            L1::Reserved(why) => self.error(va, FaultKind::NotPresent, 1, why),
            L1::Table { base, domain, pxn } => {
                if self.overlaps(va, 1 << 20) {
                    self.l2_table(base, va, domain, pxn);
                }
            }
            L1::Leaf(leaf) if leaf.size == 1 << 20 => {
                if self.overlaps(va, 1 << 20) {
                    self.emit(va, &leaf, 1, d, pa);
                }
            }
            L1::Leaf(leaf) => {
                if i.is_multiple_of(16) && self.replicated(pa, d) {
                    self.emit(va, &leaf, 1, d, pa);
                } else {
                    self.error(
                        va,
                        FaultKind::ReservedBit,
                        1,
                        "supersection not replicated 16 times",
                    );
                }
                return (i & !15) + 16;
            }
        }
        i + 1
    }

    /// Visits the second-level table at `base` for the MiB at `mib`.
    fn l2_table(&mut self, base: u64, mib: u64, domain: u32, pxn: bool) {
        let mut j = 0;
        while j < 256 {
            let va = mib + (j << 12);
            let epa = base + 4 * j;
            let d = self.bus.read_u32(epa);
            match self.mmu.l2(d, domain, pxn) {
                None => j += 1,
                Some(leaf) if leaf.size == 1 << 12 => {
                    if self.overlaps(va, 1 << 12) {
                        self.emit(va, &leaf, 2, d, epa);
                    }
                    j += 1;
                }
                Some(leaf) => {
                    let group = mib + ((j & !15) << 12);
                    if j % 16 == 0 && self.replicated(epa, d) {
                        if self.overlaps(va, 1 << 16) {
                            self.emit(va, &leaf, 2, d, epa);
                        }
                    } else if self.overlaps(group, 1 << 16) {
                        self.error(
                            va,
                            FaultKind::ReservedBit,
                            2,
                            "large page not replicated 16 times",
                        );
                    }
                    j = (j & !15) + 16;
                }
            }
        }
    }
}

/// arm32: `roots.user` is TTBR0, `roots.kernel` TTBR1 (used above the
/// TTBCR.N boundary; `None` there makes those VAs fault at level 1).
/// [`Mode::Supervisor`] is PL1, [`Mode::User`] PL0.
impl Mmu for Arm32Mmu {
    fn translate_any(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault> {
        if self.half(va) == Half::Upper && roots.kernel.is_none() {
            let fault = Fault::of_access(va, access, mode);
            return Err(fault(FaultKind::NotPresent, 1, "no TTBR1"));
        }
        let t1 = roots.kernel.unwrap_or(0);
        self.translate(&bus, roots.user, t1, va, access, mode)
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
            Some(t1) if self.ttbcr_n > 0 => {
                self.for_each_mapping(&bus, t1, Half::Upper, start, end, f)
            }
            _ => Ok(()),
        };
        lower.and(upper)
    }
}

#[cfg(test)]
mod tests;
