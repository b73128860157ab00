//! arm64: VMSAv8-64 stage 1 translation, 4 KiB granule, EL1&0 regime.
//!
//! Written from the Arm Architecture Reference Manual for A-profile (DDI
//! 0487), chapter D8 "The AArch64 Virtual Memory System Architecture":
//! D8.1 "Address translation" (VA ranges, TTBR selection, T0SZ/T1SZ,
//! start level), D8.2 "Translation process", D8.3 "Translation table
//! descriptor formats", D8.4 "Memory access control" (AP, XN/PXN/UXN,
//! hierarchical permissions, PAN), D8.5 "Hardware updates to the
//! translation tables" (FEAT_HAFDBS) and the MMU fault types of D8.
//! Section numbers follow the current (J/K) issues; the titles identify
//! them in older issues too (chapter D5 in ARMv8.0-era manuals).
//!
//! Level numbering is the architecture's: -1 (FEAT_LPA2 only, VA\[51:48\]),
//! 0 (VA\[47:39\]), 1 (\[38:30\], 1 GiB blocks), 2 (\[29:21\], 2 MiB
//! blocks), 3 (\[20:12\], 4 KiB pages). [`Fault::level`](crate::Fault) and
//! [`Leaf::level`](crate::Leaf) use it.
//!
//! Out of scope: stage 2, EL2/EL3 regimes, 16K/64K granules, ASIDs (one
//! address space tag), TCR_ELx.HPDn (hierarchical permissions are always
//! enabled), SCTLR_EL1.WXN, FEAT_PAN3 (EPAN), FEAT_HAFT, memory attributes
//! beyond reporting AttrIndx, and the Contiguous hint (reported, never used
//! to widen a translation).

pub mod desc;
mod enumerate;
mod walk;

pub use walk::Perms;

#[cfg(test)]
pub(crate) mod build;

/// Which VA range, and so which translation table base register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Half {
    /// VA\[55\] = 0: TTBR0_EL1, sized by TCR_EL1.T0SZ (user space).
    Lower,
    /// VA\[55\] = 1: TTBR1_EL1, sized by TCR_EL1.T1SZ (the kernel).
    Upper,
}

/// The translation-relevant system-register state (TCR_EL1, PSTATE.PAN,
/// ID_AA64MMFR0_EL1.PARange) for the EL1&0 regime with a 4 KiB granule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arm64Mmu {
    /// TCR_EL1.T0SZ: the lower range is `[0, 2^(64 - t0sz))`. 16 to 39
    /// (12 to 39 with `ds`).
    pub t0sz: u8,
    /// TCR_EL1.T1SZ: the upper range is `[2^64 - 2^(64 - t1sz), 2^64)`.
    pub t1sz: u8,
    /// TCR_EL1.DS (FEAT_LPA2): 52-bit output addresses with OA\[51:50\] in
    /// descriptor bits \[9:8\], VAs up to 52 bits (start level -1), and
    /// 512 GiB level-0 blocks.
    pub ds: bool,
    /// Output-address size in bits, the smaller of TCR_EL1.IPS and
    /// ID_AA64MMFR0_EL1.PARange (32 to 48, or 52 with `ds`). Wider table or
    /// output addresses are Address size faults.
    pub pa_bits: u8,
    /// TCR_EL1.HA (FEAT_HAFDBS): the hardware sets AF instead of raising an
    /// Access flag fault.
    pub ha: bool,
    /// TCR_EL1.HD (FEAT_HAFDBS, needs `ha`): a write to a page with DBM = 1
    /// and AP\[2\] = 1 clears AP\[2\] instead of faulting.
    pub hd: bool,
    /// PSTATE.PAN (FEAT_PAN): EL1 data accesses to EL0-accessible pages
    /// fault (unprivileged LDTR/STTR are not modelled).
    pub pan: bool,
    /// TCR_EL1.TBI0: VA\[63:56\] are ignored for lower-range addresses.
    pub tbi0: bool,
    /// TCR_EL1.TBI1: VA\[63:56\] are ignored for upper-range addresses.
    pub tbi1: bool,
}

impl Default for Arm64Mmu {
    fn default() -> Self {
        Self::new_48()
    }
}

impl Arm64Mmu {
    /// 48-bit VAs on both sides (T0SZ = T1SZ = 16, four levels starting at
    /// level 0), 48-bit PAs, no hardware AF/dirty, PAN and TBI off.
    pub const fn new_48() -> Self {
        Arm64Mmu {
            t0sz: 16,
            t1sz: 16,
            ds: false,
            pa_bits: 48,
            ha: false,
            hd: false,
            pan: false,
            tbi0: false,
            tbi1: false,
        }
    }

