//! riscv64: Sv39, Sv48 and Sv57 page-based virtual memory.
//!
//! Written from "The RISC-V Instruction Set Manual, Volume II: Privileged
//! Architecture" (v1.12 numbering; chapter 12 in the 2024 issues):
//! 4.1.1 "Supervisor Status Register (sstatus)" (SUM, MXR), 4.1.11
//! "Supervisor Address Translation and Protection (satp)", 4.3.1
//! "Addressing and Memory Protection" (PTE fields), 4.3.2 "Virtual Address
//! Translation Process" (the walk, reused by every SvXX), 4.4 to 4.6
//! (Sv39, Sv48, Sv57), and the Svade/Svadu and Svpbmt extensions.
//!
//! Level numbering is the specification's `i`: 0 is the 4 KiB leaf level,
//! 1 maps 2 MiB megapages, 2 1 GiB gigapages, 3 512 GiB terapages, 4 256 TiB
//! petapages; the walk starts at `LEVELS - 1` (2, 3 or 4).
//!
//! Out of scope: Sv32, ASIDs, PMP/PMA access faults, Svnapot (the N bit is
//! treated as reserved), hypervisor two-stage translation, and `mstatus.MPRV`.

mod enumerate;
pub mod pte;
mod walk;

#[cfg(test)]
pub(crate) mod build;

/// The translation scheme, satp.MODE (4.1.11, table "encoding of satp MODE
/// field").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// MODE 8: 3 levels, 39-bit VAs.
    Sv39 = 8,
    /// MODE 9: 4 levels, 48-bit VAs.
    Sv48 = 9,
    /// MODE 10: 5 levels, 57-bit VAs.
    Sv57 = 10,
}

impl Scheme {
    /// Number of levels (`LEVELS` in 4.3.2).
    pub const fn levels(self) -> i8 {
        self as i8 - 5
    }

    /// VA width in bits.
    pub const fn va_bits(self) -> u32 {
        12 + 9 * self.levels() as u32
    }
}

/// The translation-relevant CSR state for S-mode and U-mode accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Riscv64Mmu {
    /// satp.MODE.
    pub scheme: Scheme,
    /// sstatus.SUM: S-mode loads and stores may access U = 1 pages (never
    /// fetch from them).
    pub sum: bool,
    /// sstatus.MXR: loads from executable pages succeed even with R = 0.
    pub mxr: bool,
    /// Svadu with menvcfg.ADUE = 1: the walk sets A (and D on a store)
    /// atomically. Otherwise (Svade) A = 0, or D = 0 on a store, raises a
    /// page fault (reported as [`FaultKind::AccessFlag`](crate::FaultKind)).
    pub svadu: bool,
    /// Svpbmt: leaf bits 62:61 select a memory type (value 3 reserved).
    /// Without it those bits are reserved.
    pub svpbmt: bool,
    /// Treat D, A and U set in a non-leaf PTE as a reserved-bit page fault.
    /// The specification only says software must clear them ("reserved for
    /// future standard use") and the translation process does not check
    /// them, so this is off by default; a checker may turn it on.
    pub strict_nonleaf: bool,
}

impl Riscv64Mmu {
    /// `scheme` with SUM, MXR and Svadu off (Svade behaviour), Svpbmt on,
    /// non-strict non-leaf PTEs.
    pub const fn new(scheme: Scheme) -> Self {
        Riscv64Mmu {
            scheme,
            sum: false,
            mxr: false,
            svadu: false,
            svpbmt: true,
            strict_nonleaf: false,
        }
    }

    /// Level of the root table, `LEVELS - 1`.
    pub const fn root_level(&self) -> i8 {
        self.scheme.levels() - 1
    }

    /// Whether bits 63 down to the VA width all equal the top VA bit
    /// (4.4.1 for Sv39: "bits 63–39 must all equal bit 38, or else a
    /// page-fault exception will occur"; likewise Sv48, Sv57).
    pub const fn is_canonical(&self, va: u64) -> bool {
        let unused = 64 - self.scheme.va_bits();
        (((va << unused) as i64) >> unused) as u64 == va
    }

    /// The satp value selecting this scheme with the root table at `root`
    /// (4 KiB aligned) and address-space `asid`.
    pub const fn satp(&self, root: u64, asid: u16) -> u64 {
        (self.scheme as u64) << 60 | (asid as u64) << 44 | (root >> 12) & ((1 << 44) - 1)
    }

    /// The root table's physical address in a satp value: satp.PPN × 4096.
    pub const fn satp_root(satp: u64) -> u64 {
        (satp & ((1 << 44) - 1)) << 12
    }
}

/// Lowest VA bit translated at `level`; an entry at `level` covers
/// `1 << level_shift(level)` bytes.
pub const fn level_shift(level: i8) -> u32 {
    12 + 9 * level as u32
}

#[cfg(test)]
mod tests;
