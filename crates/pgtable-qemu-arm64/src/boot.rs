//! Entry, boot page tables, exception vectors and the probe primitives
//! (loads, stores and instruction fetches).
//!
//! QEMU's `virt` machine starts the CPU at EL1 (no `virtualization=on`),
//! MMU off, at the ELF entry point, which the linker script sets to the
//! *physical* address of [`_start`]. The kernel is linked at
//! `KBASE + physical`, so until the MMU is on only PC-relative addressing
//! (`adr`/`adrp`) may be used; both give physical addresses then.
//!
//! The boot tables are one level-1 table (1 GiB blocks) whose entry 0 maps
//! physical `[0, 1 GiB)` (flash, GIC, PL011 ...) as Device-nGnRE and entry 1
//! maps RAM `[1 GiB, 2 GiB)` as Normal write-back. With 39-bit VAs it is the
//! root of both TTBR0 and TTBR1 (start level 1); with 48-bit VAs a level-0
//! table points at it from entry 0 (identity, TTBR0) and entry 511
//! (`KBASE = 0xffff_ff80_0000_0000`, TTBR1); with 52-bit VAs (FEAT_LPA2) a
//! level -1 table (16 entries used) points at that level-0 table from
//! entry 0 and entry 15. In every case `KBASE + pa` and `pa` resolve
//! through the same level-1 slots, so the identity half covers the
//! instruction that turns the MMU on and the upper half everything after
//! the jump to the linked addresses.
//!
//! 52-bit needs no switch of translation regime: TCR_EL1 (with DS = 1) is
//! written while the MMU is still off, so the boot tables are built in the
//! LPA2 format from the start (no SH in bits 9:8, which are OA\[51:50\]).
//! Before that, the 52-bit image checks ID_AA64MMFR0_EL1.TGran4 = 0b0001
//! (FEAT_LPA2 with 4 KiB granules); without it, DS would be RES0 and
//! T1SZ = 12 out of range, so it reports `UNSUPPORTED FEAT_LPA2` on the
//! PL011 and exits with the failure status.

use crate::cpu::{MAIR, TCR_BOOT};
use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

pub use crate::frame::KBASE;
/// Boot stack size.
const STACK_SIZE: usize = 256 * 1024;

/// A 4 KiB aligned page.
#[repr(C, align(4096))]
pub struct Page(pub [u64; 512]);

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

#[no_mangle]
static mut PGQ_BOOT_LM1: Page = Page([0; 512]);
#[no_mangle]
static mut PGQ_BOOT_L0: Page = Page([0; 512]);
#[no_mangle]
static mut PGQ_BOOT_L1: Page = Page([0; 512]);
#[no_mangle]
static mut PGQ_STACK: Stack = Stack([0; STACK_SIZE]);

/// Recovery address of the probe in progress (0: none). Written by the
/// probe functions, read and cleared by the synchronous exception handler.
#[no_mangle]
static PGQ_PROBE_FIXUP: AtomicU64 = AtomicU64::new(0);
/// The last recovered fault: ESR_EL1, FAR_EL1, and a running count.
#[no_mangle]
static PGQ_FAULT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// SH = inner shareable in block descriptors; with LPA2 these bits are
/// OA\[51:50\] and TCR_EL1.SH1 gives the shareability instead.
const BOOT_SH: u64 = if crate::cpu::LPA2 { 0 } else { 3 << 8 };
/// Descriptor of the boot level-1 block for RAM: valid block, AttrIndx 0
/// (Normal WB), inner shareable, AF, EL1 read-write, UXN.
const BOOT_RAM_BLOCK: u64 = 0x4000_0000 | 1 | BOOT_SH | (1 << 10) | (1 << 54);
/// Descriptor of the boot level-1 block for devices: AttrIndx 4
/// (Device-nGnRE), AF, PXN, UXN.
const BOOT_DEV_BLOCK: u64 = 1 | (4 << 2) | (1 << 10) | (1 << 53) | (1 << 54);
/// 1 with 48- and 52-bit VAs (a level-0 boot table), 0 with 39-bit.
const BOOT_HAS_L0: u64 = (crate::cpu::VA_BITS > 39) as u64;
/// 1 with 52-bit VAs (a level -1 boot table), 0 otherwise.
const BOOT_HAS_LM1: u64 = crate::cpu::LPA2 as u64;
/// Entry of the kernel's level-0 slot (`KBASE`, VA\[51:48\] = 0xf) in the
/// level -1 boot table.
const BOOT_LM1_KERNEL: u64 = (KBASE >> 48) & 0xf;

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    msr daifset, #0xf
    mrs x9, CurrentEL
    lsr x9, x9, #2
    cmp x9, #1
    b.ne .Lnot_el1

    // The 52-bit image needs FEAT_LPA2 for 4 KiB granules:
    // ID_AA64MMFR0_EL1.TGran4 (bits 31:28) = 0b0001.
    mov x13, #{has_lm1}
    cbz x13, 0f
    mrs x11, ID_AA64MMFR0_EL1
    ubfx x11, x11, #28, #4
    cmp x11, #1
    b.ne .Lno_lpa2
