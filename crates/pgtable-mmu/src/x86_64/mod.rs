//! x86-64 paging: 4-level and 5-level (LA57), Intel SDM vol. 3A chapter 4.
//!
//! - [`X86Mmu`] holds the control-register bits that change translation
//!   (CR4.LA57/PGE/SMEP/SMAP, CR0.WP, IA32_EFER.NXE, MAXPHYADDR, 1 GiB page
//!   support) and implements the walk ([`X86Mmu::translate`], SDM 4.5) and
//!   enumeration ([`X86Mmu::for_each_mapping`]).
//! - [`Cpu`] puts a [`Tlb`](crate::tlb::Tlb) and a CR3 in front of it (SDM
//!   4.10).
//! - [`entry`] spells out the entry bit layout.
//!
//! Out of scope (not used by Linux's kernel page tables, or not a page-table
//! concern): PCIDs (CR4.PCIDE = 0 is modelled), protection keys, HLAT,
//! linear-address masking, EFLAGS.AC (SMAP is modelled with AC = 0), and
//! implicit supervisor accesses.

mod cpu;
pub mod entry;
mod enumerate;
mod walk;

#[cfg(test)]
pub(crate) mod build;

pub use cpu::Cpu;
pub use enumerate::Mapping;

use crate::tlb::TlbEntry;
use crate::{Access, FaultKind, Mode};

/// A paging level, named after the paging structure whose entry is used
/// (SDM 4.5: PML5 table, PML4 table, page-directory-pointer table, page
/// directory, page table). The discriminant is the level number (PT = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Page table: PTE maps a 4 KiB page. Linear-address bits 20:12.
    Pt = 1,
    /// Page directory: PDE maps a 2 MiB page or a page table. Bits 29:21.
    Pd = 2,
    /// Page-directory-pointer table: PDPTE maps a 1 GiB page or a page
    /// directory. Bits 38:30.
    Pdpt = 3,
    /// PML4 table: PML4E references a PDPT. Bits 47:39.
    Pml4 = 4,
    /// PML5 table (LA57 only): PML5E references a PML4 table. Bits 56:48.
    Pml5 = 5,
}

impl Level {
    /// The level number, 1 (PT) to 5 (PML5).
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// Lowest linear-address bit translated by this level's index.
    pub const fn shift(self) -> u32 {
        12 + 9 * (self as u32 - 1)
    }

    /// Bytes of linear address covered by one entry at this level (the page
    /// size if the entry is a leaf).
    pub const fn page_size(self) -> u64 {
        1 << self.shift()
    }

    /// The 9-bit index of `va` into a table at this level (SDM 4.5.4).
    pub const fn index(self, va: u64) -> usize {
        ((va >> self.shift()) & 511) as usize
    }

    /// The level below this one, `None` for the page table.
    pub const fn lower(self) -> Option<Level> {
        match self {
            Level::Pml5 => Some(Level::Pml4),
            Level::Pml4 => Some(Level::Pdpt),
            Level::Pdpt => Some(Level::Pd),
            Level::Pd => Some(Level::Pt),
            Level::Pt => None,
        }
    }
}

/// The SDM's short names for the paging structures.
impl core::fmt::Display for Level {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Level::Pt => "PT",
            Level::Pd => "PD",
            Level::Pdpt => "PDPT",
            Level::Pml4 => "PML4",
            Level::Pml5 => "PML5",
        })
    }
}

