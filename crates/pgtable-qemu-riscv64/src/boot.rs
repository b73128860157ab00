//! Entry, boot page table, trap handler and the probe primitives.
//!
//! OpenSBI's `fw_dynamic` enters the kernel at the ELF entry (the *physical*
//! address of [`_start`], 0x8020_0000) in S-mode with satp = 0 (Bare),
//! a0 = hart id, a1 = the device tree. The kernel is linked at
//! `KBASE + physical`, so until the jump only PC-relative addressing
//! (`la`, which is `auipc`-based under the medany code model) is used; it
//! yields physical addresses then and virtual ones after.
//!
//! The boot table is one Sv39 root with two 1 GiB leaves (RWX, A, D) for
//! physical `[2 GiB, 3 GiB)` (all RAM of `-m 512M`): slot 2 (identity, for
//! the instruction after the satp write) and slot 510 (`KBASE + pa`).
//!
//! The trap handler (stvec, direct mode) recovers from a probe's fault:
//! when a probe is armed it records scause, stval and a count, disarms,
//! and resumes at the instruction after the faulting one (sepc += 2 for a
//! compressed instruction, whose low two bits are not 0b11, else 4). Any
//! other trap is fatal.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// Virtual base of the kernel's view of physical memory: `KBASE + pa`.
pub const KBASE: u64 = 0xffff_ffff_0000_0000;
/// Boot stack size.
const STACK_SIZE: usize = 256 * 1024;
/// Boot leaf for `[2 GiB, 3 GiB)`: PPN, V, R, W, X, A, D.
const BOOT_LEAF: u64 = ((0x8000_0000u64 >> 12) << 10) | 0xcf;
/// satp.MODE for Sv39.
const SATP_SV39: u64 = 8 << 60;

/// Whether a data probe (1) or a fetch probe (2) is armed, or none (0). Written by the probe functions,
/// cleared by the trap handler when it recovers.
#[no_mangle]
static PGQ_PROBE_ARMED: AtomicU64 = AtomicU64::new(0);
/// The last recovered fault: scause, stval, and a running count.
#[no_mangle]
static PGQ_FAULT: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
/// Scratch space for the trap handler (t1, t2).
#[no_mangle]
static PGQ_TRAP_SAVE: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
_start:
    .option push
    .option norelax
    csrw sie, zero
    csrci sstatus, 2
    // Boot root (physical: la is PC-relative and the MMU is off).
    la t0, PGQ_BOOT_ROOT
    li t1, {leaf}
    sd t1, 16(t0)
    li t2, 510 * 8
    add t2, t2, t0
    sd t1, 0(t2)
    srli t1, t0, 12
    li t2, {sv39}
    or t1, t1, t2
    sfence.vma
    csrw satp, t1
    sfence.vma
    // Jump to the linked (upper-half) address.
    la t0, 1f
    li t1, {kbase}
    add t0, t0, t1
    jr t0
1:
    // Zero .bss (the stack is in it; nothing uses it yet).
    la t0, __bss_start
    la t1, __bss_end
2:  bgeu t0, t1, 3f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 2b
3:
    la sp, PGQ_STACK
    li t0, {stack_size}
    add sp, sp, t0
    la t0, pgq_trap
    csrw stvec, t0
    call {kmain}
4:  wfi
    j 4b
    .option pop

    .section .data.bootpt, "aw"
    .balign 4096
    .global PGQ_BOOT_ROOT
PGQ_BOOT_ROOT:
    .zero 4096

    .section .bss.stack, "aw", @nobits
    .balign 16
PGQ_STACK:
    .zero {stack_size}

    // ---------------------------------------------------------------
    .section .text.trap, "ax"
    .balign 4
    .global pgq_trap
pgq_trap:
    csrw sscratch, t0
    la t0, PGQ_TRAP_SAVE
    sd t1, 0(t0)
    sd t2, 8(t0)
    la t1, PGQ_PROBE_ARMED
    ld t2, 0(t1)
    beqz t2, 8f
    sd zero, 0(t1)
    addi t2, t2, -1
    beqz t2, 4f
    // A fetch probe (armed = 2): resume at pgq_fetch_resume in S-mode
    // (the trap may come from U-mode). sepc is not read: it may be the
    // address whose fetch faulted.
    la t1, pgq_fetch_resume
    csrw sepc, t1
    li t1, 0x100
    csrs sstatus, t1
    j 6f
    // Skip the faulting instruction: 2 bytes if compressed, else 4.
