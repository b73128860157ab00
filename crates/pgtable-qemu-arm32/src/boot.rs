//! Entry, boot page tables, exception vectors and the probe primitives.
//!
//! QEMU's `virt` machine (no `secure=on`, no `virtualization=on`) starts the
//! Cortex-A15 in SVC mode (PL1, non-secure), MMU off, at the ELF entry
//! point, which the linker script sets to the *physical* address of
//! [`_start`]. The kernel is linked at `KBASE + physical`, so until the MMU
//! is on it only uses PC-relative addresses and link addresses minus
//! `KBASE`.
//!
//! The boot table is one short-descriptor first-level table (16 KiB) of
//! 1 MiB sections: RAM `[0x4000_0000, 0x6000_0000)` at its physical address
//! (for the instruction that turns the MMU on) and at `KBASE + pa`
//! (`0xC000_0000`, Linux's `PAGE_OFFSET` over `PHYS_OFFSET`), Normal
//! write-back, kernel read/write, executable, domain 0; and the PL011's MiB
//! at [`crate::uart::UART_VA`] as shareable Device, execute-never.
//! TTBCR.N = 0, so TTBR0 translates every address, as in Linux without LPAE.

pub use crate::frame::KBASE;
use crate::frame::{RAM_SIZE, RAM_START};
use crate::uart::{UART_PA, UART_VA};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU32, Ordering};
use pgtable::arch::arm32::Arm32;

/// Boot (SVC mode) stack size.
const STACK_SIZE: usize = 256 * 1024;
/// Abort-mode and undefined-mode stack size.
const EXC_STACK_SIZE: usize = 8 * 1024;

/// The boot first-level table: 4096 word entries, 16 KiB aligned.
#[repr(C, align(16384))]
pub struct L1Table(pub [u32; 4096]);

#[repr(C, align(16))]
struct Stack<const N: usize>([u8; N]);

#[no_mangle]
static mut PGQ_BOOT_L1: L1Table = L1Table([0; 4096]);
#[no_mangle]
static mut PGQ_STACK: Stack<STACK_SIZE> = Stack([0; STACK_SIZE]);
#[no_mangle]
static mut PGQ_ABT_STACK: Stack<EXC_STACK_SIZE> = Stack([0; EXC_STACK_SIZE]);
#[no_mangle]
static mut PGQ_UND_STACK: Stack<EXC_STACK_SIZE> = Stack([0; EXC_STACK_SIZE]);

/// Recovery address of the probe in progress (0: none). Written by the
/// probe functions, read and cleared by the abort handlers.
#[no_mangle]
static PGQ_PROBE_FIXUP: AtomicU32 = AtomicU32::new(0);
/// Set while a PL0 probe runs in User mode (an abort or the trampoline's
/// `svc #0` returns to SVC mode and clears it).
#[no_mangle]
static PGQ_USER_PROBE: AtomicU32 = AtomicU32::new(0);
/// The last recovered fault: status (DFSR or IFSR), address (DFAR or
/// IFAR), kind (0 data abort, 1 prefetch abort) and a running count.
#[no_mangle]
static PGQ_FAULT: [AtomicU32; 4] = [
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
    AtomicU32::new(0),
];

/// Section attributes of boot RAM: section, B C with TEX 001 (Normal
/// write-back write-allocate), AP 0b001 (PL1 read/write), S, domain 0,
/// executable.
const BOOT_RAM_SECT: u32 = 0b10 | (1 << 2) | (1 << 3) | (0b01 << 10) | (0b001 << 12) | (1 << 16);
/// The PL011's section: TEX 000 C 0 B 1 (shareable Device), XN, AP 0b001.
const BOOT_UART_SECT: u32 = UART_PA | 0b10 | (1 << 2) | (1 << 4) | (0b01 << 10);
/// Byte offset of the UART's first-level entry.
const BOOT_UART_OFF: u32 = (UART_VA >> 20) * 4;
/// Byte offset between a RAM section's identity entry and its KBASE entry.
const BOOT_HIGH_OFF: u32 = (KBASE >> 20) * 4;
/// Sections of RAM.
const RAM_SECTIONS: u32 = (RAM_SIZE >> 20) as u32;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .arm
    .global _start