0:
    // FP/SIMD at EL1 and EL0 (the compiled code uses SIMD registers).
    mov x9, #(3 << 20)
    msr cpacr_el1, x9
    isb

    // Zero .bss (physical addresses: adrp is PC-relative).
    adrp x9, __bss_start
    add x9, x9, :lo12:__bss_start
    adrp x10, __bss_end
    add x10, x10, :lo12:__bss_end
1:  cmp x9, x10
    b.hs 2f
    stp xzr, xzr, [x9], #16
    b 1b
2:
    // Boot tables.
    adrp x9, PGQ_BOOT_L1
    ldr x11, ={dev}
    str x11, [x9]
    ldr x11, ={ram}
    str x11, [x9, #8]
    mov x12, x9
    mov x13, #{has_l0}
    cbz x13, 3f
    adrp x12, PGQ_BOOT_L0
    orr x11, x9, #3
    str x11, [x12]
    str x11, [x12, #(511 * 8)]
    mov x13, #{has_lm1}
    cbz x13, 3f
    mov x9, x12
    adrp x12, PGQ_BOOT_LM1
    orr x11, x9, #3
    str x11, [x12]
    str x11, [x12, #({lm1_kernel} * 8)]
3:  dsb sy
    msr ttbr0_el1, x12
    msr ttbr1_el1, x12
    ldr x11, ={mair}
    msr mair_el1, x11
    ldr x11, ={tcr}
    msr tcr_el1, x11
    isb
    tlbi vmalle1
    dsb nsh
    isb
    // PSTATE.PAN = 0 when FEAT_PAN exists (MSR PAN, #0).
    mrs x11, ID_AA64MMFR1_EL1
    ubfx x11, x11, #20, #4
    cbz x11, 4f
    .inst 0xd500409f
4:
    mrs x11, sctlr_el1
    orr x11, x11, #(1 << 0)     // M: stage 1 translation on
    orr x11, x11, #(1 << 2)     // C: data caching
    orr x11, x11, #(1 << 12)    // I: instruction caching
    orr x11, x11, #(1 << 23)    // SPAN: exceptions leave PSTATE.PAN alone
    bic x11, x11, #(1 << 1)     // A: no alignment checks on Normal memory
    bic x11, x11, #(1 << 19)    // WXN off
    msr sctlr_el1, x11
    isb
    ldr x11, =.Lhigh
    br x11

.Lnot_el1:
    // Not EL1: nothing is set up; leave through semihosting with status 3.
    adr x1, .Lexit_block
    mov x0, #0x18
    hlt #0xf000
    b .
    .balign 8
.Lexit_block:
    .quad 0x20026
    .quad 3

.Lno_lpa2:
    // MMU off: the PL011 at its physical address, the message PC-relative.
    adr x9, .Lno_lpa2_msg
    ldr x10, ={uart}
5:  ldrb w11, [x9], #1
    cbz w11, 6f
    strb w11, [x10]
    b 5b
6:  adr x1, .Lfail_block
    mov x0, #0x18
    hlt #0xf000
    b .
    .balign 8
.Lfail_block:
    .quad 0x20026
    .quad {fail}
.Lno_lpa2_msg:
    .asciz "MODE arm64/52-bit\nUNSUPPORTED FEAT_LPA2: ID_AA64MMFR0_EL1.TGran4 is not 0b0001 (no 52-bit VAs with 4 KiB pages on this CPU)\nRESULT fail\n"
    .balign 4

.Lhigh:
    ldr x9, =PGQ_STACK + {stack_size}
    mov sp, x9
    ldr x9, =pgq_vectors
    msr vbar_el1, x9
    isb
    bl {kmain}
    b .
    .ltorg

    // ---------------------------------------------------------------
    // Exception vectors: 16 entries of 0x80 bytes, 2 KiB aligned.
    .section .text.vectors, "ax"
    .balign 2048
    .global pgq_vectors
pgq_vectors:
    .irp kind, 0, 1, 2, 3
    .balign 0x80
    sub sp, sp, #(34 * 8)
    stp x0, x1, [sp]
    mov x0, #\kind
    b pgq_trap_common
    .endr

    // Current EL with SP_EL1, synchronous: a probe's fault is recorded
    // and resumed at the probe's recovery address.
    .balign 0x80
    stp x9, x10, [sp, #-16]!
    adrp x9, PGQ_PROBE_FIXUP
    ldr x10, [x9, :lo12:PGQ_PROBE_FIXUP]
    cbz x10, 1f
    str xzr, [x9, :lo12:PGQ_PROBE_FIXUP]
    msr elr_el1, x10
    adrp x9, PGQ_FAULT
    add x9, x9, :lo12:PGQ_FAULT
    mrs x10, esr_el1
    str x10, [x9]
    mrs x10, far_el1
    str x10, [x9, #8]
    ldr x10, [x9, #16]
    add x10, x10, #1
    str x10, [x9, #16]
    ldp x9, x10, [sp], #16
    eret
1:  ldp x9, x10, [sp], #16
    sub sp, sp, #(34 * 8)
    stp x0, x1, [sp]
    mov x0, #4
    b pgq_trap_common

    .irp kind, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 0x80
    sub sp, sp, #(34 * 8)
    stp x0, x1, [sp]
    mov x0, #\kind
    b pgq_trap_common
    .endr

    .balign 0x80
pgq_trap_common:
    stp x2, x3, [sp, #(2 * 8)]
    stp x4, x5, [sp, #(4 * 8)]
    stp x6, x7, [sp, #(6 * 8)]
    stp x8, x9, [sp, #(8 * 8)]
    stp x10, x11, [sp, #(10 * 8)]
    stp x12, x13, [sp, #(12 * 8)]
    stp x14, x15, [sp, #(14 * 8)]
    stp x16, x17, [sp, #(16 * 8)]
    stp x18, x19, [sp, #(18 * 8)]
    stp x20, x21, [sp, #(20 * 8)]
    stp x22, x23, [sp, #(22 * 8)]
    stp x24, x25, [sp, #(24 * 8)]
    stp x26, x27, [sp, #(26 * 8)]
    stp x28, x29, [sp, #(28 * 8)]
    mrs x9, elr_el1
    stp x30, x9, [sp, #(30 * 8)]
    mrs x9, esr_el1
    mrs x10, far_el1
    stp x9, x10, [sp, #(32 * 8)]
    mov x1, sp
    bl {fatal}
    b .

    // ---------------------------------------------------------------
    // Probes: one access at an instruction the handler may resume after.
    // Return x0 = the loaded value (loads), x1 = 0 done / 1 faulted.
    .section .text.probe, "ax"
    .macro PROBE name, insn
    .global \name
\name:
    adr x9, 8f
    adrp x10, PGQ_PROBE_FIXUP
    str x9, [x10, :lo12:PGQ_PROBE_FIXUP]
    \insn
    str xzr, [x10, :lo12:PGQ_PROBE_FIXUP]
    mov x1, #0
    ret
8:  mov x0, #0
    mov x1, #1
    ret
    .endm

    PROBE pgq_probe_ldr, "ldr x0, [x0]"
    PROBE pgq_probe_str, "str x1, [x0]"
    PROBE pgq_probe_ldtr, "ldtr x0, [x0]"
    PROBE pgq_probe_sttr, "sttr x1, [x0]"

    // Fetch probe: `blr` to x0 (a page's fetch stub, which sets x0 and
    // returns to x30), or the instruction abort at x0 resumes at 8f.
    // x30 is saved on the stack (the handler leaves sp as it found it).
    .global pgq_probe_fetch
pgq_probe_fetch:
    stp x29, x30, [sp, #-16]!
    adr x9, 8f
    adrp x10, PGQ_PROBE_FIXUP
    str x9, [x10, :lo12:PGQ_PROBE_FIXUP]
    blr x0
    adrp x10, PGQ_PROBE_FIXUP
    str xzr, [x10, :lo12:PGQ_PROBE_FIXUP]
    mov x1, #0
    ldp x29, x30, [sp], #16
    ret
8:  mov x0, #0
    mov x1, #1
    ldp x29, x30, [sp], #16
    ret
"#,
    dev = const BOOT_DEV_BLOCK,
    ram = const BOOT_RAM_BLOCK,
    has_l0 = const BOOT_HAS_L0,
    has_lm1 = const BOOT_HAS_LM1,
    lm1_kernel = const BOOT_LM1_KERNEL,
    uart = const crate::uart::UART_PA,
    fail = const crate::exit::FAIL,
    mair = const MAIR,
    tcr = const TCR_BOOT,
    stack_size = const STACK_SIZE,
    kmain = sym crate::kmain,
    fatal = sym pgq_fatal,
);

/// Registers saved by the vector stubs.
#[repr(C)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub esr: u64,
    pub far: u64,
}

/// An exception nobody expected: print it and fail.
extern "C" fn pgq_fatal(kind: u64, frame: *const TrapFrame) -> ! {
    // SAFETY: the vector stub passes its own, fully written frame on the
    // stack, which stays valid since this function never returns.
    let f = unsafe { &*frame };
    let names = ["sync", "irq", "fiq", "serror"];
    let from = ["EL1/SP0", "EL1/SPx", "EL0/A64", "EL0/A32"];
    crate::println!(
        "EXCEPTION {} from {}: ESR_EL1={:#x} (EC {:#x}) FAR_EL1={:#x} ELR_EL1={:#x}",
        names[(kind % 4) as usize],
        from[(kind / 4) as usize % 4],
        f.esr,
        f.esr >> 26,
        f.far,
        f.elr
    );
    for (i, pair) in f.x.chunks(4).enumerate() {
        crate::print!("  ");
        for (j, v) in pair.iter().enumerate() {
            crate::print!("x{:<2}={:#018x} ", i * 4 + j, v);
        }
        crate::println!();
    }
    crate::println!("RESULT fail");
    crate::exit::fail()
}

/// The last recovered fault (ESR_EL1, FAR_EL1) and how many there were.
pub fn last_fault() -> (u64, u64, u64) {
    (
        PGQ_FAULT[0].load(Ordering::SeqCst),
        PGQ_FAULT[1].load(Ordering::SeqCst),
        PGQ_FAULT[2].load(Ordering::SeqCst),
    )
}

// Linker symbols.
extern "C" {
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// The kernel image's virtual range.
pub fn kernel_image() -> (u64, u64) {
    // Only the addresses of the linker-script symbols are taken.
    (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    )
}

/// Physical address of the boot tables' root (TTBR0 and TTBR1 at boot).
pub fn boot_root() -> u64 {
    let va = if BOOT_HAS_LM1 == 1 {
        core::ptr::addr_of!(PGQ_BOOT_LM1) as u64
    } else if BOOT_HAS_L0 == 1 {
        core::ptr::addr_of!(PGQ_BOOT_L0) as u64
    } else {
        core::ptr::addr_of!(PGQ_BOOT_L1) as u64
    };
    va - KBASE
}
