//! Touch an address and survive the fault.
//!
//! Each probe is a tiny assembly function whose single memory access has an
//! entry in the exception table (`extable.rs`, section `.pgq_extable`). If
//! that exact instruction raises #PF (or #GP, e.g. for a non-canonical
//! address), the exception dispatcher records the fault and resumes at the
//! entry's fixup; `pgq_probe_fixup` returns 1 from the probe function (the
//! stack is as it was at the access, so `ret` is correct). A fault anywhere
//! else stays fatal.
//!
//! These stay hand-written assembly: recovery needs the exact address of
//! the one instruction that may fault and a resume point with a known
//! stack, which compiled Rust cannot promise.

use crate::extable;
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

pub use crate::extable::Fault;

global_asm!(
    r#"
    # One `extable::ExtableEntry`: (faulting instruction, resume address).
    .macro PGQ_EXTABLE insn, fixup
    .pushsection .pgq_extable, "a"
    .p2align 3
    .quad \insn, \fixup
    .popsection
    .endm

    .section .text.probe, "ax", @progbits

    .global pgq_probe_read_u8
pgq_probe_read_u8:              # (rdi va) -> rax 0 ok / 1 fault
    xor eax, eax
pgq_probe_read_u8_insn:
    mov cl, byte ptr [rdi]
    ret
    PGQ_EXTABLE pgq_probe_read_u8_insn, pgq_probe_fixup

    .global pgq_probe_write_u8
pgq_probe_write_u8:             # write access that keeps the byte's value
    xor eax, eax
pgq_probe_write_u8_read_insn:
    mov cl, byte ptr [rdi]      # fault -> pgq_probe_write_u8_blind
pgq_probe_write_u8_insn:
    mov byte ptr [rdi], cl
    ret
pgq_probe_write_u8_blind:       # unreadable, so (without SMAP/PKU) unwritable:
    xor ecx, ecx                # this write faults too, with the write error code
    jmp pgq_probe_write_u8_insn
    PGQ_EXTABLE pgq_probe_write_u8_read_insn, pgq_probe_write_u8_blind
    PGQ_EXTABLE pgq_probe_write_u8_insn, pgq_probe_fixup

    .global pgq_probe_read_u64
pgq_probe_read_u64:             # (rdi va, rsi out) -> rax 0 ok / 1 fault
    xor eax, eax
pgq_probe_read_u64_insn:
    mov rdx, qword ptr [rdi]
    mov qword ptr [rsi], rdx
    ret
    PGQ_EXTABLE pgq_probe_read_u64_insn, pgq_probe_fixup

    .global pgq_probe_write_u64
pgq_probe_write_u64:            # (rdi va, rsi value) -> rax 0 ok / 1 fault
    xor eax, eax
pgq_probe_write_u64_insn:
    mov qword ptr [rdi], rsi
    ret
    PGQ_EXTABLE pgq_probe_write_u64_insn, pgq_probe_fixup

pgq_probe_fixup:
    mov eax, 1
    ret

    .global pgq_probe_fetch
pgq_probe_fetch:                # (rdi target, rsi out) -> rax 0 ok / 1 fault
    push rsi                    # the stub (`mov eax, imm32; ret`) sets rax
    call rdi
    pop rsi
    mov qword ptr [rsi], rax
    xor eax, eax
    ret
    .global pgq_probe_fetch_fixup
pgq_probe_fetch_fixup:          # #PF at the target (extable::arm_fetch):
    add rsp, 8                  # drop the call's return address
    pop rsi
    mov eax, 1
    ret
"#
);

extern "C" {
    fn pgq_probe_read_u8(va: u64) -> u64;
    fn pgq_probe_write_u8(va: u64) -> u64;
    fn pgq_probe_read_u64(va: u64, out: *mut u64) -> u64;
    fn pgq_probe_write_u64(va: u64, value: u64) -> u64;
    fn pgq_probe_fetch(target: u64, out: *mut u64) -> u64;
    fn pgq_probe_fetch_fixup();
}

/// Probes that returned a fault (the intermediate read of a write probe,
/// which resumes at the blind write, is not one).
static FAULTS: AtomicU64 = AtomicU64::new(0);

fn result(status: u64) -> Result<(), Fault> {
    if status == 0 {
        Ok(())
    } else {
        FAULTS.fetch_add(1, Ordering::SeqCst);
        Err(extable::last_fault())
    }
}

/// Touch the byte at `va` and report the fault, if any; execution continues
/// either way.
///
/// `write == false`: one read. `write == true`: read the byte and write the
/// same value back (nothing changes: only the BSP probes writes, with
/// interrupts off, and in the SMP image the other CPUs only read). If that read faults, a write of 0 is attempted so that
/// the reported fault is a write fault (error code bit 1): on x86 a page a
/// supervisor cannot read cannot be written either (absent SMAP/PKU, which
/// this kernel does not enable), so that write faults as well. A locked RMW
/// is not used because QEMU's TCG reports it as a read fault.
pub fn probe(va: u64, write: bool) -> Result<(), Fault> {
    // SAFETY: the probe functions access only `va`; a fault there is caught
    // and turned into a return value. A successful write stores the value
    // the byte already had (nothing runs between the read and the write on
    // this single CPU with interrupts off), so no memory the program relies
    // on changes; the blind write of 0 happens only where the read faulted,
    // i.e. where the write faults too. Reading arbitrary mapped memory is fine for plain RAM; do not
    // probe MMIO with side effects.
    let status = unsafe {
        if write {
            pgq_probe_write_u8(va)
        } else {
            pgq_probe_read_u8(va)
        }
    };
    result(status)
}

/// Read the u64 at `va` (should be 8-byte aligned, so it cannot straddle
/// two pages), or return the fault.
pub fn read_u64(va: u64) -> Result<u64, Fault> {
    let mut out = 0u64;
    // SAFETY: reads only `va` (faults are caught) and writes only `out`.
    let status = unsafe { pgq_probe_read_u64(va, &mut out) };
    result(status).map(|()| out)
}

/// Write `value` to the u64 at `va`, or return the fault.
///
/// # Safety
/// If `va` is mapped, the write really happens: it must not hit memory that
/// Rust code owns (the stack, live objects) unless that is intended.
pub unsafe fn write_u64(va: u64, value: u64) -> Result<(), Fault> {
    // SAFETY: the caller vouches for the target; faults are caught.
    let status = unsafe { pgq_probe_write_u64(va, value) };
    result(status)
}

/// Call `target` at CPL 0 and return what its fetch stub
/// (`data::FETCH_OFFSET`) left in rax, or the #PF the fetch raised.
///
/// # Safety
///
/// If the fetch is permitted the code at `target` runs: the caller calls
/// only canonical addresses whose walks fault or reach a fetch stub.
pub unsafe fn fetch(target: u64) -> Result<u64, Fault> {
    let mut out = 0u64;
    extable::arm_fetch(target, pgq_probe_fetch_fixup as *const () as u64);
    // SAFETY: the probe follows the C ABI (rsi saved across the call), a
    // #PF at `target` resumes at its fixup with the stack as at the
    // faulting fetch; what runs at `target` is the caller's contract (a
    // stub: `mov eax, imm32; ret`, which touches rax only).
    let status = unsafe { pgq_probe_fetch(target, &mut out) };
    extable::arm_fetch(0, 0);
    result(status).map(|()| out)
}

/// Number of faults the probes have recovered from since boot.
pub fn fault_count() -> u64 {
    FAULTS.load(Ordering::SeqCst)
}