_start:
    cpsid aif
    mrs r0, cpsr
    and r0, r0, #0x1f
    cmp r0, #0x13
    bne .Lnot_svc

    // Zero .bss (physical addresses: link address - KBASE).
    ldr r0, =__bss_start
    ldr r1, =__bss_end
    sub r0, r0, #{kbase}
    sub r1, r1, #{kbase}
    mov r2, #0
1:  cmp r0, r1
    strlo r2, [r0], #4
    blo 1b

    // Boot table: RAM at pa and at KBASE + pa, the UART's MiB.
    ldr r4, =PGQ_BOOT_L1
    sub r4, r4, #{kbase}
    ldr r5, ={ram_sect}
    ldr r6, ={ram_start}
    ldr r7, ={ram_sections}
    ldr r10, ={high_off}
2:  orr r8, r6, r5
    add r9, r4, r6, lsr #18
    str r8, [r9]
    str r8, [r9, r10]
    add r6, r6, #0x100000
    subs r7, r7, #1
    bne 2b
    ldr r8, ={uart_sect}
    ldr r9, ={uart_off}
    str r8, [r4, r9]

    // TTBCR.N = 0 (TTBR0 for everything, short descriptors), TTBR0 =
    // TTBR1 = the boot table, DACR, ASID 0; then invalidate the TLB,
    // instruction cache and branch predictor.
    mov r0, #0
    mcr p15, 0, r0, c2, c0, 2
    mcr p15, 0, r4, c2, c0, 0
    mcr p15, 0, r4, c2, c0, 1
    ldr r0, ={dacr}
    mcr p15, 0, r0, c3, c0, 0
    mov r0, #0
    mcr p15, 0, r0, c13, c0, 1
    mcr p15, 0, r0, c8, c7, 0
    mcr p15, 0, r0, c7, c5, 0
    mcr p15, 0, r0, c7, c5, 6
    dsb
    isb

    // SCTLR: M, C, Z, I on; A (alignment), V (high vectors), TRE (TEX
    // remap), AFE (access flag) and TE (Thumb exceptions) off.
    mrc p15, 0, r0, c1, c0, 0
    orr r0, r0, #(1 << 0)
    orr r0, r0, #(1 << 2)
    orr r0, r0, #(1 << 11)
    orr r0, r0, #(1 << 12)
    bic r0, r0, #(1 << 1)
    bic r0, r0, #(1 << 13)
    bic r0, r0, #(1 << 28)
    bic r0, r0, #(1 << 29)
    bic r0, r0, #(1 << 30)
    mcr p15, 0, r0, c1, c0, 0
    isb
    ldr pc, =.Lhigh

.Lnot_svc:
    // Not SVC mode: nothing is set up; leave through semihosting
    // (SYS_EXIT_EXTENDED, ADP_Stopped_ApplicationExit, status 3).
    adr r1, .Lexit_block
    mov r0, #0x20
    svc 0x123456
    b .
    .balign 4
.Lexit_block:
    .word 0x20026
    .word 3

.Lhigh:
    // Stacks of the abort and undefined modes, then SVC's; VBAR.
    cps #0x17
    ldr sp, =PGQ_ABT_STACK + {exc_stack_size}
    cps #0x1b
    ldr sp, =PGQ_UND_STACK + {exc_stack_size}
    cps #0x13
    ldr sp, =PGQ_STACK + {stack_size}
    ldr r0, =pgq_vectors
    mcr p15, 0, r0, c12, c0, 0
    isb
    bl {kmain}
    b .
    .ltorg

    // ---------------------------------------------------------------
    // Exception vectors (VBAR, 32-byte aligned): reset, undefined, SVC,
    // prefetch abort, data abort, unused, IRQ, FIQ.
    .section .text.vectors, "ax"
    .arm
    .balign 32
    .global pgq_vectors
pgq_vectors:
    b .Lvec_reset
    b .Lvec_undef
    b .Lvec_svc
    b .Lvec_pabt
    b .Lvec_dabt
    b .Lvec_unused
    b .Lvec_irq
    b .Lvec_fiq

    // Data abort (abort mode, LR = faulting instruction + 8): a probe's
    // fault is recorded and resumed at the probe's recovery address.
