//! The architecture-neutral view: one translation result ([`Xlat`]), one
//! leaf description ([`Leaf`]), one fault ([`Fault`]) and a trait ([`Mmu`])
//! every model implements, so a simulator can drive x86-64, x86-32, arm64,
//! arm32 and riscv64 the same way.
//!
//! Rights are summarised from the point of view of the privilege a page
//! belongs to: `user` says whether user mode may access it at all, and
//! `writable`/`executable` say whether that owner (user mode if `user`,
//! otherwise the kernel) may write/execute it. Architectures with finer
//! distinctions (arm64 PXN vs UXN, arm32 PL1-RW/PL0-RO) keep them in the
//! raw `entry` of a [`Leaf`] and in their own `translate`.

use core::fmt;

use crate::tlb::TlbEntry;
use crate::x86_64::{Mapping, PageFault, Translation, X86Mmu};
use crate::{Access, FaultKind, Mode, PhysBus};

/// A successful translation, as a TLB would cache it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Xlat {
    /// Physical address: of the translated address for a translation, of
    /// the page base for an enumerated [`Leaf`].
    pub pa: u64,
    /// Page (or block/section/superpage) size in bytes, a power of two.
    pub size: u64,
    /// The owning privilege may write (see the module docs).
    pub writable: bool,
    /// User mode (CPL 3, EL0, PL0, U-mode) may access the page.
    pub user: bool,
    /// The owning privilege may fetch instructions.
    pub executable: bool,
    /// The translation is not tagged with an address-space identifier
    /// (x86 G with CR4.PGE, Arm nG = 0, riscv G) and survives address-space
    /// switches.
    pub global: bool,
}

impl TlbEntry for Xlat {
    fn page_size(&self) -> u64 {
        self.size
    }
    fn is_global(&self) -> bool {
        self.global
    }
    fn pa(&self) -> u64 {
        self.pa
    }
    fn with_pa(self, pa: u64) -> Self {
        Xlat { pa, ..self }
    }
}

/// A leaf entry and an address it translates.
///
/// Returned by the `translate` of the newer models (then `va` and `xlat.pa`
/// are the translated address and its physical address) and by enumeration
/// (then `va` and `xlat.pa` are the page bases; `va` may lie before the
/// requested range when a large page straddles its start).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Leaf {
    /// Virtual address (see the type docs).
    pub va: u64,
    /// The translation.
    pub xlat: Xlat,
    /// Level of the leaf entry, in the architecture's numbering (documented
    /// per architecture).
    pub level: i8,
    /// The raw leaf entry (zero-extended for 4-byte entries), including any
    /// Accessed/Dirty/AF bits the access set.
    pub entry: u64,
    /// Physical address of the leaf entry.
    pub entry_pa: u64,
}

/// A failed translation, in architecture-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// The faulting virtual address.
    pub addr: u64,
    /// The access that faulted.
    pub access: Access,
    /// Its privilege.
    pub mode: Mode,
    /// Why.
    pub kind: FaultKind,
    /// Level of the entry that caused it (translation/reserved faults), of
    /// the leaf (permission/access-flag faults) or the start level when no
    /// entry was read; in the architecture's own numbering.
    pub level: i8,
    /// A short explanation ("AF = 0", "misaligned superpage", ...).
    pub detail: &'static str,
}

impl Fault {
    /// The faults of one access: `fault(kind, level, detail)` is the
    /// [`Fault`] of the access `mode` made at `addr`. Every walker builds
    /// its faults with it, so the access's own fields are set in one place.
    pub(crate) fn of_access(
        addr: u64,
        access: Access,
        mode: Mode,
    ) -> impl Fn(FaultKind, i8, &'static str) -> Fault {
        move |kind, level, detail| Fault {
            addr,
            access,
            mode,
            kind,
            level,
            detail,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {:?} {:#x}: {} at level {} ({})",
            self.mode,
            self.access,
            self.addr,
            self.kind.name(),
            self.level,
            self.detail
        )
    }
}

/// The translation roots of an address space.
///
/// Single-root architectures (x86, riscv) use `user` only. Split-root ones
/// take the lower (user) half from `user` (arm64 TTBR0_EL1, arm32 TTBR0)
/// and the upper (kernel) half from `kernel` (TTBR1); `kernel: None` means
/// walks of the upper half are disabled (arm64 TCR_EL1.EPD1 = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Roots {
    /// CR3 / satp root / TTBR0.
    pub user: u64,
    /// TTBR1, for split-root architectures.
    pub kernel: Option<u64>,
}

impl Roots {
    /// One root for the whole address space.
    pub const fn single(root: u64) -> Self {
        Roots {
            user: root,
            kernel: None,
        }
    }

    /// Separate lower-half and upper-half roots.
    pub const fn split(user: u64, kernel: u64) -> Self {
        Roots {
            user,
            kernel: Some(kernel),
        }
    }
}

