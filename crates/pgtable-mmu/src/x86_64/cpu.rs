//! One logical processor: control bits, CR3 and a TLB in front of the walk
//! (SDM 4.10).

use super::{PageFault, Translation, X86Mmu};
use crate::tlb::Tlb;
use crate::{Access, FaultKind, Mode, PhysBus};

/// A CPU's view of memory: an [`X86Mmu`], its [`Tlb`] and the current CR3.
///
/// [`Cpu::access`] uses the TLB as the hardware does, so a translation
/// cached before the tables changed keeps being used until it is
/// invalidated: that is how a missing TLB flush becomes visible.
#[derive(Clone, Debug)]
pub struct Cpu {
    /// Control bits. Change them like control registers: the hardware
    /// flushes the TLB when CR4.PGE/LA57 change, so call
    /// [`Cpu::flush_all`] after changing `pge` or `la57`.
    pub mmu: X86Mmu,
    /// This CPU's TLB.
    pub tlb: Tlb<Translation>,
    cr3: u64,
}

impl Cpu {
    /// A CPU with an empty TLB running on `cr3`.
    pub fn new(mmu: X86Mmu, cr3: u64) -> Self {
        Cpu {
            mmu,
            tlb: Tlb::new(),
            cr3,
        }
    }

    /// The current CR3.
    pub fn cr3(&self) -> u64 {
        self.cr3
    }

    /// MOV to CR3: switches page tables and drops non-global translations
    /// (all of them when CR4.PGE = 0), SDM 4.10.4.1. Like the hardware it
    /// flushes even when `cr3` is unchanged.
    pub fn load_cr3(&mut self, cr3: u64) {
        self.cr3 = cr3;
        self.tlb.load_cr3();
    }

    /// INVLPG `va`: drops every translation covering `va`, global or not.
    pub fn invlpg(&mut self, va: u64) {
        self.tlb.invlpg(va);
    }

    /// Drops every translation, global ones included (CR4.PGE toggle).
    pub fn flush_all(&mut self) {
        self.tlb.flush_all();
    }