.Lvec_dabt:
    push {{r0-r3}}
    ldr r0, =PGQ_PROBE_FIXUP
    ldr r1, [r0]
    cmp r1, #0
    beq 1f
    mov r2, #0
    str r2, [r0]
    ldr r0, =PGQ_FAULT
    mrc p15, 0, r2, c5, c0, 0
    str r2, [r0]
    mrc p15, 0, r2, c6, c0, 0
    str r2, [r0, #4]
    mov r2, #0
    str r2, [r0, #8]
    ldr r2, [r0, #12]
    add r2, r2, #1
    str r2, [r0, #12]
    bl .Lback_to_svc
    mov lr, r1
    pop {{r0-r3}}
    movs pc, lr
1:  pop {{r0-r3}}
    sub lr, lr, #8
    push {{r0-r12, lr}}
    mov r0, #4
    b .Lfatal

    // Prefetch abort (abort mode, LR = faulting instruction + 4).
.Lvec_pabt:
    push {{r0-r3}}
    ldr r0, =PGQ_PROBE_FIXUP
    ldr r1, [r0]
    cmp r1, #0
    beq 1f
    mov r2, #0
    str r2, [r0]
    ldr r0, =PGQ_FAULT
    mrc p15, 0, r2, c5, c0, 1
    str r2, [r0]
    mrc p15, 0, r2, c6, c0, 2
    str r2, [r0, #4]
    mov r2, #1
    str r2, [r0, #8]
    ldr r2, [r0, #12]
    add r2, r2, #1
    str r2, [r0, #12]
    bl .Lback_to_svc
    mov lr, r1
    pop {{r0-r3}}
    movs pc, lr
1:  pop {{r0-r3}}
    sub lr, lr, #4
    push {{r0-r12, lr}}
    mov r0, #3
    b .Lfatal

.Lvec_reset:
    push {{r0-r12, lr}}
    mov r0, #0
    b .Lfatal
.Lvec_undef:
    sub lr, lr, #4
    push {{r0-r12, lr}}
    mov r0, #1
    b .Lfatal
    // A PL0 probe's User-mode code came back (`svc #0` after its `blx`):
    // the fetch succeeded. Other SVCs (semihosting's `svc 0x123456` is
    // taken by QEMU itself) are fatal.
.Lvec_svc:
    push {{r0-r1}}
    ldr r0, =PGQ_USER_PROBE
    ldr r1, [r0]
    cmp r1, #0
    beq 1f
    mov r1, #0
    str r1, [r0]
    ldr r0, =PGQ_PROBE_FIXUP
    str r1, [r0]
    pop {{r0-r1}}
    b .Luser_probe_done
1:  pop {{r0-r1}}
    sub lr, lr, #4
    push {{r0-r12, lr}}
    mov r0, #2
    b .Lfatal

    // In an abort handler (abort mode, r0 and r2 free): if a PL0 probe was
    // running, clear the flag and make the exception return land in SVC
    // mode, where the probe's recovery code and stack are.
.Lback_to_svc:
    ldr r0, =PGQ_USER_PROBE
    ldr r2, [r0]
    cmp r2, #0
    bxeq lr
    mov r2, #0
    str r2, [r0]
    mrs r2, spsr
    bic r2, r2, #0x1f
    orr r2, r2, #0x13
    msr spsr_cxsf, r2
    bx lr
.Lvec_unused:
    push {{r0-r12, lr}}
    mov r0, #5
    b .Lfatal
.Lvec_irq:
    push {{r0-r12, lr}}
    mov r0, #6
    b .Lfatal
.Lvec_fiq:
    push {{r0-r12, lr}}
    mov r0, #7
    b .Lfatal

.Lfatal:
    mov r1, sp
    mrs r2, spsr
    bl {fatal}
    b .
    .ltorg

    // ---------------------------------------------------------------
    // Probes: one access at an instruction the abort handler may resume
    // after. Return r0 = the loaded value (loads), r1 = 0 done / 1
    // faulted (a u64 in r0:r1).
    .section .text.probe, "ax"
    .arm
    .macro PROBE name, insn
    .global \name
\name:
    ldr r2, =PGQ_PROBE_FIXUP
    adr r3, 8f
    str r3, [r2]
    \insn
    mov r3, #0
    str r3, [r2]
    mov r1, #0
    bx lr
8:  mov r0, #0
    mov r1, #1
    bx lr
    .ltorg
    .endm

    PROBE pgq_probe_ldr, "ldr r0, [r0]"
    PROBE pgq_probe_str, "str r1, [r0]"
    PROBE pgq_probe_ldrt, "ldrt r0, [r0]"
    PROBE pgq_probe_strt, "strt r1, [r0]"

    // Instruction fetch: branch to r0, where a `bx lr` must sit if the
    // fetch is allowed.
    .global pgq_probe_exec
pgq_probe_exec:
    push {{r4, lr}}
    ldr r2, =PGQ_PROBE_FIXUP
    adr r3, 8f
    str r3, [r2]
    blx r0
    ldr r2, =PGQ_PROBE_FIXUP
    mov r3, #0
    str r3, [r2]
    mov r0, #0
    mov r1, #0
    pop {{r4, pc}}
8:  mov r0, #0
    mov r1, #1
    pop {{r4, pc}}
    .ltorg

    // Instruction fetch at PL0: r0 = target, r1 = a User-executable
    // trampoline (`blx r0; svc #0`). Enter User mode there; the SVC vector
    // brings a successful fetch back to .Luser_probe_done, an abort to the
    // recovery label, both in SVC mode with this stack.
    .global pgq_probe_exec_usr
pgq_probe_exec_usr:
    push {{r4, lr}}
    ldr r2, =PGQ_PROBE_FIXUP
    adr r3, 8f
    str r3, [r2]
    ldr r2, =PGQ_USER_PROBE
    mov r3, #1
    str r3, [r2]
    mrs r3, cpsr
    bic r3, r3, #0x1f
    orr r3, r3, #0x10
    msr spsr_cxsf, r3
    mov lr, r1
    movs pc, lr
8:  mov r0, #0
    mov r1, #1
    pop {{r4, pc}}
.Luser_probe_done:
    mov r0, #0
    mov r1, #0
    pop {{r4, pc}}
    .ltorg
"#,
    kbase = const KBASE,
    ram_sect = const BOOT_RAM_SECT,
    ram_start = const RAM_START as u32,
    ram_sections = const RAM_SECTIONS,
    high_off = const BOOT_HIGH_OFF,
    uart_sect = const BOOT_UART_SECT,
    uart_off = const BOOT_UART_OFF,
    dacr = const Arm32::DACR,
    exc_stack_size = const EXC_STACK_SIZE,
    stack_size = const STACK_SIZE,
    kmain = sym crate::kmain,
    fatal = sym pgq_fatal,
);

/// Registers saved by the vector stubs: r0 to r12 and the return address.
#[repr(C)]
pub struct TrapFrame {
    pub r: [u32; 13],
    pub pc: u32,
}

/// An exception nobody expected: print it and fail.
extern "C" fn pgq_fatal(kind: u32, frame: *const TrapFrame, spsr: u32) -> ! {
    // SAFETY: the vector stub passes its own, fully written frame on the
    // exception mode's stack, which stays valid since this never returns.
    let f = unsafe { &*frame };
    let names = [
        "reset",
        "undefined instruction",
        "SVC",
        "prefetch abort",
        "data abort",
        "unused vector",
        "IRQ",
        "FIQ",
    ];
    let (dfsr, dfar, ifsr, ifar) = crate::cpu::fault_registers();
    crate::println!(
        "EXCEPTION {} at pc={:#010x} SPSR={spsr:#x} DFSR={dfsr:#x} DFAR={dfar:#010x} IFSR={ifsr:#x} IFAR={ifar:#010x}",
        names[kind as usize % 8],
        f.pc
    );
    for (i, v) in f.r.iter().enumerate() {
        crate::print!("r{i}={v:#010x} ");
    }
    crate::println!();
    crate::println!("RESULT fail");
    crate::exit::fail()
}

/// The last recovered fault: (status, address, prefetch?) and how many
/// there were.
pub fn last_fault() -> (u32, u32, bool, u32) {
    (
        PGQ_FAULT[0].load(Ordering::SeqCst),
        PGQ_FAULT[1].load(Ordering::SeqCst),
        PGQ_FAULT[2].load(Ordering::SeqCst) == 1,
        PGQ_FAULT[3].load(Ordering::SeqCst),
    )
}

// Linker symbols.
extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// The kernel image's virtual range.
pub fn kernel_image() -> (u32, u32) {
    // Only the addresses of the linker-script symbols are taken.
    (
        core::ptr::addr_of!(__kernel_start) as u32,
        core::ptr::addr_of!(__kernel_end) as u32,
    )
}

/// Physical address of the boot table (TTBR0 at boot).
pub fn boot_root() -> u32 {
    core::ptr::addr_of!(PGQ_BOOT_L1) as u32 - KBASE
}
