//! Descriptor decoding (B3.5.1), the two-level walk (B3.5.5) and the
//! domain and permission checks (B3.7).

use super::desc::{self, Perm};
use super::{Arm32Mmu, Half};
use crate::{Access, Fault, FaultKind, Leaf, Mode, PhysBus, Xlat};

/// A decoded block/page descriptor with the attributes that matter here.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LeafDesc {
    pub base: u64,
    pub size: u64,
    pub domain: u32,
    pub ap: u32,
    pub xn: bool,
    pub pxn: bool,
    pub ng: bool,
}

/// A decoded first-level descriptor.
pub(crate) enum L1 {
    /// `bits[1:0] = 0b00`: translation fault.
    Invalid,
    /// An encoding the configuration does not implement: translation fault.
    Reserved(&'static str),
    /// A page-table pointer.
    Table { base: u64, domain: u32, pxn: bool },
    /// A section or supersection.
    Leaf(LeafDesc),
}

impl Arm32Mmu {
    /// Decodes first-level descriptor `d` (figure B3-4).
    pub(crate) fn l1(&self, d: u32) -> L1 {
        let d64 = u64::from(d);
        match d & desc::L1_TYPE_MASK {
            0b00 => L1::Invalid,
            0b01 => L1::Table {
                base: d64 & 0xffff_fc00,
                domain: (d >> desc::DOMAIN_SHIFT) & 0xf,
                pxn: self.pxn && d & desc::L1_PT_PXN != 0,
            },
            0b11 if !self.pxn => L1::Reserved("bits[1:0] = 0b11 without PXN support"),
            _ if d & desc::SUPERSECTION != 0 && !self.supersections => {
                L1::Reserved("supersection not implemented")
            }
            _ => {
                let sup = d & desc::SUPERSECTION != 0;
                let base = if sup {
                    // PA[31:24], [35:32] from bits [23:20], [39:36] from [8:5].
                    (d64 & 0xff00_0000) | ((d64 >> 20) & 0xf) << 32 | ((d64 >> 5) & 0xf) << 36
                } else {
                    d64 & 0xfff0_0000
                };
                L1::Leaf(LeafDesc {
                    base,
                    size: if sup { 1 << 24 } else { 1 << 20 },
                    // Supersections are always in domain 0.
                    domain: if sup {
                        0
                    } else {
                        (d >> desc::DOMAIN_SHIFT) & 0xf
                    },
                    ap: desc::ap(1, d),
                    xn: d & desc::SECT_XN != 0,
                    pxn: self.pxn && d & desc::SECT_PXN != 0,
                    ng: d & desc::SECT_NG != 0,
                })
            }
        }
    }

    /// Decodes second-level descriptor `d` (figure B3-5) under a page-table
    /// descriptor with `domain` and `pxn`; `None` for a fault entry.
    pub(crate) fn l2(&self, d: u32, domain: u32, pxn: bool) -> Option<LeafDesc> {
        let d64 = u64::from(d);
        let small = d & desc::L2_SMALL != 0;
        if !small && d & desc::L2_LARGE == 0 {
            return None;
        }
        Some(LeafDesc {
            base: d64 & if small { 0xffff_f000 } else { 0xffff_0000 },
            size: if small { 1 << 12 } else { 1 << 16 },
            domain,
            ap: desc::ap(2, d),
            xn: d & if small {
                desc::SMALL_XN
            } else {
                desc::LARGE_XN
            } != 0,
            pxn,
            ng: d & desc::PAGE_NG != 0,
        })
    }

    /// Domain check (B3.7.3) then permission check (B3.7.1, B3.7.2) of
    /// `leaf` for `access` in `mode` (PL1 or PL0). Instruction fetches need
    /// read access as well as XN = 0 (and PXN = 0 at PL1). Manager domains
    /// skip the permission check entirely.
    pub(crate) fn check(
        &self,
        leaf: &LeafDesc,
        access: Access,
        mode: Mode,
    ) -> Result<(), (FaultKind, &'static str)> {
        let prot = |why| Err((FaultKind::Protection, why));
        match self.domain_access(leaf.domain) {
            0b01 => {}
            0b11 => return Ok(()),
            _ => return prot("domain fault (DACR no access)"),
        }
        let Some((pl1, pl0)) = desc::decode_ap(leaf.ap) else {
            return Err((FaultKind::ReservedBit, "reserved AP[2:0] = 0b100"));
        };
        let perm = if mode == Mode::User { pl0 } else { pl1 };
        match access {
            Access::Read if perm == Perm::None => prot("AP: no access"),
            Access::Write if perm != Perm::Rw => prot("AP: not writable"),
            Access::Execute if perm == Perm::None => prot("AP: no access"),
            Access::Execute if leaf.xn => prot("XN"),
            Access::Execute if mode == Mode::Supervisor && leaf.pxn => prot("PXN"),
            _ => Ok(()),
        }
    }

