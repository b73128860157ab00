//! One memory access that may fault: the access runs in an assembly
//! function (boot.rs) that arms the #PF entry with a fixup address; the
//! entry records CR2 and the error code and resumes there.

use crate::trap;

extern "C" {
    fn pgq_probe_ld(va: u32, out: *mut u32) -> u32;
    fn pgq_probe_st(va: u32, value: u32) -> u32;
    fn pgq_probe_fetch(target: u32, out: *mut u32) -> u32;
}

/// A recovered page fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// CR2: the faulting linear address.
    pub cr2: u32,
    /// The error code the CPU pushed (SDM vol. 3A 4.7).
    pub error: u32,
}

fn finish<T>(faulted: u32, v: T) -> Result<T, Fault> {
    if faulted == 0 {
        Ok(v)
    } else {
        let (cr2, error, _) = trap::last_fault();
        Err(Fault { cr2, error })
    }
}

/// Read the 4-byte word at `va` (4-byte aligned by the callers). The
/// callers read only RAM, or addresses the walker says fault, or the
/// device registers a scenario maps.
pub fn read(va: u32) -> Result<u32, Fault> {
    let mut out = 0u32;
    // SAFETY: the probe follows the C ABI, touches only eax, ecx, edx,
    // PGQ_FIXUP and `out`, and a #PF at its one access is recovered by the
    // #PF entry, which resumes at the probe's fixup.
    let f = unsafe { pgq_probe_ld(va, &mut out) };
    finish(f, out)
}

/// Write `value` to `va`.
///
/// # Safety
///
/// If the write is permitted it happens: `va` must be memory whose change
/// to `value` is harmless (the callers write back the value just read, or
/// a tagged word's own tag, or write where a read just faulted, which on
/// x86 implies the write faults too: no page is writable and unreadable).
pub unsafe fn write(va: u32, value: u32) -> Result<(), Fault> {
    // SAFETY: as in `read`; the effect of the store itself is the caller's
    // contract.
    let f = unsafe { pgq_probe_st(va, value) };
    finish(f, ())
}

/// Call `target` at CPL 0 and return what its fetch stub left in eax, or
/// the #PF the fetch raised.
///
/// # Safety
///
/// If the fetch is permitted the code at `target` runs: the caller calls
/// only addresses whose walks all fault or reach a fetch stub.
pub unsafe fn fetch(target: u32) -> Result<u32, Fault> {
    let mut out = 0u32;
    // SAFETY: the probe follows the C ABI and touches only eax, ecx,
    // PGQ_FIXUP and `out`; a #PF at the target is recovered at the
    // probe's fixup. What runs at the target is the caller's contract (a
    // stub: `mov $imm, %eax; ret`).
    let f = unsafe { pgq_probe_fetch(target, &mut out) };
    finish(f, out)
}

/// Faults recovered so far.
pub fn fault_count() -> u32 {
    trap::last_fault().2
}
