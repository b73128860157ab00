//! One memory access that may fault: the access runs in an assembly
//! function (boot.rs) that arms a recovery address; the synchronous
//! exception handler records ESR_EL1/FAR_EL1 and resumes there.
//!
//! EL0 probes use `LDTR`/`STTR`, which at EL1 are checked with EL0's
//! permissions (PSTATE.PAN is 0 and FEAT_UAO's PSTATE.UAO is 0).

use crate::boot;

#[repr(C)]
struct Ret {
    value: u64,
    faulted: u64,
}

extern "C" {
    fn pgq_probe_ldr(va: u64) -> Ret;
    fn pgq_probe_str(va: u64, value: u64) -> Ret;
    fn pgq_probe_ldtr(va: u64) -> Ret;
    fn pgq_probe_sttr(va: u64, value: u64) -> Ret;
    fn pgq_probe_fetch(target: u64) -> Ret;
}

/// ESR_EL1.EC of a data abort taken without a change of EL.
pub const EC_DATA_ABORT: u64 = 0x25;
/// ESR_EL1.EC of an instruction abort taken without a change of EL.
pub const EC_INSN_ABORT: u64 = 0x21;

/// A recovered fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub esr: u64,
    pub far: u64,
}

impl Fault {
    /// ESR_EL1.EC: [`EC_DATA_ABORT`] or [`EC_INSN_ABORT`].
    pub fn ec(&self) -> u64 {
        self.esr >> 26
    }
    /// ISS.DFSC (IFSC for instruction aborts): the fault status code
    /// (same encoding as PAR_EL1.FST).
    pub fn dfsc(&self) -> u8 {
        (self.esr & 0x3f) as u8
    }
    /// ISS.WnR: the access was a write.
    pub fn wnr(&self) -> bool {
        self.esr & (1 << 6) != 0
    }
}

fn finish(r: Ret) -> Result<u64, Fault> {
    if r.faulted == 0 {
        Ok(r.value)
    } else {
        let (esr, far, _) = boot::last_fault();
        Err(Fault { esr, far })
    }
}

/// Read the 8-byte word at `va` at EL1 (`el0` false, `LDR`) or with EL0's
/// rights (`LDTR`). `va` is 8-byte aligned by the callers; reads of RAM
/// have no side effects and this kernel maps no device whose reads do
/// (the PL011's data register only pops an empty receive FIFO).
pub fn read(va: u64, el0: bool) -> Result<u64, Fault> {
    // SAFETY: the probe functions follow the C ABI, touch only x0, x1, x9,
    // x10 and PGQ_PROBE_FIXUP, and a fault at their one access is resumed
    // at their recovery label by the handler.
    let r = unsafe {
        if el0 {
            pgq_probe_ldtr(va)
        } else {
            pgq_probe_ldr(va)
        }
    };
    finish(r)
}

/// Write `value` to `va` at EL1 or with EL0's rights.
///
/// # Safety
///
/// If the write is permitted it happens: `va` must be memory whose change
/// to `value` is harmless (the callers write back the value just read, or
/// write scenario-owned blocks).
pub unsafe fn write(va: u64, value: u64, el0: bool) -> Result<(), Fault> {
    // SAFETY: as in `read`; the effect of the store itself is the caller's
    // contract.
    let r = unsafe {
        if el0 {
            pgq_probe_sttr(va, value)
        } else {
            pgq_probe_str(va, value)
        }
    };
    finish(r).map(|_| ())
}

/// Faults recovered so far.
pub fn fault_count() -> u64 {
    boot::last_fault().2
}

/// Branch with link to `target` at EL1 and return what its fetch stub
/// (`data::FETCH_OFFSET`) left in x0, or the instruction abort the fetch
/// raised (ESR_EL1, FAR_EL1 = `target`).
///
/// # Safety
///
/// If the fetch is permitted the code at `target` runs: the caller jumps
/// only where the walk faults or reaches a fetch stub.
pub unsafe fn fetch(target: u64) -> Result<u64, Fault> {
    // SAFETY: the probe follows the C ABI, touches only x0, x1, x9, x10,
    // x29/x30 (saved on the stack) and PGQ_PROBE_FIXUP, and an instruction
    // abort at the target is resumed at its recovery label by the handler.
    // What runs at the target is the caller's contract.
    finish(unsafe { pgq_probe_fetch(target) })
}