4:  csrr t1, sepc
    lhu t2, 0(t1)
    andi t2, t2, 3
    addi t1, t1, 2
    xori t2, t2, 3
    bnez t2, 5f
    addi t1, t1, 2
5:  csrw sepc, t1
6:  la t1, PGQ_FAULT
    csrr t2, scause
    sd t2, 0(t1)
    csrr t2, stval
    sd t2, 8(t1)
    ld t2, 16(t1)
    addi t2, t2, 1
    sd t2, 16(t1)
    ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, sscratch
    sret
8:  ld t1, 0(t0)
    ld t2, 8(t0)
    csrr t0, sscratch
    csrr a0, scause
    csrr a1, stval
    csrr a2, sepc
    mv a3, sp
    call {fatal}
9:  j 9b

    // ---------------------------------------------------------------
    // Probes: one access that may fault. a0 = va (a1 = value for stores);
    // return a0 = loaded value, a1 = 0 done / 1 faulted. The load is a
    // compressed c.ld and the store a full sd, so the handler's 2- and
    // 4-byte skips are both exercised.
    .section .text.probe, "ax"
    .global pgq_probe_ld
pgq_probe_ld:
    .option push
    .option norvc
    la t1, PGQ_PROBE_ARMED
    li t2, 1
    sd t2, 0(t1)
    .option rvc
    c.ld a0, 0(a0)
    .option norvc
    ld a1, 0(t1)
    sd zero, 0(t1)
    xori a1, a1, 1
    ret
    .option pop

    .global pgq_probe_sd
pgq_probe_sd:
    .option push
    .option norvc
    la t1, PGQ_PROBE_ARMED
    li t2, 1
    sd t2, 0(t1)
    sd a1, 0(a0)
    ld a1, 0(t1)
    sd zero, 0(t1)
    xori a1, a1, 1
    li a0, 0
    ret
    .option pop

    // Fetch probe: a0 = target, a1 = 0 (S-mode) or 1 (U-mode); returns
    // a0 = what the target's stub left there, a1 = 0 returned / 1 trapped.
    // S-mode calls the target, whose stub returns. U-mode enters it with
    // sret (SPP = 0) and ra = pgq_fetch_resume: the stub's return then
    // fetches kernel text in U-mode and traps, the handler sending both
    // that trap and a fault at the target to pgq_fetch_resume in S-mode;
    // the Rust side tells them apart by stval.
    .global pgq_probe_fetch
pgq_probe_fetch:
    .option push
    .option norvc
    addi sp, sp, -16
    sd ra, 0(sp)
    la t1, PGQ_PROBE_ARMED
    li t2, 2
    sd t2, 0(t1)
    bnez a1, 1f
    jalr ra, 0(a0)
    j pgq_fetch_resume
1:  la ra, pgq_fetch_resume
    csrw sepc, a0
    li t2, 0x100
    csrc sstatus, t2
    sret
    .global pgq_fetch_resume
pgq_fetch_resume:
    la t1, PGQ_PROBE_ARMED
    ld a1, 0(t1)
    sd zero, 0(t1)
    seqz a1, a1
    ld ra, 0(sp)
    addi sp, sp, 16
    ret
    .option pop
"#,
    leaf = const BOOT_LEAF,
    sv39 = const SATP_SV39,
    kbase = const KBASE,
    stack_size = const STACK_SIZE,
    kmain = sym crate::kmain,
    fatal = sym pgq_fatal,
);

/// A trap nobody expected: print it and fail.
extern "C" fn pgq_fatal(scause: u64, stval: u64, sepc: u64, sp: u64) -> ! {
    crate::println!(
        "EXCEPTION scause={scause:#x} stval={stval:#x} sepc={sepc:#x} sp={sp:#x} satp={:#x}",
        riscv::register::satp::read().bits()
    );
    crate::println!("RESULT fail");
    crate::console::fail()
}

/// The last recovered fault (scause, stval) and how many there were.
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
    static PGQ_BOOT_ROOT: u8;
}

/// The kernel image's virtual range.
pub fn kernel_image() -> (u64, u64) {
    // Only the addresses of the linker-script symbols are taken.
    (
        core::ptr::addr_of!(__kernel_start) as u64,
        core::ptr::addr_of!(__kernel_end) as u64,
    )
}

/// Physical address of the boot root.
pub fn boot_root() -> u64 {
    // Only the address of the assembly symbol is taken.
    core::ptr::addr_of!(PGQ_BOOT_ROOT) as u64 - KBASE
}
