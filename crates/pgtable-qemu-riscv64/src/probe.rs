//! One memory access that may fault: the access runs in an assembly
//! function (boot.rs) that arms the trap handler, which records
//! scause/stval and resumes after the faulting instruction.

use crate::boot;

#[repr(C)]
#[derive(Clone, Copy)]
struct Ret {
    value: u64,
    faulted: u64,
}

extern "C" {
    fn pgq_probe_ld(va: u64) -> Ret;
    fn pgq_probe_sd(va: u64, value: u64) -> Ret;
    fn pgq_probe_fetch(target: u64, user: u64) -> Ret;
    fn pgq_fetch_resume();
}

/// Instruction page fault.
pub const FETCH_PF: u64 = 12;

/// A recovered fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub scause: u64,
    pub stval: u64,
}

fn finish(r: Ret) -> Result<u64, Fault> {
    if r.faulted == 0 {
        Ok(r.value)
    } else {
        let (scause, stval, _) = boot::last_fault();
        Err(Fault { scause, stval })
    }
}

/// Read the 8-byte word at `va` (8-byte aligned by the callers) in S-mode.
/// The callers read only RAM the kernel may access, addresses the walker
/// says fault, or (`ioremap`) RBR of the UART, which nothing else uses.
pub fn read(va: u64) -> Result<u64, Fault> {
    // SAFETY: the probe follows the C ABI, touches only a0, a1, t1, t2 and
    // PGQ_PROBE_ARMED, and a fault at its one access is recovered by the
    // trap handler, which resumes after it.
    finish(unsafe { pgq_probe_ld(va) })
}

/// Write `value` to `va` in S-mode.
///
/// # Safety
///
/// If the write is permitted it happens: `va` must be memory whose change
/// to `value` is harmless (the callers write back the value just read, or
/// a tagged word's own tag, or write where a read just faulted, which on
/// riscv implies the write faults too: no leaf is writable without R).
pub unsafe fn write(va: u64, value: u64) -> Result<(), Fault> {
    // SAFETY: as in `read`; the effect of the store itself is the caller's
    // contract.
    finish(unsafe { pgq_probe_sd(va, value) }).map(|_| ())
}

/// Faults recovered so far.
pub fn fault_count() -> u64 {
    boot::last_fault().2
}

/// Jump to `target` in S-mode (`user` false) or U-mode and return what its
/// fetch stub (`data::FETCH_OFFSET`) left in a0, or the fault the fetch
/// raised (scause, stval).
///
/// # Safety
///
/// If the fetch is permitted the code at `target` runs: the caller jumps
/// only where every walk it made reaches a fetch stub, or faults.
pub unsafe fn fetch(target: u64, user: bool) -> Result<u64, Fault> {
    // SAFETY: the probe follows the C ABI and touches only a0, a1, t1, t2,
    // ra (saved on the stack) and PGQ_PROBE_ARMED; a fault at the target,
    // or the U-mode return's fetch of kernel text, is recovered by the
    // trap handler at pgq_fetch_resume in S-mode. What runs at the target
    // is the caller's contract.
    let r = unsafe { pgq_probe_fetch(target, user as u64) };
    match finish(r) {
        // The U-mode stub's return to kernel text: the fetch succeeded.
        Err(f)
            if user && f.scause == FETCH_PF && f.stval == pgq_fetch_resume as *const () as u64 =>
        {
            Ok(r.value)
        }
        other => other,
    }
}