    /// 39-bit VAs (T0SZ = T1SZ = 25: three levels starting at level 1).
    pub const fn new_39() -> Self {
        Arm64Mmu {
            t0sz: 25,
            t1sz: 25,
            ..Self::new_48()
        }
    }

    /// FEAT_LPA2 with 52-bit VAs and PAs (DS = 1, T0SZ = T1SZ = 12: five
    /// levels starting at level -1).
    pub const fn new_52() -> Self {
        Arm64Mmu {
            t0sz: 12,
            t1sz: 12,
            ds: true,
            pa_bits: 52,
            ..Self::new_48()
        }
    }

    /// The same state with hardware Access flag and dirty state management
    /// (TCR_EL1.HA = HD = 1).
    pub const fn with_hafdbs(self) -> Self {
        Arm64Mmu {
            ha: true,
            hd: true,
            ..self
        }
    }

    /// VA size of `half`: 64 - TnSZ.
    pub const fn va_bits(&self, half: Half) -> u32 {
        64 - match half {
            Half::Lower => self.t0sz,
            Half::Upper => self.t1sz,
        } as u32
    }

    /// The lookup level the walk of `half` starts at (D8.2, "the initial
    /// lookup level" table for the 4KB granule): enough 9-bit levels above
    /// the 12-bit page offset to cover the VA size.
    pub const fn start_level(&self, half: Half) -> i8 {
        3 - ((self.va_bits(half) as i8 - 13) / 9)
    }

    /// Which range `va` belongs to, or `None` if it is in neither (D8.1:
    /// VA\[55\] selects the TTBR; bits above the VA size, excluding
    /// VA\[63:56\] under TBI, must all equal it).
    pub const fn half(&self, va: u64) -> Option<Half> {
        let upper = (va >> 55) & 1 == 1;
        let (half, tbi) = if upper {
            (Half::Upper, self.tbi1)
        } else {
            (Half::Lower, self.tbi0)
        };
        let top = if tbi { 56 } else { 64 };
        let lo = self.va_bits(half);
        let mask = if top > lo {
            (u64::MAX >> (64 - top)) & (u64::MAX << lo)
        } else {
            0
        };
        let want = if upper { mask } else { 0 };
        if va & mask == want {
            Some(half)
        } else {
            None
        }
    }

    /// Largest output address plus one for descriptors: 2^pa_bits, capped
    /// at 2^48 without `ds` (the 4 KiB descriptor cannot express more).
    pub(crate) const fn pa_limit(&self) -> u64 {
        let bits = if !self.ds && self.pa_bits > 48 {
            48
        } else {
            self.pa_bits
        };
        1 << bits
    }

    /// Physical base of the initial table from a TTBRn_EL1 value: BADDR is
    /// bits \[47:1\] (with `ds`, BADDR\[51:48\] is TTBR\[5:2\] and the
    /// table is at least 64-byte aligned); ASID bits \[63:48\] and the
    /// CnP bit 0 are ignored, and bits below the table's alignment are
    /// treated as zero (they are RES0).
    pub(crate) const fn table_base(&self, ttbr: u64, half: Half) -> u64 {
        let entries_bits = self.va_bits(half) - level_shift(self.start_level(half));
        let align = 1u64 << (entries_bits + 3);
        if self.ds {
            let hi = ((ttbr >> 2) & 0xf) << 48;
            let align = if align < 64 { 64 } else { align };
            (ttbr & 0x0000_ffff_ffff_ffc0 & !(align - 1)) | hi
        } else {
            ttbr & 0x0000_ffff_ffff_fffe & !(align - 1)
        }
    }

    /// The index of `va` in the table at `level` (9 bits, fewer at the
    /// start level of a VA size that is not a multiple of 9 above 12).
    pub(crate) const fn index(&self, half: Half, level: i8, va: u64) -> u64 {
        let shift = level_shift(level);
        let bits = self.va_bits(half) - shift;
        let bits = if bits > 9 { 9 } else { bits };
        (va >> shift) & ((1 << bits) - 1)
    }
}

/// Lowest VA bit resolved at `level` (D8.2): 12 at level 3, 21 at 2, 30 at
/// 1, 39 at 0, 48 at -1. An entry at `level` covers `1 << level_shift`
/// bytes.
pub const fn level_shift(level: i8) -> u32 {
    (12 + 9 * (3 - level as i32)) as u32
}

#[cfg(test)]
mod tests;
