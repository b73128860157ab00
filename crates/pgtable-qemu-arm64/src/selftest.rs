//! Boot facts and the infrastructure self-test (on the boot tables).

use crate::report::CheckResult;
use crate::{boot, cpu, frame, probe};
use alloc::format;

/// What the CPU offers and how the MMU is set up, for the log.
pub fn boot_facts() -> CheckResult {
    let mmfr0 = cpu::id_aa64mmfr0();
    let mmfr1 = cpu::id_aa64mmfr1();
    let tgran4 = (mmfr0 >> 28) & 0xf;
    let lpa2 = tgran4 == 1;
    let sctlr = cpu::sctlr();
    if sctlr & 1 == 0 {
        return Err(format!("SCTLR_EL1.M clear: {sctlr:#x}"));
    }
    if cpu::tcr() != cpu::TCR_BOOT || cpu::mair() != cpu::MAIR {
        return Err(format!(
            "TCR_EL1={:#x} MAIR_EL1={:#x}, want {:#x} {:#x}",
            cpu::tcr(),
            cpu::mair(),
            cpu::TCR_BOOT,
            cpu::MAIR
        ));
    }
    Ok(format!(
        "EL1 MMU on TCR_EL1={:#x} MAIR_EL1={:#x} SCTLR_EL1={:#x} PARange={}bit TGran4={} (FEAT_LPA2 {}) HAFDBS={} PAN={} PSTATE.PAN={}",
        cpu::tcr(),
        cpu::mair(),
        sctlr,
        cpu::pa_bits_of(mmfr0),
        tgran4,
        if lpa2 { "yes" } else { "no" },
        mmfr1 & 0xf,
        (mmfr1 >> 20) & 0xf,
        cpu::pan() as u8
    ))
}

/// A probe of an unmapped address faults and is survived; a probe of a
/// mapped word reads it; AT agrees.
pub fn probe_recovery() -> CheckResult {
    static WORD: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0x5a5a_1234);
    let before = probe::fault_count();
    // Above the 2 GiB the boot tables map: a level-1 translation fault
    // (48-bit: level 1 of entry 511; 39-bit: the root is level 1).
    let hole = boot::KBASE + (4 << 30);
    let f = match probe::read(hole, false) {
        Ok(v) => return Err(format!("read of unmapped {hole:#x} returned {v:#x}")),
        Err(f) => f,
    };
    if f.ec() != probe::EC_DATA_ABORT || f.far != hole || f.dfsc() != 0b000101 {
        return Err(format!(
            "fault ESR={:#x} FAR={:#x}, want EC 0x25 DFSC 0x5 FAR {hole:#x}",
            f.esr, f.far
        ));
    }
    // SAFETY: writes to an unmapped address fault (checked just above for
    // reads; the same entry is invalid).
    let w = unsafe { probe::write(hole, 0, false) };
    match w {
        Err(f) if f.wnr() && f.far == hole => {}
        other => return Err(format!("write probe of {hole:#x}: {other:?}")),
    }
    let va = WORD.as_ptr() as u64;
    let v = probe::read(va, false).map_err(|f| format!("read of {va:#x}: {f:?}"))?;
    if v != 0x5a5a_1234 {
        return Err(format!("read {v:#x} at {va:#x}"));
    }
    let par = cpu::at(cpu::AtOp::E1R, va);
    let pa = (par & 0x000f_ffff_ffff_f000) | (va & 0xfff);
    if par & 1 != 0 || pa != va - boot::KBASE || !frame::is_ram(pa) {
        return Err(format!("AT S1E1R {va:#x}: PAR_EL1={par:#x}"));
    }
    let par_hole = cpu::at(cpu::AtOp::E1R, hole);
    let faults = probe::fault_count() - before;
    Ok(format!(
        "faults={faults} PAR(mapped)={par:#x} PAR(hole)={par_hole:#x} ESR={:#x}",
        f.esr
    ))
}
