//! x86 32-bit paging (Intel SDM vol. 3A 4.3) and PAE paging (4.4).
//!
//! - 32-bit paging: CR3\[31:12\] locates a 1024-entry page directory of
//!   4-byte PDEs; a PDE maps a 4 MiB page when CR4.PSE = 1 and PS = 1
//!   (with PSE-36, PDE bits 20:13 hold PA bits 39:32), else it references a
//!   1024-entry page table of 4-byte PTEs (SDM 4.3, tables 4-4 to 4-6).
//! - PAE paging: CR3\[31:5\] locates a 4-entry PDPT of 8-byte PDPTEs,
//!   which the processor loads on MOV to CR3 (SDM 4.4.1; this model reads
//!   them on every walk, i.e. as if CR3 had just been reloaded); PDEs map
//!   2 MiB pages when PS = 1; XD is bit 63 with IA32_EFER.NXE (4.4.2,
//!   tables 4-8 to 4-11).
//!
//! Levels: 1 = page table, 2 = page directory, 3 = PDPT (PAE only), as in
//! [`x86_64::Level`](crate::x86_64::Level) numbering.
//!
//! Access rights (SDM 4.6), faults and error codes (4.7) and A/D updates
//! (4.8) follow the same rules as 4-level paging and reuse
//! [`X86Mmu::permits`](crate::x86_64::X86Mmu::permits). Out of scope: PCIDs
//! (not available outside IA-32e mode anyway), protection keys, and
//! reporting #GP for PDPTE reserved bits at MOV CR3 time (reported here as
//! a reserved-bit fault at level 3 on the walk).

mod enumerate;
mod walk;

#[cfg(test)]
pub(crate) mod build;

use crate::x86_64::X86Mmu;

/// Entry bits shared by both modes (SDM tables 4-5, 4-6, 4-9 to 4-11).
pub mod entry {
    /// Bit 0, P.
    pub const P: u64 = 1 << 0;
    /// Bit 1, R/W.
    pub const RW: u64 = 1 << 1;
    /// Bit 2, U/S.
    pub const US: u64 = 1 << 2;
    /// Bit 3, PWT.
    pub const PWT: u64 = 1 << 3;
    /// Bit 4, PCD.
    pub const PCD: u64 = 1 << 4;
    /// Bit 5, A.
    pub const A: u64 = 1 << 5;
    /// Bit 6, D (leaves).
    pub const D: u64 = 1 << 6;
    /// Bit 7 of a PDE, PS.
    pub const PS: u64 = 1 << 7;
    /// Bit 8 of a leaf, G.
    pub const G: u64 = 1 << 8;
    /// Bit 63 of a PAE PDE/PTE, XD (reserved without NXE).
    pub const XD: u64 = 1 << 63;
}

/// The control-register state of 32-bit or PAE paging.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86_32Mmu {
    /// CR4.PAE: PAE paging instead of 32-bit paging.
    pub pae: bool,
    /// CR4.PSE: 4 MiB pages in 32-bit paging (PAE always has 2 MiB pages).
    pub pse: bool,
    /// CPUID.01H:EDX.PSE-36: 4 MiB pages reach above 4 GiB (PDE bits
    /// 20:13 are PA bits 39:32, up to MAXPHYADDR); without it they are
    /// reserved.
    pub pse36: bool,
    /// IA32_EFER.NXE (PAE only: 32-bit paging has no XD bit).
    pub nxe: bool,
    /// CR0.WP.
    pub wp: bool,
    /// CR4.PGE.
    pub pge: bool,
    /// CR4.SMEP.
    pub smep: bool,
    /// CR4.SMAP (with EFLAGS.AC = 0).
    pub smap: bool,
    /// MAXPHYADDR (36 to 52).
    pub maxphyaddr: u8,
}

impl X86_32Mmu {
    /// 32-bit paging with PSE, PSE-36, WP and PGE, MAXPHYADDR 36.
    pub const fn new_32bit() -> Self {
        X86_32Mmu {
            pae: false,
            pse: true,
            pse36: true,
            nxe: false,
            wp: true,
            pge: true,
            smep: false,
            smap: false,
            maxphyaddr: 36,
        }
    }

    /// PAE paging with NXE, WP and PGE, MAXPHYADDR 36.
    pub const fn new_pae() -> Self {
        X86_32Mmu {
            pae: true,
            nxe: true,
            ..Self::new_32bit()
        }
    }

    /// Level CR3 points at: 3 (PDPT) with PAE, else 2 (page directory).
    pub const fn root_level(&self) -> i8 {
        if self.pae {
            3
        } else {
            2
        }
    }

    /// Lowest linear-address bit a level's index uses; an entry there maps
    /// `1 << shift` bytes.
    pub const fn shift(&self, level: i8) -> u32 {
        let per = if self.pae { 9 } else { 10 };
        12 + per * (level as u32 - 1)
    }

    /// Entries in a table at `level`: 4 in the PDPT, 512 in PAE tables,
    /// 1024 in 32-bit paging tables.
    pub const fn entries(&self, level: i8) -> u64 {
        match (self.pae, level) {
            (true, 3) => 4,
            (true, _) => 512,
            (false, _) => 1024,
        }
    }

    /// Entry size: 8 bytes with PAE, 4 without.
    pub const fn entry_bytes(&self) -> u64 {
        if self.pae {
            8
        } else {
            4
        }
    }

    /// Base of the root table from CR3: bits 31:5 (PDPT) with PAE, bits
    /// 31:12 otherwise (SDM 4.3, 4.4.1).
    pub const fn root_base(&self, cr3: u64) -> u64 {
        if self.pae {
            cr3 & 0xffff_ffe0
        } else {
            cr3 & 0xffff_f000
        }
    }

    /// The equivalent rights checker (SDM 4.6 is the same for all modes).
    pub(crate) const fn rights(&self) -> X86Mmu {
        X86Mmu {
            la57: false,
            nxe: self.pae && self.nxe,
            wp: self.wp,
            pge: self.pge,
            smep: self.smep,
            smap: self.smap,
            maxphyaddr: self.maxphyaddr,
            gbpages: false,
        }
    }
}

/// Bits `hi..=lo` set.
pub(crate) const fn bits(hi: u32, lo: u32) -> u64 {
    (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
}

#[cfg(test)]
mod tests;
