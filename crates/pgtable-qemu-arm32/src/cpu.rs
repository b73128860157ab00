//! CP15 registers, the address translation operations and TLB maintenance.
//!
//! `cortex-ar` provides SCTLR, DFSR/DFAR, IFSR/IFAR, PAR, the ID registers,
//! CONTEXTIDR and TLBIALL. The registers it lacks (TTBR0/TTBR1, TTBCR, DACR,
//! VBAR, the ATS1C* operations, ICIALLU) are declared here with its
//! `SysReg` traits, whose `MRC`/`MCR` it emits (DDI 0406C B4.1 gives the
//! encodings: `p15, op1, Rt, CRn, CRm, op2`).

use cortex_ar::asm::{dsb, isb};
use cortex_ar::register::{
    BpIAll, Contextidr, Dfar, Dfsr, IdMmfr0, IdMmfr3, Ifar, Ifsr, Midr, Par, Sctlr, SysReg,
    SysRegRead, SysRegWrite, TlbIAll,
};

macro_rules! cp15 {
    ($(#[$m:meta])* $name:ident: $crn:literal, $op1:literal, $crm:literal, $op2:literal $(, $rw:ident)*) => {
        $(#[$m])*
        pub struct $name;
        impl SysReg for $name {
            const CP: u32 = 15;
            const CRN: u32 = $crn;
            const OP1: u32 = $op1;
            const CRM: u32 = $crm;
            const OP2: u32 = $op2;
        }
        $(impl $rw for $name {})*
    };
}

cp15!(/// TTBR0: first-level table of `[0, 2^(32-N))`.
    Ttbr0: 2, 0, 0, 0, SysRegRead, SysRegWrite);
cp15!(/// TTBR1: first-level table above `2^(32-N)` (unused with N = 0).
    Ttbr1: 2, 0, 0, 1, SysRegRead, SysRegWrite);
cp15!(/// TTBCR: N (bits 2:0), PD0/PD1, EAE (bit 31).
    Ttbcr: 2, 0, 0, 2, SysRegRead, SysRegWrite);
cp15!(/// DACR: two bits per domain.
    Dacr: 3, 0, 0, 0, SysRegRead, SysRegWrite);
cp15!(/// VBAR: the exception vector base (SCTLR.V = 0).
    Vbar: 12, 0, 0, 0, SysRegRead, SysRegWrite);
cp15!(/// ATS1CPR: stage 1, current state, PL1 read.
    Ats1Cpr: 7, 0, 8, 0, SysRegWrite);
cp15!(/// ATS1CPW: PL1 write.
    Ats1Cpw: 7, 0, 8, 1, SysRegWrite);
cp15!(/// ATS1CUR: PL0 read.
    Ats1Cur: 7, 0, 8, 2, SysRegWrite);
cp15!(/// ATS1CUW: PL0 write.
    Ats1Cuw: 7, 0, 8, 3, SysRegWrite);
cp15!(/// ICIALLU: invalidate all instruction caches to PoU.
    IcIAllU: 7, 0, 5, 0, SysRegWrite);

/// An address translation operation (B4.2.4 "Performing address
/// translation operations").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtsOp {
    /// `ATS1CPR`: PL1 read.
    Pr,
    /// `ATS1CPW`: PL1 write.
    Pw,
    /// `ATS1CUR`: PL0 read.
    Ur,
    /// `ATS1CUW`: PL0 write.
    Uw,
}

impl AtsOp {
    pub const ALL: [AtsOp; 4] = [AtsOp::Pr, AtsOp::Pw, AtsOp::Ur, AtsOp::Uw];
    pub fn name(self) -> &'static str {
        match self {
            AtsOp::Pr => "ATS1CPR",
            AtsOp::Pw => "ATS1CPW",
            AtsOp::Ur => "ATS1CUR",
            AtsOp::Uw => "ATS1CUW",
        }
    }
}

