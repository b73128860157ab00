//! Entry decoding (SDM 4.3 tables 4-4 to 4-6, 4.4.2 tables 4-8 to 4-11) and
//! the walk with A/D updates (4.8).

use super::entry::{A, D, G, P, PS, RW, US, XD};
use super::{bits, X86_32Mmu};
use crate::{Access, Fault, FaultKind, Leaf, Mode, PhysBus, Xlat};

impl X86_32Mmu {
    /// Reads the entry at `pa` (4 or 8 bytes), zero-extended.
    pub(crate) fn read(&self, bus: &(impl PhysBus + ?Sized), pa: u64) -> u64 {
        if self.pae {
            bus.read_u64(pa)
        } else {
            u64::from(bus.read_u32(pa))
        }
    }

    /// Sets `b` in the entry at `pa` (4 or 8 bytes).
    fn set_bits(&self, bus: &(impl PhysBus + ?Sized), pa: u64, b: u64) {
        if self.pae {
            bus.set_bits_u64(pa, b)
        } else {
            // A and D are in the low byte.
            bus.set_bits_u32(pa, b as u32)
        }
    }

    /// Physical-address width a 4 MiB page can reach in 32-bit paging:
    /// min(MAXPHYADDR, 40) with PSE-36, else 32 (SDM table 4-4).
    const fn pse_width(&self) -> u32 {
        if !self.pse36 {
            32
        } else if self.maxphyaddr > 40 {
            40
        } else {
            self.maxphyaddr as u32
        }
    }

    /// Whether the present entry `e` at `level` maps a page: every PTE; a
    /// PDE with PS = 1 under PAE, or under 32-bit paging with CR4.PSE = 1
    /// (with PSE = 0 the PS bit is ignored, SDM table 4-6).
    pub(crate) const fn is_leaf(&self, level: i8, e: u64) -> bool {
        match level {
            1 => true,
            2 => e & PS != 0 && (self.pae || self.pse),
            _ => false,
        }
    }

    /// The reason the present entry `e` at `level` has a reserved bit set
    /// (SDM 4.3 table 4-4; 4.4 tables 4-8 to 4-11), or `None`.
    pub(crate) fn reserved(&self, level: i8, e: u64) -> Option<&'static str> {
        if !self.pae {
            // Only a 4 MiB PDE has reserved bits: 21, and the PA bits
            // 39:32 field above the supported width (bits 20:13).
            let mask = bits(21, 13 + (self.pse_width() - 32));
            return if self.is_leaf(level, e) && level == 2 && e & mask != 0 {
                Some("reserved bit in a 4 MiB PDE")
            } else {
                None
            };
        }
        let above_maxphy = bits(62, u32::from(self.maxphyaddr));
        if level == 3 {
            // PDPTE: bits 2:1, 8:5 and 63:MAXPHYADDR are reserved.
            let mask = bits(2, 1) | bits(8, 5) | above_maxphy | XD;
            return (e & mask != 0).then_some("reserved bit in a PDPTE");
        }
        let mut mask = above_maxphy;
        if !self.nxe {
            mask |= XD;
        }
        if level == 2 && e & PS != 0 {
            mask |= bits(20, 13);
        }
        (e & mask != 0).then_some("reserved bit set")
    }

    /// Physical base of the page (leaf) or table `e` at `level` references.
    pub(crate) fn frame(&self, level: i8, e: u64, leaf: bool) -> u64 {
        if self.pae {
            let addr = e & bits(51, 12);
            if leaf {
                addr & !((1u64 << self.shift(level)) - 1)
            } else {
                addr
            }
        } else if leaf && level == 2 {
            (e & 0xffc0_0000) | ((e >> 13) & 0xff) << 32
        } else {
            e & 0xffff_f000
        }
    }

    /// Translates the 32-bit linear address `va` for `access` in `mode`
    /// with the paging structures at `cr3` (SDM 4.3 / 4.4.2):
    ///
    /// - `va` above 4 GiB: [`FaultKind::NonCanonical`] (no such linear
    ///   address) at the root level;
    /// - P = 0: [`FaultKind::NotPresent`] at that level (3 for a PDPTE);
    /// - a reserved bit: [`FaultKind::ReservedBit`] at that level (for a
    ///   PDPTE the hardware raises #GP at MOV CR3 instead);
    /// - rights combined over the PDE and PTE (the PDPTE has no R/W, U/S or
    ///   XD): [`FaultKind::Protection`] at the leaf's level.
    ///
    /// On success A is set in the PDE and PTE used and D in the leaf on a
    /// write (SDM 4.8), with 4-byte writes in 32-bit paging. PDPTEs have no
    /// A bit.
    pub fn translate(
        &self,
        bus: &impl PhysBus,
        cr3: u64,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Leaf, Fault> {
        let fault = Fault::of_access(va, access, mode);
        if va > u64::from(u32::MAX) {
            return Err(fault(
                FaultKind::NonCanonical,
                self.root_level(),
                "linear address above 4 GiB",
            ));
        }
        let mut table = self.root_base(cr3);
        let mut level = self.root_level();
        let (mut writable, mut user, mut executable) = (true, true, true);
        // (entry address, entry) of the PDE and PTE used, to set A/D.
        let mut path = [(0u64, 0u64); 2];
        let mut used = 0;
        let leaf = loop {
            let index = (va >> self.shift(level)) & (self.entries(level) - 1);
            let epa = table + self.entry_bytes() * index;
            let e = self.read(bus, epa);
            if e & P == 0 {
                return Err(fault(FaultKind::NotPresent, level, "P = 0"));
            }
            if let Some(why) = self.reserved(level, e) {
                return Err(fault(FaultKind::ReservedBit, level, why));
            }
            if level < 3 {
                writable &= e & RW != 0;
                user &= e & US != 0;
                executable &= e & XD == 0;
                path[used] = (epa, e);
                used += 1;
            }
            if self.is_leaf(level, e) {
                break e;
            }
            table = self.frame(level, e, false);
            level -= 1;
        };
        let rights = self.rights();
        if !rights.permits(writable, user, executable, access, mode) {
            return Err(fault(FaultKind::Protection, level, "access rights"));
        }
        let (leaf_pa, _) = path[used - 1];
        for &(epa, e) in &path[..used - 1] {
            if e & A == 0 {
                self.set_bits(bus, epa, A);
            }
        }
        let want = if access == Access::Write { A | D } else { A };
        if leaf & want != want {
            self.set_bits(bus, leaf_pa, want);
        }
        let leaf = leaf | want;
        let size = 1u64 << self.shift(level);
        Ok(Leaf {
            va,
            xlat: Xlat {
                pa: self.frame(level, leaf, true) | (va & (size - 1)),
                size,
                writable,
                user,
                executable,
                global: self.pge && leaf & G != 0,
            },
            level,
            entry: leaf,
            entry_pa: leaf_pa,
        })
    }
}

#[cfg(test)]
mod tests;