    /// The neutral summary of `leaf` (owner is PL0 if PL0 may access it).
    pub(crate) fn xlat(&self, leaf: &LeafDesc, pa: u64) -> Xlat {
        let (pl1, pl0) = desc::decode_ap(leaf.ap).unwrap_or((Perm::None, Perm::None));
        let user = pl0 != Perm::None;
        Xlat {
            pa,
            size: leaf.size,
            writable: if user {
                pl0 == Perm::Rw
            } else {
                pl1 == Perm::Rw
            },
            user,
            executable: !leaf.xn && (user || !leaf.pxn),
            global: !leaf.ng,
        }
    }

    /// Translates the 32-bit `va` for `access` in `mode` (PL1 for
    /// [`Mode::Supervisor`], PL0 for [`Mode::User`]) through TTBR0 =
    /// `ttbr0` or, above the TTBCR.N boundary, TTBR1 = `ttbr1` (B3.5.5):
    ///
    /// - a fault (0b00) or unimplemented first-level descriptor: translation
    ///   fault ([`FaultKind::NotPresent`]) at level 1; a fault second-level
    ///   descriptor: at level 2;
    /// - a DACR "no access" domain, or AP/XN/PXN denying the access:
    ///   [`FaultKind::Protection`] at the leaf's level (domain faults are
    ///   reported as such in `detail`); the reserved AP encoding 0b100:
    ///   [`FaultKind::ReservedBit`];
    /// - a `va` above 4 GiB: [`FaultKind::NonCanonical`] at level 1.
    ///
    /// With SCTLR.AFE = 0 there is no access flag and the walk writes
    /// nothing. The [`Leaf`] has `va`, its PA and the leaf descriptor.
    pub fn translate(
        &self,
        bus: &impl PhysBus,
        ttbr0: u64,
        ttbr1: u64,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Leaf, Fault> {
        let fault = Fault::of_access(va, access, mode);
        if va > u64::from(u32::MAX) {
            return Err(fault(FaultKind::NonCanonical, 1, "VA above 4 GiB"));
        }
        let half = self.half(va);
        let ttbr = if half == Half::Lower { ttbr0 } else { ttbr1 };
        let l1_index = match half {
            Half::Lower => (va >> 20) & ((1 << (12 - self.ttbcr_n)) - 1),
            Half::Upper => va >> 20,
        };
        let l1_pa = self.l1_base(ttbr, half) + 4 * l1_index;
        let d1 = bus.read_u32(l1_pa);
        let (leaf, level, d, epa) = match self.l1(d1) {
            L1::Invalid => {
                return Err(fault(
                    FaultKind::NotPresent,
                    1,
                    "first-level fault descriptor",
                ))
            }
            L1::Reserved(why) => return Err(fault(FaultKind::NotPresent, 1, why)),
            L1::Leaf(leaf) => (leaf, 1, d1, l1_pa),
            L1::Table { base, domain, pxn } => {
                let l2_pa = base + 4 * ((va >> 12) & 0xff);
                let d2 = bus.read_u32(l2_pa);
                let Some(leaf) = self.l2(d2, domain, pxn) else {
                    return Err(fault(
                        FaultKind::NotPresent,
                        2,
                        "second-level fault descriptor",
                    ));
                };
                (leaf, 2, d2, l2_pa)
            }
        };
        if let Err((kind, why)) = self.check(&leaf, access, mode) {
            return Err(fault(kind, level, why));
        }
        Ok(Leaf {
            va,
            xlat: self.xlat(&leaf, leaf.base | (va & (leaf.size - 1))),
            level,
            entry: u64::from(d),
            entry_pa: epa,
        })
    }
}

#[cfg(test)]
mod tests;
