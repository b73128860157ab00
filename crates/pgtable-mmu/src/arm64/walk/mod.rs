//! The stage 1 walk (Arm ARM D8.2 "Translation process"), permission checks
//! (D8.4 "Memory access control") and hardware AF/dirty updates (D8.5).

use super::desc::{self, AF, AP_EL0, AP_RO, AP_TABLE_NO_EL0, AP_TABLE_RO, DBM, NG};
use super::desc::{PXN, PXN_TABLE, UXN, UXN_TABLE};
use super::{level_shift, Arm64Mmu, Half};
use crate::{Access, Fault, FaultKind, Leaf, Mode, PhysBus, Xlat};

/// Permissions accumulated down a walk: table attributes (hierarchical
/// permissions, D8.4) merged with the leaf's own.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rights {
    /// Some table had APTable\[0\] = 1: no EL0 access below.
    pub no_el0: bool,
    /// Some table had APTable\[1\] = 1: no writes below.
    pub ro: bool,
    /// Some table had PXNTable = 1.
    pub pxn: bool,
    /// Some table had UXNTable = 1.
    pub uxn: bool,
}

impl Rights {
    /// Merges a table descriptor's hierarchical controls.
    pub(crate) fn table(self, d: u64) -> Rights {
        Rights {
            no_el0: self.no_el0 || d & AP_TABLE_NO_EL0 != 0,
            ro: self.ro || d & AP_TABLE_RO != 0,
            pxn: self.pxn || d & PXN_TABLE != 0,
            uxn: self.uxn || d & UXN_TABLE != 0,
        }
    }
}

/// Effective permissions of a leaf after hierarchical merging (D8.4).
#[derive(Clone, Copy, Debug)]
pub struct Perms {
    /// AP\[1\] = 1 and no APTable\[0\] above.
    pub el0: bool,
    /// Writes allowed: AP\[2\] = 0 (or DBM = 1 with TCR.HD, D8.5) and no
    /// APTable\[1\] above.
    pub writable: bool,
    /// PXN, PXNTable, or implicitly PXN because EL0 can write (D8.4,
    /// "Instruction access permissions": EL1 cannot fetch from
    /// EL0-writable memory).
    pub pxn: bool,
    /// UXN or UXNTable.
    pub uxn: bool,
}

impl Arm64Mmu {
    /// Effective permissions of the leaf `d` under table rights `r`.
    pub(crate) fn perms(&self, r: Rights, d: u64) -> Perms {
        let el0 = d & AP_EL0 != 0 && !r.no_el0;
        let leaf_ro = d & AP_RO != 0 && !(self.hd && d & DBM != 0);
        let writable = !leaf_ro && !r.ro;
        Perms {
            el0,
            writable,
            pxn: r.pxn || d & PXN != 0 || (el0 && writable),
            uxn: r.uxn || d & UXN != 0,
        }
    }

    /// The neutral summary of a leaf (see [`Xlat`]): owner is EL0 when EL0
    /// may access the page.
    pub(crate) fn xlat(&self, p: Perms, d: u64, pa: u64, size: u64) -> Xlat {
        Xlat {
            pa,
            size,
            writable: p.writable,
            user: p.el0,
            executable: if p.el0 { !p.uxn } else { !p.pxn },
            global: d & NG == 0,
        }
    }

