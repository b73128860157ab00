//! Touch an address and survive the fault.
//!
//! Each probe is a tiny assembly function whose single memory access sits at
//! a global label. If that exact instruction raises #PF (or #GP, e.g. for a
//! non-canonical address), the exception dispatcher records the fault and
//! resumes at `pgq_probe_fixup`, which returns 1 from the probe function
//! (the stack is as it was at the access, so `ret` is correct). A fault
//! anywhere else stays fatal.

use crate::interrupts::{ExceptionFrame, VECTOR_GP, VECTOR_PF};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

global_asm!(
    r#"
    .section .text.probe, "ax", @progbits

    .global pgq_probe_read_u8
pgq_probe_read_u8:              # (rdi va) -> rax 0 ok / 1 fault
    xor eax, eax
    .global pgq_probe_read_u8_insn
pgq_probe_read_u8_insn:
    mov cl, byte ptr [rdi]
    ret

    .global pgq_probe_write_u8
pgq_probe_write_u8:             # write access that keeps the byte's value
    xor eax, eax
    .global pgq_probe_write_u8_read_insn
pgq_probe_write_u8_read_insn:
    mov cl, byte ptr [rdi]      # fault -> pgq_probe_write_u8_blind
    .global pgq_probe_write_u8_insn
pgq_probe_write_u8_insn:
    mov byte ptr [rdi], cl
    ret
    .global pgq_probe_write_u8_blind
pgq_probe_write_u8_blind:       # unreadable, so (without SMAP/PKU) unwritable:
    xor ecx, ecx                # this write faults too, with the write error code
    jmp pgq_probe_write_u8_insn

    .global pgq_probe_read_u64
pgq_probe_read_u64:             # (rdi va, rsi out) -> rax 0 ok / 1 fault
    xor eax, eax
    .global pgq_probe_read_u64_insn
pgq_probe_read_u64_insn:
    mov rdx, qword ptr [rdi]
    mov qword ptr [rsi], rdx
    ret

    .global pgq_probe_write_u64
pgq_probe_write_u64:            # (rdi va, rsi value) -> rax 0 ok / 1 fault
    xor eax, eax
    .global pgq_probe_write_u64_insn
pgq_probe_write_u64_insn:
    mov qword ptr [rdi], rsi
    ret

    .global pgq_probe_fixup
pgq_probe_fixup:
    mov eax, 1
    ret
"#
);

extern "C" {
    fn pgq_probe_read_u8(va: u64) -> u64;
    fn pgq_probe_write_u8(va: u64) -> u64;
    fn pgq_probe_read_u64(va: u64, out: *mut u64) -> u64;
    fn pgq_probe_write_u64(va: u64, value: u64) -> u64;
    static pgq_probe_read_u8_insn: u8;
    static pgq_probe_write_u8_read_insn: u8;
    static pgq_probe_write_u8_insn: u8;
    static pgq_probe_write_u8_blind: u8;
    static pgq_probe_read_u64_insn: u8;
    static pgq_probe_write_u64_insn: u8;
    static pgq_probe_fixup: u8;
}

/// A fault taken by a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// 14 (#PF) or 13 (#GP, e.g. non-canonical address).
    pub vector: u64,
    /// CR2 for #PF; the probed address for #GP (CR2 is not set by #GP).
    pub addr: u64,
    /// The CPU's error code (#PF: bit 0 present, 1 write, 2 user, 3 reserved
    /// bit, 4 instruction fetch).
    pub error_code: u64,
    /// Address of the faulting probe instruction.
    pub rip: u64,
}

impl Fault {
    pub fn is_page_fault(&self) -> bool {
        self.vector == VECTOR_PF
    }
    /// #PF error code bit 0: the page was present (protection violation).
    pub fn present(&self) -> bool {
        self.error_code & 1 != 0
    }
    /// #PF error code bit 1: the access was a write.
    pub fn write(&self) -> bool {
        self.error_code & 2 != 0
    }
}

static LAST_VECTOR: AtomicU64 = AtomicU64::new(0);
static LAST_ADDR: AtomicU64 = AtomicU64::new(0);
static LAST_ERROR: AtomicU64 = AtomicU64::new(0);
static LAST_RIP: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Where to resume after a fault at a probe instruction, if `rip` is one.
fn fixup_for(rip: u64) -> Option<u64> {
    let fixup = &raw const pgq_probe_fixup as u64;
    let table = [
        (&raw const pgq_probe_read_u8_insn as u64, fixup),
        (
            &raw const pgq_probe_write_u8_read_insn as u64,
            &raw const pgq_probe_write_u8_blind as u64,
        ),
        (&raw const pgq_probe_write_u8_insn as u64, fixup),
        (&raw const pgq_probe_read_u64_insn as u64, fixup),
        (&raw const pgq_probe_write_u64_insn as u64, fixup),
    ];
    table.iter().find(|(insn, _)| *insn == rip).map(|&(_, f)| f)
}

/// Called by the exception dispatcher: if `frame` is a #PF/#GP at a probe
/// instruction, record it, redirect RIP to the fixup and return true.
pub(crate) fn try_recover(frame: &mut ExceptionFrame) -> bool {
    if frame.vector != VECTOR_PF && frame.vector != VECTOR_GP {
        return false;
    }
    let Some(fixup) = fixup_for(frame.rip) else {
        return false;
    };
    let addr = if frame.vector == VECTOR_PF {
        crate::cpu::read_cr2()
    } else {
        frame.rdi // every probe takes the address in rdi
    };
    LAST_VECTOR.store(frame.vector, Ordering::SeqCst);
    LAST_ADDR.store(addr, Ordering::SeqCst);
    LAST_ERROR.store(frame.error_code, Ordering::SeqCst);
    LAST_RIP.store(frame.rip, Ordering::SeqCst);
    if fixup == &raw const pgq_probe_fixup as u64 {
        // Count probes that failed, not the intermediate read of a write probe.
        FAULTS.fetch_add(1, Ordering::SeqCst);
    }
    frame.rip = fixup;
    true
}

fn last_fault() -> Fault {
    Fault {
        vector: LAST_VECTOR.load(Ordering::SeqCst),
        addr: LAST_ADDR.load(Ordering::SeqCst),
        error_code: LAST_ERROR.load(Ordering::SeqCst),
        rip: LAST_RIP.load(Ordering::SeqCst),
    }
}

fn result(status: u64) -> Result<(), Fault> {
    if status == 0 {
        Ok(())
    } else {
        Err(last_fault())
    }
}

/// Touch the byte at `va` and report the fault, if any; execution continues
/// either way.
///
/// `write == false`: one read. `write == true`: read the byte and write the
/// same value back (nothing changes; the kernel is single-CPU with
/// interrupts off). If that read faults, a write of 0 is attempted so that
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

/// Number of faults the probes have recovered from since boot.
pub fn fault_count() -> u64 {
    FAULTS.load(Ordering::SeqCst)
}
