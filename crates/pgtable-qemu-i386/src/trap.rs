//! Exception entry points, the IDT that holds them, and the probe primitives.
//!
//! Vector 14 (#PF) resumes at the armed probe's fixup address after
//! recording CR2, the error code and a count; every other vector, and a
//! #PF with no probe armed, is fatal: printed, exit status 35.

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The armed probe's fixup address (0: none). Written by the probes,
/// cleared by the #PF entry when it resumes there.
#[no_mangle]
static PGQ_FIXUP: AtomicU32 = AtomicU32::new(0);
/// The last recovered fault: CR2, error code, a running count.
#[no_mangle]
static PGQ_FAULT: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];

global_asm!(
    r#"
    // ---------------------------------------------------------------
    // Exceptions. #PF: [esp] = error code, then EIP, CS, EFLAGS.
    .section .text.trap, "ax"
    .global pgq_pf_entry
pgq_pf_entry:
    pushl %eax
    movl PGQ_FIXUP, %eax
    testl %eax, %eax
    jz .Lpf_fatal
    movl $0, PGQ_FIXUP
    movl %eax, 8(%esp)
    movl %cr2, %eax
    movl %eax, PGQ_FAULT
    movl 4(%esp), %eax
    movl %eax, PGQ_FAULT + 4
    incl PGQ_FAULT + 8
    popl %eax
    addl $4, %esp
    iret
.Lpf_fatal:
    popl %eax
    pushl $14
    jmp pgq_fatal_common

    .macro PGQ_STUB vec, err
    .global pgq_vec_\vec
pgq_vec_\vec:
    .if \err == 0
    pushl $0
    .endif
    pushl $\vec
    jmp pgq_fatal_common
    .endm
    PGQ_STUB 0, 0
    PGQ_STUB 1, 0
    PGQ_STUB 2, 0
    PGQ_STUB 3, 0
    PGQ_STUB 4, 0
    PGQ_STUB 5, 0
    PGQ_STUB 6, 0
    PGQ_STUB 7, 0
    PGQ_STUB 8, 1
    PGQ_STUB 9, 0
    PGQ_STUB 10, 1
    PGQ_STUB 11, 1
    PGQ_STUB 12, 1
    PGQ_STUB 13, 1
    PGQ_STUB 15, 0
    PGQ_STUB 16, 0
    PGQ_STUB 17, 1
    PGQ_STUB 18, 0
    PGQ_STUB 19, 0
    PGQ_STUB 20, 0
    PGQ_STUB 21, 1

    // [esp] = vector, error code, EIP, CS, EFLAGS.
pgq_fatal_common:
    movl %esp, %eax
    andl $-16, %esp
    subl $12, %esp
    pushl %eax
    call {fatal}
.Lfatal_hang:
    hlt
    jmp .Lfatal_hang

    .section .rodata.vectors, "a"
    .balign 4
    .global PGQ_VECTORS
PGQ_VECTORS:
    .long pgq_vec_0, pgq_vec_1, pgq_vec_2, pgq_vec_3, pgq_vec_4, pgq_vec_5
    .long pgq_vec_6, pgq_vec_7, pgq_vec_8, pgq_vec_9, pgq_vec_10, pgq_vec_11
    .long pgq_vec_12, pgq_vec_13, pgq_pf_entry, pgq_vec_15, pgq_vec_16
    .long pgq_vec_17, pgq_vec_18, pgq_vec_19, pgq_vec_20, pgq_vec_21

    // ---------------------------------------------------------------
    // Probes (cdecl): one 4-byte access that may fault; return 0 done, 1
    // faulted. pgq_probe_ld(va, out) stores the word read at *out;
    // pgq_probe_st(va, value) stores value at va.
    .section .text.probe, "ax"
    .global pgq_probe_ld
pgq_probe_ld:
    movl 4(%esp), %ecx
    movl $.Lld_fixup, PGQ_FIXUP
    movl (%ecx), %eax
    movl $0, PGQ_FIXUP
    movl 8(%esp), %ecx
    movl %eax, (%ecx)
    xorl %eax, %eax
    ret
.Lld_fixup:
    movl $1, %eax
    ret

    .global pgq_probe_st
pgq_probe_st:
    movl 4(%esp), %ecx
    movl 8(%esp), %edx
    movl $.Lst_fixup, PGQ_FIXUP
    movl %edx, (%ecx)
    movl $0, PGQ_FIXUP
    xorl %eax, %eax
    ret
.Lst_fixup:
    movl $1, %eax
    ret

    // pgq_probe_fetch(target, out): call target, whose fetch stub
    // (`data::FETCH_OFFSET`) sets eax and returns; *out = eax. A #PF at
    // the target resumes at the fixup with the call's return address
    // still on the stack.
    .global pgq_probe_fetch
pgq_probe_fetch:
    movl 4(%esp), %ecx
    movl $.Lfetch_fixup, PGQ_FIXUP
    call *%ecx
    movl $0, PGQ_FIXUP
    movl 8(%esp), %ecx
    movl %eax, (%ecx)
    xorl %eax, %eax
    ret
.Lfetch_fixup:
    addl $4, %esp
    movl $1, %eax
    ret
"#,
    fatal = sym pgq_fatal,
    options(att_syntax)
);