/// The translation-relevant processor state, and the walker.
///
/// Changing a field is like writing the control register: hardware flushes
/// the TLB when CR4.PGE/SMEP/SMAP/LA57 or CR0.WP change in ways that matter
/// (SDM 4.10.4.1); a [`Cpu`] user should call [`Cpu::flush_all`] too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct X86Mmu {
    /// CR4.LA57: 5-level paging, 57-bit linear addresses (SDM 4.5.1).
    pub la57: bool,
    /// IA32_EFER.NXE: bit 63 of entries is XD; otherwise it is reserved.
    pub nxe: bool,
    /// CR0.WP: supervisor writes honour R/W (SDM 4.6.1).
    pub wp: bool,
    /// CR4.PGE: the G bit makes translations global (SDM 4.10.2.4).
    pub pge: bool,
    /// CR4.SMEP: supervisor fetches from user-mode addresses fault.
    pub smep: bool,
    /// CR4.SMAP: supervisor data accesses to user-mode addresses fault
    /// (modelled with EFLAGS.AC = 0, i.e. outside `stac`/`clac` windows).
    pub smap: bool,
    /// MAXPHYADDR (CPUID 80000008H, EAX bits 7:0); entry bits 51:MAXPHYADDR are
    /// reserved. 52 means none are.
    pub maxphyaddr: u8,
    /// CPUID 80000001H:EDX.Page1GB: PS = 1 in a PDPTE maps a 1 GiB page;
    /// without it that PS bit is reserved.
    pub gbpages: bool,
}

impl Default for X86Mmu {
    fn default() -> Self {
        Self::new()
    }
}

impl X86Mmu {
    /// Linux-like defaults for 4-level paging: NXE, WP and PGE on, SMEP and
    /// SMAP off, MAXPHYADDR 52, 1 GiB pages supported.
    pub const fn new() -> Self {
        X86Mmu {
            la57: false,
            nxe: true,
            wp: true,
            pge: true,
            smep: false,
            smap: false,
            maxphyaddr: 52,
            gbpages: true,
        }
    }

    /// Same as [`X86Mmu::new`] with 5-level paging (CR4.LA57 = 1).
    pub const fn new_la57() -> Self {
        X86Mmu {
            la57: true,
            ..Self::new()
        }
    }

    /// The level CR3 points at: PML5 with LA57, PML4 otherwise (SDM 4.5.2).
    pub const fn root_level(&self) -> Level {
        if self.la57 {
            Level::Pml5
        } else {
            Level::Pml4
        }
    }

    /// Linear-address width: 57 with LA57, 48 otherwise.
    pub const fn va_bits(&self) -> u32 {
        if self.la57 {
            57
        } else {
            48
        }
    }

    /// Whether `va` is canonical: bits 63 down to the top implemented bit
    /// all equal (SDM vol. 1 3.3.7.1, vol. 3A 4.5).
    pub const fn is_canonical(&self, va: u64) -> bool {
        self.sign_extend(va) == va
    }

    /// Sign-extends the low [`va_bits`](Self::va_bits) bits of `va`.
    pub const fn sign_extend(&self, va: u64) -> u64 {
        let unused = 64 - self.va_bits();
        (((va << unused) as i64) >> unused) as u64
    }

    /// Whether an access with the given combined rights is allowed
    /// (SDM 4.6.1). `user` means a "user-mode address": U/S = 1 at every
    /// level. `writable` means R/W = 1 at every level, `executable` that no
    /// level had XD = 1 (with NXE).
    pub const fn permits(
        &self,
        writable: bool,
        user: bool,
        executable: bool,
        access: Access,
        mode: Mode,
    ) -> bool {
        match mode {
            Mode::User => {
                user && match access {
                    Access::Read => true,
                    // CR0.WP does not matter for user-mode writes.
                    Access::Write => writable,
                    Access::Execute => executable,
                }
            }
            Mode::Supervisor => match access {
                Access::Read => !(self.smap && user),
                // With WP = 0 the supervisor may write read-only pages.
                Access::Write => !(self.smap && user) && (writable || !self.wp),
                Access::Execute => executable && !(self.smep && user),
            },
        }
    }

