//! One memory access or instruction fetch that may fault: the access runs
//! in an assembly function (boot.rs) that arms a recovery address; the
//! abort handlers record DFSR/DFAR (data abort) or IFSR/IFAR (prefetch
//! abort) and resume there.
//!
//! PL0 probes use `LDRT`/`STRT`, which at PL1 are checked with PL0's
//! permissions (DDI 0406C A8.8.92, A8.8.219).

use crate::boot;

extern "C" {
    fn pgq_probe_ldr(va: u32) -> u64;
    fn pgq_probe_str(va: u32, value: u32) -> u64;
    fn pgq_probe_ldrt(va: u32) -> u64;
    fn pgq_probe_strt(va: u32, value: u32) -> u64;
    fn pgq_probe_exec(va: u32) -> u64;
    fn pgq_probe_exec_usr(va: u32, trampoline: u32) -> u64;
}

/// A recovered fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// DFSR (data abort) or IFSR (prefetch abort).
    pub fsr: u32,
    /// DFAR or IFAR.
    pub far: u32,
    /// A prefetch abort (instruction fetch).
    pub prefetch: bool,
}

impl Fault {
    /// The short-descriptor fault status FS\[4:0\]: FSR bit 10 and bits
    /// 3:0 (DDI 0406C B4.1.52, table B3-23).
    pub fn fs(&self) -> u8 {
        ((((self.fsr >> 10) & 1) << 4) | (self.fsr & 0xf)) as u8
    }
    /// DFSR.WnR (bit 11): the access was a write.
    pub fn wnr(&self) -> bool {
        !self.prefetch && self.fsr & (1 << 11) != 0
    }
    /// FSR.LPAE (bit 9): 0 for the short-descriptor format.
    pub fn lpae(&self) -> bool {
        self.fsr & (1 << 9) != 0
    }
}

fn finish(r: u64) -> Result<u32, Fault> {
    if r >> 32 == 0 {
        Ok(r as u32)
    } else {
        let (fsr, far, prefetch, _) = boot::last_fault();
        Err(Fault { fsr, far, prefetch })
    }
}

/// Read the word at `va` at PL1 (`pl0` false, `LDR`) or with PL0's rights
/// (`LDRT`). `va` is 4-byte aligned by the callers; reads of RAM have no
/// side effects and the only device this kernel reads is the PL011, whose
/// data register only pops an empty receive FIFO.
pub fn read(va: u32, pl0: bool) -> Result<u32, Fault> {
    // SAFETY: the probe functions follow the AAPCS, touch only r0 to r3 and
    // PGQ_PROBE_FIXUP, and a fault at their one access is resumed at their
    // recovery label by the handler.
    let r = unsafe {
        if pl0 {
            pgq_probe_ldrt(va)
        } else {
            pgq_probe_ldr(va)
        }
    };
    finish(r)
}

/// Write `value` to `va` at PL1 or with PL0's rights.
///
/// # Safety
///
/// If the write is permitted it happens: `va` must be memory whose change
/// to `value` is harmless (the callers write back the value just read, or
/// write scenario-owned blocks).
pub unsafe fn write(va: u32, value: u32, pl0: bool) -> Result<(), Fault> {
    // SAFETY: as in `read`; the effect of the store itself is the caller's
    // contract.
    let r = unsafe {
        if pl0 {
            pgq_probe_strt(va, value)
        } else {
            pgq_probe_str(va, value)
        }
    };
    finish(r).map(|_| ())
}

/// Branch to `va` at PL1 and come back.
///
/// # Safety
///
/// If the fetch is permitted, the code at `va` runs: it must be `bx lr`
/// (a [`crate::data::ret_page`]).
pub unsafe fn exec(va: u32) -> Result<(), Fault> {
    // SAFETY: as in `read` (the function also saves r4 and lr on the
    // stack); what runs at `va` is the caller's contract.
    let r = unsafe { pgq_probe_exec(va) };
    finish(r).map(|_| ())
}

/// Branch to `va` in User mode (PL0) through `trampoline` and come back.
///
/// # Safety
///
/// `trampoline` must be mapped User-executable at a
/// [`crate::data::tramp_page`]; if the fetch at `va` is permitted, the code
/// there runs at PL0: it must be `bx lr` (a [`crate::data::ret_page`]).
pub unsafe fn exec_user(va: u32, trampoline: u32) -> Result<(), Fault> {
    // SAFETY: as in `exec`; User-mode code only runs the trampoline and
    // the caller's `bx lr`, touches r0, lr_usr and no memory, and returns
    // to SVC mode through `svc #0` (or an abort), both handled in boot.rs.
    let r = unsafe { pgq_probe_exec_usr(va, trampoline) };
    finish(r).map(|_| ())
}

/// Faults recovered so far.
pub fn fault_count() -> u32 {
    boot::last_fault().3
}