/// Run the translation operation for `va` and return PAR.
pub fn ats(op: AtsOp, va: u32) -> u32 {
    // The walker must see every table write made so far.
    dsb();
    // SAFETY: ATS1C* writes only PAR (which nothing else relies on); it
    // reads translation tables but never accesses `va` itself.
    unsafe {
        match op {
            AtsOp::Pr => Ats1Cpr::write_raw(va),
            AtsOp::Pw => Ats1Cpw::write_raw(va),
            AtsOp::Ur => Ats1Cur::write_raw(va),
            AtsOp::Uw => Ats1Cuw::write_raw(va),
        }
    }
    isb();
    Par::read().0
}

/// Invalidate this CPU's whole unified TLB and branch predictor after the
/// page tables were written (TLBIALL, BPIALL).
pub fn flush_tlb_all() {
    dsb();
    TlbIAll::write();
    BpIAll::write();
    dsb();
    isb();
}

/// Invalidate the instruction caches after code was written to memory.
pub fn sync_icache() {
    dsb();
    // SAFETY: ICIALLU only invalidates instruction caches (the value is
    // ignored); instructions are refetched from memory afterwards.
    unsafe { IcIAllU::write_raw(0) };
    BpIAll::write();
    dsb();
    isb();
}

/// Load TTBR0 and CONTEXTIDR (the ASID) and flush the TLB.
///
/// # Safety
///
/// `ttbr0` must hold a first-level table that maps the running kernel
/// (image, stack, heap, frames, UART) exactly as the tables in use do.
pub unsafe fn set_ttbr0(ttbr0: u32, contextidr: u32) {
    dsb();
    // SAFETY: the caller's contract; CONTEXTIDR only tags TLB entries
    // (every switch flushes the whole TLB anyway).
    unsafe {
        Contextidr::write(Contextidr(contextidr));
        isb();
        Ttbr0::write_raw(ttbr0);
    }
    isb();
    flush_tlb_all();
}

/// Load TTBR1 (Linux keeps `swapper_pg_dir` there even with TTBCR.N = 0,
/// where the MMU never reads it).
pub fn set_ttbr1(ttbr1: u32) {
    // SAFETY: with TTBCR.N = 0 (checked by `selftest::boot_facts`) no
    // translation uses TTBR1.
    unsafe { Ttbr1::write_raw(ttbr1) };
    isb();
}

pub fn ttbr0() -> u32 {
    // SAFETY: reading TTBR0 has no side effects.
    unsafe { Ttbr0::read_raw() }
}
pub fn ttbr1() -> u32 {
    // SAFETY: reading TTBR1 has no side effects.
    unsafe { Ttbr1::read_raw() }
}
pub fn ttbcr() -> u32 {
    // SAFETY: reading TTBCR has no side effects.
    unsafe { Ttbcr::read_raw() }
}
pub fn dacr() -> u32 {
    // SAFETY: reading DACR has no side effects.
    unsafe { Dacr::read_raw() }
}
pub fn vbar() -> u32 {
    // SAFETY: reading VBAR has no side effects.
    unsafe { Vbar::read_raw() }
}
pub fn sctlr() -> u32 {
    Sctlr::read().raw_value()
}
pub fn midr() -> u32 {
    Midr::read().raw_value()
}
pub fn id_mmfr0() -> u32 {
    IdMmfr0::read().0
}
pub fn id_mmfr3() -> u32 {
    IdMmfr3::read().0
}

/// The fault registers, for the fatal handler's report.
pub fn fault_registers() -> (u32, u32, u32, u32) {
    (
        Dfsr::read().raw_value(),
        Dfar::read().0,
        Ifsr::read().raw_value(),
        Ifar::read().0,
    )
}

/// ID_MMFR0.VMSA (bits 3:0): 0b0100 adds PXN, 0b0101 the LPAE as well
/// (DDI 0406C B4.1.89).
pub fn has_pxn() -> bool {
    id_mmfr0() & 0xf >= 4
}

/// ID_MMFR3.Supersection (bits 31:28): 0 means supported.
pub fn has_supersections() -> bool {
    id_mmfr3() >> 28 == 0
}