    /// Builds the fault for an access to `addr`; computes the error code the
    /// hardware would push (SDM 4.7).
    pub(crate) fn fault(
        &self,
        addr: u64,
        access: Access,
        mode: Mode,
        kind: FaultKind,
        level: Level,
    ) -> PageFault {
        let code = if kind == FaultKind::NonCanonical {
            // #GP for a non-canonical address pushes error code 0.
            0
        } else {
            let mut code = 0;
            if kind != FaultKind::NotPresent {
                code |= PageFault::P;
            }
            if access == Access::Write {
                code |= PageFault::W;
            }
            if mode == Mode::User {
                code |= PageFault::U;
            }
            if kind == FaultKind::ReservedBit {
                code |= PageFault::RSVD;
            }
            // I/D is reported only if SMEP = 1 or (PAE paging and NXE = 1);
            // 4/5-level paging always has CR4.PAE = 1.
            if access == Access::Execute && (self.nxe || self.smep) {
                code |= PageFault::ID;
            }
            code
        };
        PageFault {
            addr,
            access,
            mode,
            kind,
            level,
            code,
        }
    }
}

/// A successful translation (SDM 4.5.4), as a TLB would cache it (4.10.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address of the translated linear address (not the page
    /// base): page frame | page offset.
    pub pa: u64,
    /// Size of the page: 4 KiB, 2 MiB or 1 GiB.
    pub page_size: u64,
    /// Level of the leaf entry (PT, PD or PDPT).
    pub level: Level,
    /// R/W = 1 at every level.
    pub writable: bool,
    /// U/S = 1 at every level ("user-mode address").
    pub user: bool,
    /// No level had XD = 1 (always true with NXE = 0).
    pub executable: bool,
    /// The leaf's G bit with CR4.PGE = 1: the translation survives CR3 loads.
    pub global: bool,
    /// The leaf's D bit after this access (set by it on a write).
    pub dirty: bool,
    /// Leaf PWT (PAT index bit 0, SDM 4.9.2).
    pub pwt: bool,
    /// Leaf PCD (PAT index bit 1).
    pub pcd: bool,
    /// Leaf PAT (PAT index bit 2; bit 7 of a PTE, bit 12 of a large leaf).
    pub pat: bool,
    /// The leaf entry's value, including any A/D bits this access set.
    pub entry: u64,
    /// Physical address of the leaf entry.
    pub entry_pa: u64,
}

impl Translation {
    /// The PAT memory-type index PAT:PCD:PWT (SDM 4.9.2).
    pub const fn pat_index(&self) -> u8 {
        (self.pat as u8) << 2 | (self.pcd as u8) << 1 | self.pwt as u8
    }
}

/// What the x86 [`Tlb`](crate::tlb::Tlb) caches (SDM 4.10.2.2).
impl TlbEntry for Translation {
    fn page_size(&self) -> u64 {
        self.page_size
    }
    fn is_global(&self) -> bool {
        self.global
    }
    fn pa(&self) -> u64 {
        self.pa
    }
    fn with_pa(self, pa: u64) -> Self {
        Translation { pa, ..self }
    }
}

/// A failed translation: a #PF (SDM 4.7), or a #GP for a non-canonical
/// address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFault {
    /// The faulting linear address (CR2 for a #PF).
    pub addr: u64,
    /// The access that faulted.
    pub access: Access,
    /// The privilege of the access.
    pub mode: Mode,
    /// Why it faulted.
    pub kind: FaultKind,
    /// Where the walk stopped: the not-present or reserved-bit entry's level,
    /// the leaf's level for a protection fault, and the root level for a
    /// non-canonical address (no walk happens).
    pub level: Level,
    code: u32,
}

impl PageFault {
    /// Error-code bit 0: 0 = not-present page, 1 = protection/reserved.
    pub const P: u32 = 1 << 0;
    /// Error-code bit 1: the access was a write.
    pub const W: u32 = 1 << 1;
    /// Error-code bit 2: the access was user-mode.
    pub const U: u32 = 1 << 2;
    /// Error-code bit 3: a reserved bit was set in some entry.
    pub const RSVD: u32 = 1 << 3;
    /// Error-code bit 4: instruction fetch (if NXE or SMEP, SDM 4.7).
    pub const ID: u32 = 1 << 4;

    /// The error code the processor pushes (SDM 4.7, figure 4-12); 0 for a
    /// non-canonical address, as the #GP it really is.
    pub const fn error_code(&self) -> u32 {
        self.code
    }
}

#[cfg(test)]
mod tests;