/// Vectors with an entry point in `PGQ_VECTORS`.
pub const VECTORS: usize = 22;

/// An exception nobody expected: print it and fail.
extern "C" fn pgq_fatal(frame: *const u32) -> ! {
    // SAFETY: `frame` points at the five words the entry stub and the CPU
    // pushed (vector, error code, EIP, CS, EFLAGS) on the current stack.
    let f = unsafe { core::slice::from_raw_parts(frame, 5) };
    crate::println!(
        "EXCEPTION vector={} error={:#x} eip={:#x} cr2={:#x} cr3={:#x}",
        f[0],
        f[1],
        f[2],
        crate::cpu::cr2(),
        crate::cpu::cr3()
    );
    crate::println!("RESULT fail");
    crate::console::fail()
}

/// The last recovered fault (CR2, error code) and how many there were.
pub fn last_fault() -> (u32, u32, u32) {
    (
        PGQ_FAULT[0].load(Ordering::SeqCst),
        PGQ_FAULT[1].load(Ordering::SeqCst),
        PGQ_FAULT[2].load(Ordering::SeqCst),
    )
}

extern "C" {
    static PGQ_VECTORS: [u32; VECTORS];
}

/// The entry point of exception `vector`.
pub fn vector_entry(vector: usize) -> u32 {
    // SAFETY: PGQ_VECTORS is a read-only table of VECTORS addresses in
    // .rodata; `vector` is checked against its length by the indexing.
    unsafe { PGQ_VECTORS[vector] }
}

/// The IDT: 32-bit interrupt gates (type 0xE, DPL 0, present) through
/// code selector 0x08 for the vectors boot.rs has entry points for.
static IDT: [AtomicU64; 32] = [const { AtomicU64::new(0) }; 32];

/// Fill and load the IDT.
pub fn init_idt() {
    for (v, gate) in IDT.iter().enumerate().take(VECTORS) {
        let off = u64::from(vector_entry(v));
        let low = (0x08u64 << 16) | (off & 0xffff);
        let high = (off & 0xffff_0000) | 0x8e00;
        gate.store(low | (high << 32), Ordering::SeqCst);
    }
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u32,
    }
    let p = Pointer {
        limit: (core::mem::size_of_val(&IDT) - 1) as u16,
        base: IDT.as_ptr() as u32,
    };
    // SAFETY: the IDT is a static in kernel memory mapped in every root;
    // its gates point at entry stubs in .text.trap.
    unsafe { asm!("lidt [{}]", in(reg) &p, options(readonly, nostack, preserves_flags)) };
}
