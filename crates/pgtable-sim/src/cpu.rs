//! A simulated CPU: its MMU, its TLB, the roots it has loaded.
//!
//! x86-64 uses the x86 CPU model of `pgtable-mmu` (exact SDM behaviour of
//! the TLB: stale rights fault, D re-walks); every other mode a generic one
//! over the neutral `Mmu` trait with the same TLB model.

use crate::arch::SimArch;
use crate::bus::Bus;
use pgtable_mmu::tlb::Tlb;
use pgtable_mmu::{Access, Fault, Mmu, Mode, Roots, Xlat};

enum Model {
    X86(pgtable_mmu::x86_64::Cpu),
    Generic {
        mmu: Box<dyn Mmu + Send + Sync>,
        tlb: Tlb<Xlat>,
        roots: Roots,
    },
}

/// One CPU's translation hardware.
pub struct CpuMmu {
    model: Model,
}

impl std::fmt::Debug for CpuMmu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuMmu({:?})", self.roots())
    }
}

impl CpuMmu {
    /// A CPU of `arch` running on `roots`, TLB empty.
    pub fn new(arch: SimArch, roots: Roots) -> CpuMmu {
        let model = match arch {
            SimArch::X86_64(a) => {
                let mmu = if a.la57 {
                    pgtable_mmu::x86_64::X86Mmu::new_la57()
                } else {
                    pgtable_mmu::x86_64::X86Mmu::new()
                };
                Model::X86(pgtable_mmu::x86_64::Cpu::new(mmu, roots.user))
            }
            _ => Model::Generic {
                mmu: arch.mmu(),
                tlb: Tlb::default(),
                roots,
            },
        };
        CpuMmu { model }
    }

    /// The roots loaded (CR3; TTBR0/TTBR1; satp).
    pub fn roots(&self) -> Roots {
        match &self.model {
            Model::X86(c) => Roots::single(c.cr3()),
            Model::Generic { roots, .. } => *roots,
        }
    }

    /// Load new roots (a context switch): non-global translations go.
    pub fn load(&mut self, new: Roots) {
        match &mut self.model {
            Model::X86(c) => c.load_cr3(new.user),
            Model::Generic { tlb, roots, .. } => {
                *roots = new;
                tlb.load_cr3();
            }
        }
    }

    /// Drop every translation, global ones too.
    pub fn flush_all(&mut self) {
        match &mut self.model {
            Model::X86(c) => c.flush_all(),
            Model::Generic { tlb, .. } => tlb.flush_all(),
        }
    }

    /// A cached translation covering `va`, if any (without touching the
    /// TLB's counters).
    pub fn tlb_peek(&self, va: u64) -> Option<Xlat> {
        match &self.model {
            Model::X86(c) => c.tlb.peek(va).map(|t| Xlat::from(&t)),
            Model::Generic { tlb, .. } => tlb.peek(va),
        }
    }

    /// Every cached translation: (page-aligned address, its translation,
    /// whose `pa` is the page's).
    pub fn tlb_entries(&self) -> Vec<(u64, Xlat)> {
        match &self.model {
            Model::X86(c) => c.tlb.iter().map(|(va, t)| (va, Xlat::from(t))).collect(),
            Model::Generic { tlb, .. } => tlb.iter().map(|(va, t)| (va, *t)).collect(),
        }
    }

    /// One access, through the TLB as the hardware does it.
    pub fn access(
        &mut self,
        bus: &Bus<'_>,
        va: u64,
        access: Access,
        mode: Mode,
    ) -> Result<Xlat, Fault> {
        match &mut self.model {
            Model::X86(c) => c
                .access(bus, va, access, mode)
                .map(|t| Xlat::from(&t))
                .map_err(Fault::from),
            Model::Generic { mmu, tlb, roots } => {
                if let Some(hit) = tlb.lookup(va) {
                    let allowed = match access {
                        Access::Read => true,
                        Access::Write => hit.writable,
                        Access::Execute => hit.executable,
                    } && (mode == Mode::Supervisor || hit.user);
                    if allowed {
                        return Ok(hit);
                    }
                    tlb.invlpg(va);
                }
                let r = mmu.translate_any(bus, roots, va, access, mode);
                match &r {
                    Ok(x) => tlb.fill(va, x),
                    Err(_) => tlb.invlpg(va),
                }
                r
            }
        }
    }
}
