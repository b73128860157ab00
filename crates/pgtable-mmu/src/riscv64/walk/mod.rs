//! The translation process (privileged spec 4.3.2, steps 1 to 8), with the
//! Sv39/48/57 geometry and the Svade/Svadu A/D rules.

use super::pte::{self, A, D, G, R, U, V, W, X};
use super::{level_shift, Riscv64Mmu};
use crate::{Access, Fault, FaultKind, Leaf, Mode, PhysBus, Xlat};

impl Riscv64Mmu {
    /// Whether the leaf `pte` allows `access` in `mode` (4.3.2 step 5,
    /// 4.3.1 and 4.1.1.x): U-mode needs U = 1; S-mode may load/store U = 1
    /// pages only with SUM and never fetches from them; loads need R (or
    /// X with MXR), stores W, fetches X. `Err` names the reason.
    pub fn permits(&self, pte: u64, access: Access, mode: Mode) -> Result<(), &'static str> {
        let user_page = pte & U != 0;
        match mode {
            Mode::User if !user_page => return Err("U = 0 page accessed from U-mode"),
            Mode::Supervisor if user_page && access == Access::Execute => {
                return Err("S-mode fetch from a U = 1 page")
            }
            Mode::Supervisor if user_page && !self.sum => {
                return Err("S-mode access to a U = 1 page without SUM")
            }
            _ => {}
        }
        let ok = match access {
            Access::Read => pte & R != 0 || (self.mxr && pte & X != 0),
            Access::Write => pte & W != 0,
            Access::Execute => pte & X != 0,
        };
        if ok {
            Ok(())
        } else {
            Err(match access {
                Access::Read => "R = 0",
                Access::Write => "W = 0",
                Access::Execute => "X = 0",
            })
        }
    }

    /// The neutral summary of leaf `pte` (global if G was set on the path).
    pub(crate) fn xlat(&self, pte: u64, global: bool, pa: u64, size: u64) -> Xlat {
        Xlat {
            pa,
            size,
            writable: pte & W != 0,
            user: pte & U != 0,
            executable: pte & X != 0,
            global: global || pte & G != 0,
        }
    }

    /// Translates `va` for `access` in `mode` with the root table at
    /// physical address `root` (satp.PPN × 4096, see
    /// [`Riscv64Mmu::satp_root`]), following 4.3.2:
    ///
    /// - a non-canonical `va` is a page fault before any read
    ///   ([`FaultKind::NonCanonical`], root level);
    /// - V = 0: [`FaultKind::NotPresent`] at that level; W without R,
    ///   reserved bits, a pointer PTE at level 0 and a misaligned superpage
    ///   (PPN bits below the leaf's level not zero):
    ///   [`FaultKind::ReservedBit`];
    /// - denied rights: [`FaultKind::Protection`] at the leaf's level
    ///   (checked before alignment, as in steps 5 and 6);
    /// - A = 0, or D = 0 on a store: with Svadu the walk sets them (only
    ///   for an access that otherwise succeeds); without, a page fault
    ///   reported as [`FaultKind::AccessFlag`].
    ///
    /// The [`Leaf`] has `va`, its physical address, and the leaf PTE as
    /// updated.
    pub fn translate(
        &self,
        bus: &impl PhysBus,
        root: u64,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Leaf, Fault> {
        let fault = Fault::of_access(va, access, mode);
        if !self.is_canonical(va) {
            let detail = "bits above the VA width differ from its top bit";
            return Err(fault(FaultKind::NonCanonical, self.root_level(), detail));
        }
        let mut table = root & !0xfff;
        let mut level = self.root_level();
        let mut global = false;
        let (epa, e) = loop {
            let epa = table + 8 * ((va >> level_shift(level)) & 511);
            let e = bus.read_u64(epa);
            if e & V == 0 {
                return Err(fault(FaultKind::NotPresent, level, "V = 0"));
            }
            if let Some(why) = pte::malformed(self, e) {
                return Err(fault(FaultKind::ReservedBit, level, why));
            }
            global |= e & G != 0;
            if pte::is_leaf(e) {
                break (epa, e);
            }
            if level == 0 {
                return Err(fault(FaultKind::ReservedBit, 0, "pointer PTE at level 0"));
            }
            table = pte::to_pa(e);
            level -= 1;
        };
        if let Err(why) = self.permits(e, access, mode) {
            return Err(fault(FaultKind::Protection, level, why));
        }
        let size = 1u64 << level_shift(level);
        let frame = pte::to_pa(e);
        if frame & (size - 1) != 0 {
            return Err(fault(FaultKind::ReservedBit, level, "misaligned superpage"));
        }
        let mut need = A;
        if access == Access::Write {
            need |= D;
        }
        let mut e = e;
        if e & need != need {
            if !self.svadu {
                let why = if e & A == 0 {
                    "A = 0 (Svade)"
                } else {
                    "D = 0 on a store (Svade)"
                };
                return Err(fault(FaultKind::AccessFlag, level, why));
            }
            bus.set_bits_u64(epa, need);
            e |= need;
        }
        let pa = frame | (va & (size - 1));
        Ok(Leaf {
            va,
            xlat: self.xlat(e, global, pa, size),
            level,
            entry: e,
            entry_pa: epa,
        })
    }
}

#[cfg(test)]
mod tests;