    /// Performs an access the way the processor does (SDM 4.10.2.3):
    ///
    /// - A non-canonical `va` is a #GP before any lookup.
    /// - On a TLB hit the cached translation is used even if memory has
    ///   changed since, and the access rights are checked against the
    ///   *cached* rights with the *current* CR0.WP/CR4.SMEP/SMAP. If they
    ///   deny the access the result is a page fault (a "spurious" fault when
    ///   memory has since granted the right, SDM 4.10.4.3), and delivering
    ///   the #PF invalidates the TLB entries for `va` (SDM 4.10.4.1), so a
    ///   retry walks the tables afresh. We fault rather than silently
    ///   re-walk because that is what the SDM specifies.
    /// - A write hitting an entry cached with D = 0 re-walks the tables: the
    ///   processor must set D in memory (SDM 4.8) and does so with a walk,
    ///   which re-checks the entries and may fault.
    /// - On a miss the tables are walked ([`X86Mmu::translate`]); success
    ///   fills the TLB, a fault invalidates `va` (as every #PF does).
    pub fn access(
        &mut self,
        bus: &impl PhysBus,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Translation, PageFault> {
        if !self.mmu.is_canonical(va) {
            let root = self.mmu.root_level();
            return Err(self
                .mmu
                .fault(va, access, mode, FaultKind::NonCanonical, root));
        }
        if let Some(t) = self.tlb.lookup(va) {
            if !self
                .mmu
                .permits(t.writable, t.user, t.executable, access, mode)
            {
                self.tlb.invlpg(va);
                return Err(self
                    .mmu
                    .fault(va, access, mode, FaultKind::Protection, t.level));
            }
            if access != Access::Write || t.dirty {
                return Ok(t);
            }
        }
        match self.mmu.translate(bus, self.cr3, va, access, mode) {
            Ok(t) => {
                self.tlb.fill(va, &t);
                Ok(t)
            }
            Err(fault) => {
                self.tlb.invlpg(va);
                Err(fault)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entry::*;
    use super::super::Level;
    use super::*;
    use crate::test_util::MemBus;
    use crate::x86_64::build;
    use Access::*;
    use Mode::*;

    const VA: u64 = 0xffff_8880_0000_1000;

    fn setup() -> (MemBus, Cpu) {
        let bus = MemBus::new();
        let cr3 = bus.alloc();
        let cpu = Cpu::new(X86Mmu::new(), cr3);
        (bus, cpu)
    }

    #[test]
    fn stale_entry_served_until_invlpg() {
        let (bus, mut cpu) = setup();
        build::map(&bus, &cpu.mmu, cpu.cr3(), VA, 0x7000, Level::Pt, RW);
        assert_eq!(
            cpu.access(&bus, VA + 4, Read, Supervisor).unwrap().pa,
            0x7004
        );
        assert_eq!((cpu.tlb.hits(), cpu.tlb.misses()), (0, 1));
        // Unmap and remap elsewhere without a flush: the old frame is used.
        let pte = build::entry_pa(&bus, &cpu.mmu, cpu.cr3(), VA, Level::Pt, 0);
        bus.set(pte, 0);
        assert_eq!(
            cpu.access(&bus, VA + 8, Read, Supervisor).unwrap().pa,
            0x7008
        );
        bus.set(pte, 0x8000 | P | RW);
        assert_eq!(cpu.access(&bus, VA, Read, Supervisor).unwrap().pa, 0x7000);
        assert_eq!(cpu.tlb.hits(), 2);
        cpu.invlpg(VA + 0xfff);
        assert_eq!(cpu.access(&bus, VA, Read, Supervisor).unwrap().pa, 0x8000);
        // Once not present and flushed, the access faults and is not cached.
        bus.set(pte, 0);
        cpu.invlpg(VA);
        let f = cpu.access(&bus, VA, Read, Supervisor).unwrap_err();
        assert_eq!((f.kind, f.level), (FaultKind::NotPresent, Level::Pt));
        assert!(cpu.tlb.peek(VA).is_none());
    }

    #[test]
    fn global_entry_survives_load_cr3_with_pge() {
        let (bus, mut cpu) = setup();
        let cr3 = cpu.cr3();
        let user = 0x40_0000;
        build::map(&bus, &cpu.mmu, cr3, VA, 0x7000, Level::Pt, RW | G);
        build::map(&bus, &cpu.mmu, cr3, user, 0x9000, Level::Pt, RW | US);
        cpu.access(&bus, VA, Read, Supervisor).unwrap();
        cpu.access(&bus, user, Read, User).unwrap();
        // Switch to an empty root: the global kernel page is still served,
        // the user page is gone.
        let empty = bus.alloc();
        cpu.load_cr3(empty);
        assert_eq!(cpu.access(&bus, VA, Read, Supervisor).unwrap().pa, 0x7000);
        let f = cpu.access(&bus, user, Read, User).unwrap_err();
        assert_eq!((f.kind, f.level), (FaultKind::NotPresent, Level::Pml4));
        // flush_all drops globals too.
        cpu.flush_all();
        assert!(cpu.access(&bus, VA, Read, Supervisor).is_err());
        // Without PGE the G bit does not keep the entry.
        let mut nopge = Cpu::new(
            X86Mmu {
                pge: false,
                ..X86Mmu::new()
            },
            cr3,
        );
        nopge.access(&bus, VA, Read, Supervisor).unwrap();
        nopge.load_cr3(empty);
        assert!(nopge.access(&bus, VA, Read, Supervisor).is_err());
    }

    #[test]
    fn rights_checked_on_hit() {
        let (bus, mut cpu) = setup();
        build::map(&bus, &cpu.mmu, cpu.cr3(), VA, 0x7000, Level::Pt, 0);
        cpu.access(&bus, VA, Read, Supervisor).unwrap();
        // Make the page writable in memory without a flush: the cached
        // read-only translation gives a spurious fault...
        let pte = build::entry_pa(&bus, &cpu.mmu, cpu.cr3(), VA, Level::Pt, 0);
        bus.set(pte, bus.get(pte) | RW);
        let f = cpu.access(&bus, VA, Write, Supervisor).unwrap_err();
        assert_eq!((f.kind, f.level), (FaultKind::Protection, Level::Pt));
        assert_eq!(f.error_code(), PageFault::P | PageFault::W);
        // ...which invalidated the entry, so the retry walks and succeeds.
        assert!(cpu.tlb.peek(VA).is_none());
        let t = cpu.access(&bus, VA, Write, Supervisor).unwrap();
        assert!(t.writable && t.dirty);
        // User access through a cached supervisor translation faults too.
        assert_eq!(
            cpu.access(&bus, VA, Read, User).unwrap_err().kind,
            FaultKind::Protection
        );
    }

    #[test]
    fn write_to_clean_cached_entry_rewalks_and_sets_dirty() {
        let (bus, mut cpu) = setup();
        build::map(&bus, &cpu.mmu, cpu.cr3(), VA, 0x7000, Level::Pt, RW);
        let pte = build::entry_pa(&bus, &cpu.mmu, cpu.cr3(), VA, Level::Pt, 0);
        assert!(!cpu.access(&bus, VA, Read, Supervisor).unwrap().dirty);
        assert_eq!(bus.get(pte) & D, 0);
        assert!(cpu.access(&bus, VA, Write, Supervisor).unwrap().dirty);
        assert_eq!(bus.get(pte) & D, D);
        // Now cached dirty: a write is served from the TLB without a walk.
        let writes = bus.writes.get();
        bus.reads.set(0);
        cpu.access(&bus, VA, Write, Supervisor).unwrap();
        assert_eq!((bus.reads.get(), bus.writes.get()), (0, writes));
    }

    #[test]
    fn non_canonical_is_not_cached() {
        let (bus, mut cpu) = setup();
        let f = cpu
            .access(&bus, 0x8000_0000_0000, Read, Supervisor)
            .unwrap_err();
        assert_eq!((f.kind, f.error_code()), (FaultKind::NonCanonical, 0));
        assert_eq!((cpu.tlb.hits(), cpu.tlb.misses()), (0, 0));
    }
}