    /// Whether `access` at `mode` is allowed (D8.4): `Err` names the reason.
    ///
    /// EL0: reads need AP\[1\], writes AP\[2:1\] = 01, fetches only UXN = 0
    /// (EL0 execute-only memory exists in VMSAv8-64). EL1: reads always,
    /// writes need AP\[2\] = 0, fetches PXN = 0 and not EL0-writable; with
    /// PSTATE.PAN, data accesses to EL0-accessible pages fault.
    pub fn permits(&self, p: &Perms, access: Access, mode: Mode) -> Result<(), &'static str> {
        let ok = |c: bool, why| if c { Ok(()) } else { Err(why) };
        match (mode, access) {
            (Mode::User, Access::Read) => ok(p.el0, "no EL0 access (AP[1] = 0 or APTable[0])"),
            (Mode::User, Access::Write) => {
                ok(p.el0, "no EL0 access (AP[1] = 0 or APTable[0])")?;
                ok(p.writable, "read-only (AP[2] or APTable[1])")
            }
            (Mode::User, Access::Execute) => ok(!p.uxn, "UXN or UXNTable"),
            (Mode::Supervisor, Access::Execute) => ok(!p.pxn, "PXN, PXNTable or EL0-writable"),
            (Mode::Supervisor, data) => {
                ok(
                    !(self.pan && p.el0),
                    "PAN: EL1 data access to EL0-accessible page",
                )?;
                ok(
                    data == Access::Read || p.writable,
                    "read-only (AP[2] or APTable[1])",
                )
            }
        }
    }

    /// Translates `va` for `access` at `mode` (EL1 for
    /// [`Mode::Supervisor`], EL0 for [`Mode::User`]) with the tables at
    /// TTBR0_EL1 = `ttbr0` and TTBR1_EL1 = `ttbr1`, as a TLB miss does.
    ///
    /// Faults (levels as in the module docs), in the architecture's order:
    /// - `va` in neither range: Translation fault ([`FaultKind::NotPresent`])
    ///   at level 0, before any memory is read (D8.1);
    /// - TTBR base wider than `pa_bits`: Address size fault, level 0 (the
    ///   fault status code "level 0 or translation table base register");
    /// - an invalid descriptor, or a block where the level allows none:
    ///   Translation fault at that level;
    /// - a table or output address wider than `pa_bits`: Address size fault
    ///   at that level;
    /// - a leaf with AF = 0 and TCR.HA = 0: Access flag fault at the leaf's
    ///   level (it takes priority over permission faults);
    /// - a denied access: Permission fault ([`FaultKind::Protection`]) at
    ///   the leaf's level.
    ///
    /// On success, with HA the walk sets AF, and with HD a write to a
    /// DBM = 1 page clears AP\[2\] (D8.5); a faulting access changes
    /// nothing. The returned [`Leaf`] has `va` and the translated PA, and
    /// the leaf descriptor as updated.
    pub fn translate(
        &self,
        bus: &impl PhysBus,
        ttbr0: u64,
        ttbr1: u64,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Leaf, Fault> {
        self.translate_opt(bus, Some(ttbr0), Some(ttbr1), va, access, mode)
    }

    /// [`Arm64Mmu::translate`] where `None` means walks of that range are
    /// disabled (TCR_EL1.EPDn = 1): a Translation fault at level 0.
    pub fn translate_opt(
        &self,
        bus: &impl PhysBus,
        ttbr0: Option<u64>,
        ttbr1: Option<u64>,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Leaf, Fault> {
        let fault = Fault::of_access(va, access, mode);
        let (half, ttbr) = match self.half(va) {
            None => {
                return Err(fault(
                    FaultKind::NotPresent,
                    0,
                    "VA outside both TTBR ranges",
                ))
            }
            Some(h @ Half::Lower) => (h, ttbr0),
            Some(h @ Half::Upper) => (h, ttbr1),
        };
        let Some(ttbr) = ttbr else {
            return Err(fault(FaultKind::NotPresent, 0, "walks disabled (EPDn)"));
        };
        let mut table = self.table_base(ttbr, half);
        if table >= self.pa_limit() {
            return Err(fault(FaultKind::AddressSize, 0, "TTBR base above PA size"));
        }
        let mut level = self.start_level(half);
        let mut rights = Rights::default();
        let (epa, d) = loop {
            let epa = table + 8 * self.index(half, level, va);
            let d = bus.read_u64(epa);
            if d & desc::VALID == 0 {
                return Err(fault(FaultKind::NotPresent, level, "invalid descriptor"));
            }
            let Some(is_table) = desc::kind(self, level, d) else {
                return Err(fault(
                    FaultKind::NotPresent,
                    level,
                    "block not allowed at this level",
                ));
            };
            let addr = desc::decode_addr(self, d, level, !is_table);
            if addr >= self.pa_limit() {
                return Err(fault(
                    FaultKind::AddressSize,
                    level,
                    "address above PA size",
                ));
            }
            if !is_table {
                break (epa, d);
            }
            rights = rights.table(d);
            table = addr;
            level += 1;
        };
        if d & AF == 0 && !self.ha {
            return Err(fault(FaultKind::AccessFlag, level, "AF = 0"));
        }
        let p = self.perms(rights, d);
        if let Err(why) = self.permits(&p, access, mode) {
            return Err(fault(FaultKind::Protection, level, why));
        }
        let mut d = d;
        if d & AF == 0 {
            bus.set_bits_u64(epa, AF);
            d |= AF;
        }
        if access == Access::Write && d & AP_RO != 0 {
            // Only reachable with HD and DBM = 1 (perms made it writable).
            bus.clear_bits_u64(epa, AP_RO);
            d &= !AP_RO;
        }
        let size = 1u64 << level_shift(level);
        let pa = desc::decode_addr(self, d, level, true) | (va & (size - 1));
        Ok(Leaf {
            va,
            xlat: self.xlat(p, d, pa, size),
            level,
            entry: d,
            entry_pa: epa,
        })
    }
}

#[cfg(test)]
mod tests;
