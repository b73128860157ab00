//! The page walk: SDM 4.5.4 (linear-address translation with 4-level and
//! 5-level paging), 4.6 (access rights), 4.7 (page-fault conditions) and
//! 4.8 (accessed and dirty flags).

use super::{entry, PageFault, Translation, X86Mmu};
use crate::{Access, FaultKind, Mode, PhysBus};

impl X86Mmu {
    /// Translates `va` for `access` in `mode`, walking the tables rooted at
    /// `cr3`, as the processor does on a TLB miss (SDM 4.5.4).
    ///
    /// - A non-canonical `va` fails with [`FaultKind::NonCanonical`] before
    ///   any memory is read (the hardware raises #GP).
    /// - CR3 bits 51:12 locate the root table (PML5 with LA57, else PML4);
    ///   each level uses 9 bits of `va` to select an 8-byte entry, and bits
    ///   51:12 of a table-referencing entry locate the next table.
    /// - The walk stops at the first entry with P = 0 ([`FaultKind::NotPresent`])
    ///   or with a reserved bit set ([`FaultKind::ReservedBit`]), reporting
    ///   that entry's level. Reserved bits are checked only in present
    ///   entries (SDM 4.7).
    /// - A PTE, or a PDE/PDPTE with PS = 1, is the leaf. Rights are combined
    ///   over every entry used (SDM 4.6): writable only if R/W = 1 at every
    ///   level, user-mode only if U/S = 1 at every level, executable unless
    ///   some level has XD = 1. A denied access is a
    ///   [`FaultKind::Protection`] fault at the leaf's level.
    /// - On success the walk sets A in every entry it used and, for a write,
    ///   D in the leaf (SDM 4.8), each through [`PhysBus::set_bits_u64`] and
    ///   only when the bit was clear. A faulting walk sets nothing: the SDM
    ///   lets the processor set A bits on a faulting walk, but requiring it
    ///   would make the checker depend on an implementation choice.
    pub fn translate(
        &self,
        bus: &impl PhysBus,
        cr3: u64,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Translation, PageFault> {
        let fail = |kind, level| Err(self.fault(va, access, mode, kind, level));
        if !self.is_canonical(va) {
            return fail(FaultKind::NonCanonical, self.root_level());
        }

        // (entry address, value as read) for every entry used, root first.
        let mut path = [(0u64, 0u64); 5];
        let mut used = 0;
        let mut table = cr3 & entry::ADDR_MASK;
        let mut level = self.root_level();
        let (mut writable, mut user, mut executable) = (true, true, true);
        let leaf = loop {
            let epa = table + 8 * level.index(va) as u64;
            let e = bus.read_u64(epa);
            if e & entry::P == 0 {
                return fail(FaultKind::NotPresent, level);
            }
            if entry::reserved_bits(self, level, e) != 0 {
                return fail(FaultKind::ReservedBit, level);
            }
            path[used] = (epa, e);
            used += 1;
            writable &= e & entry::RW != 0;
            user &= e & entry::US != 0;
            // With NXE = 0 a set bit 63 was rejected as reserved above.
            executable &= e & entry::XD == 0;
            if entry::is_leaf(level, e) {
                break e;
            }
            table = entry::frame(level, e, false);
            level = level.lower().expect("a PTE is always a leaf");
        };

        if !self.permits(writable, user, executable, access, mode) {
            return fail(FaultKind::Protection, level);
        }

        // SDM 4.8: A in every entry used, D in the leaf on a write.
        let (leaf_pa, _) = path[used - 1];
        for &(epa, e) in &path[..used - 1] {
            if e & entry::A == 0 {
                bus.set_bits_u64(epa, entry::A);
            }
        }
        let mut leaf_bits = entry::A;
        if access == Access::Write {
            leaf_bits |= entry::D;
        }
        if leaf & leaf_bits != leaf_bits {
            bus.set_bits_u64(leaf_pa, leaf_bits);
        }
        let leaf = leaf | leaf_bits;

        let size = level.page_size();
        Ok(Translation {
            pa: entry::frame(level, leaf, true) | (va & (size - 1)),
            page_size: size,
            level,
            writable,
            user,
            executable,
            global: self.pge && leaf & entry::G != 0,
            dirty: leaf & entry::D != 0,
            pwt: leaf & entry::PWT != 0,
            pcd: leaf & entry::PCD != 0,
            pat: entry::pat(level, leaf),
            entry: leaf,
            entry_pa: leaf_pa,
        })
    }
}

#[cfg(test)]
mod tests;
