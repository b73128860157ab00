//! One access on the real MMU next to the software MMU's verdict for it.

use crate::extable::{VECTOR_GP, VECTOR_PF};
use crate::probe::{self, Fault};
use crate::space::{self, PhysMem};
use alloc::format;
use alloc::string::String;
use pgtable::PhysAddr;
use pgtable_mmu::x86_64::{PageFault, Translation, X86Mmu};
use pgtable_mmu::{Access, FaultKind, Mode};

/// Error-code bits compared: P, W/R, U/S, RSVD, I/D.
const CODE_BITS: u64 = 0x1f;

/// What the real and the software MMU did for one supervisor access.
#[derive(Clone, Copy, Debug)]
pub struct Touch {
    pub root: PhysAddr,
    pub va: u64,
    pub write: bool,
    pub real: Result<(), Fault>,
    pub soft: Result<Translation, PageFault>,
}

/// The software MMU's verdict on a supervisor access to `va` through `root`.
pub fn soft(mmu: &X86Mmu, root: PhysAddr, va: u64, write: bool) -> Result<Translation, PageFault> {
    let access = if write { Access::Write } else { Access::Read };
    mmu.translate(&PhysMem, root.0, va, access, Mode::Supervisor)
}

/// Ask the software MMU, then access `va` for real with CR3 = `root` (a
/// write probe rewrites the byte it read). CR3 is reloaded first, which
/// flushes the TLB, so the real walk sees the tables as they are now.
pub fn touch(mmu: &X86Mmu, root: PhysAddr, va: u64, write: bool) -> Touch {
    space::switch_to(root);
    let soft = soft(mmu, root, va, write);
    let real = probe::probe(va, write);
    Touch {
        root,
        va,
        write,
        real,
        soft,
    }
}

/// Whether a real fault is the one the software MMU predicted.
pub fn same_fault(real: &Fault, soft: &PageFault, va: u64) -> bool {
    if soft.kind == FaultKind::NonCanonical {
        return real.vector == VECTOR_GP;
    }
    real.vector == VECTOR_PF
        && real.addr == va
        && real.error_code & CODE_BITS == u64::from(soft.error_code()) & CODE_BITS
}

impl Touch {
    pub fn faulted(&self) -> bool {
        self.real.is_err()
    }

    /// Real and software MMU agree: both succeed, or both fault with the
    /// same address and error code.
    pub fn agrees(&self) -> bool {
        match (&self.real, &self.soft) {
            (Ok(()), Ok(_)) => true,
            (Err(r), Err(s)) => same_fault(r, s, self.va),
            _ => false,
        }
    }

    /// One-line description for a check's detail.
    pub fn describe(&self) -> String {
        let real = match &self.real {
            Ok(()) => String::from("ok"),
            Err(f) => format!("#{}:cr2={:#x},err={:#x}", f.vector, f.addr, f.error_code),
        };
        let soft = match &self.soft {
            Ok(t) => format!("pa={:#x}", t.pa),
            Err(f) => format!("{:?}@{},err={:#x}", f.kind, f.level, f.error_code()),
        };
        format!(
            "{} {:#x} root={:#x}: real {real}, soft {soft}",
            if self.write { "write" } else { "read" },
            self.va,
            self.root.0
        )
    }
}