/// What a simulator needs from any MMU model. Object safe, so a machine can
/// hold a `Box<dyn Mmu>`.
pub trait Mmu {
    /// Translates `va` for `access` in `mode` as the hardware does on a TLB
    /// miss, including its Accessed/Dirty updates.
    fn translate_any(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault>;

    /// Calls `f` for every valid leaf overlapping `[start, end)` (`end == 0`
    /// means to the top of the address space), in increasing address order,
    /// reading memory only. Malformed entries are skipped with their
    /// subtree and the first is returned as the error.
    fn for_each_leaf(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(&Leaf),
    ) -> Result<(), Fault>;
}

/// x86-64 level numbers are 1 (PT) to 5 (PML5).
impl From<PageFault> for Fault {
    fn from(p: PageFault) -> Self {
        Fault {
            addr: p.addr,
            access: p.access,
            mode: p.mode,
            kind: p.kind,
            level: p.level.number() as i8,
            detail: match p.kind {
                FaultKind::NotPresent => "P = 0",
                FaultKind::Protection => "access rights",
                FaultKind::ReservedBit => "reserved bit set",
                FaultKind::NonCanonical => "non-canonical address (#GP)",
                _ => "",
            },
        }
    }
}

impl From<&Translation> for Xlat {
    fn from(t: &Translation) -> Self {
        Xlat {
            pa: t.pa,
            size: t.page_size,
            writable: t.writable,
            user: t.user,
            executable: t.executable,
            global: t.global,
        }
    }
}

impl From<&Mapping> for Leaf {
    fn from(m: &Mapping) -> Self {
        Leaf {
            va: m.va,
            xlat: Xlat {
                pa: m.pa,
                size: m.size,
                writable: m.writable,
                user: m.user,
                executable: m.executable,
                global: m.global,
            },
            level: m.level.number() as i8,
            entry: m.entry,
            entry_pa: m.entry_pa,
        }
    }
}

/// x86-64: `roots.user` is CR3; `roots.kernel` is ignored.
impl Mmu for X86Mmu {
    fn translate_any(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault> {
        self.translate(&bus, roots.user, va, access, mode)
            .map(|t| Xlat::from(&t))
            .map_err(Fault::from)
    }

    fn for_each_leaf(
        &self,
        bus: &dyn PhysBus,
        roots: &Roots,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(&Leaf),
    ) -> Result<(), Fault> {
        self.for_each_mapping(&bus, roots.user, start, end, |m| f(&Leaf::from(&m)))
            .map_err(Fault::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::MemBus;
    use crate::tlb::Tlb;
    use crate::x86_64::build;
    use crate::x86_64::{entry, Level};
    use std::vec::Vec;

    #[test]
    fn x86_through_the_trait_and_tlb() {
        let m = X86Mmu::new();
        let bus = MemBus::new();
        let cr3 = bus.alloc();
        let va = 0xffff_8880_0000_3000;
        build::map(&bus, &m, cr3, va, 0x7000, Level::Pt, entry::RW | entry::G);
        let mmu: &dyn Mmu = &m;
        let roots = Roots::single(cr3);
        let x = mmu
            .translate_any(&bus, &roots, va + 5, Access::Write, Mode::Supervisor)
            .unwrap();
        assert_eq!((x.pa, x.size), (0x7005, 0x1000));
        assert!(x.writable && !x.user && x.executable && x.global);
        let f = mmu
            .translate_any(&bus, &roots, va, Access::Read, Mode::User)
            .unwrap_err();
        assert_eq!(
            (f.kind, f.level, f.detail),
            (FaultKind::Protection, 1, "access rights")
        );
        let mut leaves = Vec::new();
        mmu.for_each_leaf(&bus, &roots, 0, 0, &mut |l| leaves.push(*l))
            .unwrap();
        assert_eq!(leaves.len(), 1);
        assert_eq!(
            (leaves[0].va, leaves[0].xlat.pa, leaves[0].level),
            (va, 0x7000, 1)
        );
        let mut tlb: Tlb<Xlat> = Tlb::new();
        tlb.fill(va + 5, &x);
        assert_eq!(tlb.peek(va + 0x10).map(|t| t.pa), Some(0x7010));
        tlb.load_cr3();
        assert_eq!(tlb.len(), 1);
    }

    #[test]
    fn fault_display_and_names() {
        let f = Fault {
            addr: 0x1000,
            access: Access::Read,
            mode: Mode::User,
            kind: FaultKind::AccessFlag,
            level: 3,
            detail: "AF = 0",
        };
        let s = std::format!("{f}");
        assert!(s.contains("access flag at level 3 (AF = 0)"), "{s}");
        assert_eq!(FaultKind::AddressSize.name(), "address size");
    }

    #[test]
    fn u32_accessors_preserve_the_other_half() {
        let bus = MemBus::new();
        bus.set(0x40, 0x1122_3344_5566_7788);
        bus.write_u32(0x44, 0xaabb_ccdd);
        assert_eq!(bus.get(0x40), 0xaabb_ccdd_5566_7788);
        bus.set_bits_u32(0x40, 0x1);
        assert_eq!(bus.get(0x40), 0xaabb_ccdd_5566_7789);
        let w = bus.writes.get();
        bus.set_bits_u32(0x40, 0x1);
        assert_eq!(bus.writes.get(), w);
        bus.clear_bits_u64(0x40, 0xff);
        assert_eq!(bus.get(0x40), 0xaabb_ccdd_5566_7700);
    }
}
