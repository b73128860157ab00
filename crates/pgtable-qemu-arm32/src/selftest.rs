//! Boot facts and the infrastructure self-test (on the boot table).

use crate::report::CheckResult;
use crate::{boot, cpu, frame, probe};
use alloc::format;
use pgtable::arch::arm32::Arm32;

/// What the CPU offers and how the MMU is set up, for the log.
pub fn boot_facts() -> CheckResult {
    let sctlr = cpu::sctlr();
    // M on; A, TRE, AFE off.
    if sctlr & 1 == 0 || sctlr & ((1 << 1) | (1 << 28) | (1 << 29)) != 0 {
        return Err(format!("SCTLR={sctlr:#x}: want M set, A/TRE/AFE clear"));
    }
    if cpu::ttbcr() != 0 || cpu::dacr() != Arm32::DACR {
        return Err(format!(
            "TTBCR={:#x} DACR={:#x}, want 0 and {:#x}",
            cpu::ttbcr(),
            cpu::dacr(),
            Arm32::DACR
        ));
    }
    Ok(format!(
        "PL1 MMU on MIDR={:#x} SCTLR={sctlr:#x} TTBCR={:#x} DACR={:#x} TTBR0={:#x} VBAR={:#x} ID_MMFR0={:#x} (PXN {}) ID_MMFR3={:#x} (supersections {})",
        cpu::midr(),
        cpu::ttbcr(),
        cpu::dacr(),
        cpu::ttbr0(),
        cpu::vbar(),
        cpu::id_mmfr0(),
        if cpu::has_pxn() { "yes" } else { "no" },
        cpu::id_mmfr3(),
        if cpu::has_supersections() { "yes" } else { "no" },
    ))
}

/// A probe of an unmapped address faults and is survived (a section
/// translation fault, DFSR.FS 0b00101, DFAR the address, WnR for the
/// store); a fetch there is a prefetch abort with the same status; a probe
/// of a mapped word reads it; ATS1CPR agrees.
pub fn probe_recovery() -> CheckResult {
    static WORD: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0x5a5a_1234);
    let before = probe::fault_count();
    // Below RAM's identity map and above nothing: the boot table's entry
    // for 0x1000_0000 is empty.
    let hole = 0x1000_0000u32;
    let f = match probe::read(hole, false) {
        Ok(v) => return Err(format!("read of unmapped {hole:#x} returned {v:#x}")),
        Err(f) => f,
    };
    if f.prefetch || f.far != hole || f.fs() != 0b00101 || f.wnr() {
        return Err(format!("read fault {f:?}, want DFSR.FS 0x5 DFAR {hole:#x}"));
    }
    // SAFETY: writes to an unmapped address fault (checked just above for
    // reads; the same entry is empty).
    match unsafe { probe::write(hole, 0, false) } {
        Err(f) if f.wnr() && f.far == hole && f.fs() == 0b00101 => {}
        other => return Err(format!("write probe of {hole:#x}: {other:?}")),
    }
    // SAFETY: the address is unmapped, so the fetch aborts.
    match unsafe { probe::exec(hole) } {
        Err(f) if f.prefetch && f.far == hole && f.fs() == 0b00101 => {}
        other => return Err(format!("fetch probe of {hole:#x}: {other:?}")),
    }
    let va = WORD.as_ptr() as u32;
    let v = probe::read(va, false).map_err(|f| format!("read of {va:#x}: {f:?}"))?;
    if v != 0x5a5a_1234 {
        return Err(format!("read {v:#x} at {va:#x}"));
    }
    let par = cpu::ats(cpu::AtsOp::Pr, va);
    let pa = u64::from((par & 0xffff_f000) | (va & 0xfff));
    if par & 1 != 0 || pa != u64::from(va - boot::KBASE) || !frame::is_ram(pa) {
        return Err(format!("ATS1CPR {va:#x}: PAR={par:#x}"));
    }
    let par_hole = cpu::ats(cpu::AtsOp::Pr, hole);
    let faults = probe::fault_count() - before;
    Ok(format!(
        "faults={faults} PAR(mapped)={par:#x} PAR(hole)={par_hole:#x} DFSR={:#x}",
        f.fsr
    ))
}
