//! 32-bit PVH entry and the trampoline to 64-bit long mode.
//!
//! QEMU (`-kernel kernel.elf`) finds the Xen PVH ELF note below, loads the
//! image at its physical addresses and jumps to `pvh_start32` in 32-bit
//! protected mode, paging off, with `ebx` = physical address of the
//! `hvm_start_info` structure.
//!
//! The trampoline:
//! 1. zeroes `.bss` (boot page tables, boot stack, Rust statics),
//! 2. builds identity-mapped boot tables for the first 4 GiB with 2 MiB pages
//!    (present, writable, supervisor, executable),
//! 3. picks 4- or 5-level paging: 5-level only if the kernel was built with
//!    the `la57` cargo feature AND CPUID.7.0:ECX[16] reports LA57,
//! 4. sets CR4.PAE|OSFXSR|OSXMMEXCPT (+LA57), CR3, EFER.LME (+NXE if CPUID
//!    has NX), CR0.PG|WP|MP|PE with CR0.EM clear (SSE usable; the kernel's
//!    Rust code has none, its target being soft-float, but the `cpu_state`
//!    self-test checks this state),
//! 5. far-jumps to 64-bit code and calls
//!    `kmain(start_info_pa: u32, la57_active: bool)` on the boot stack.
//!
//! Boot tables: `boot_pml4` -> `boot_pdpt` -> `boot_pd` (4 pages, 2048
//! entries x 2 MiB = VA [0, 4 GiB) -> PA [0, 4 GiB)); in 5-level mode
//! `boot_pml5[0]` -> `boot_pml4`. Everything else is not present.
//!
//! All of this stays hand-written assembly: it runs in 32-bit protected
//! mode with paging off, before any Rust code can (the kernel is compiled
//! for 64-bit long mode), and the PVH note must name its address. Its
//! no-long-mode exit writes COM1 and the isa-debug-exit port directly for
//! the same reason.

use core::arch::global_asm;

/// 1 when the image asks the trampoline for 5-level paging.
pub const LA57_REQUESTED: bool = cfg!(feature = "la57");

/// Size of the boot stack that `kmain` and everything it calls run on.
pub const BOOT_STACK_SIZE: usize = 256 * 1024;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4                      # namesz: "Xen\0"
    .long 8                      # descsz
    .long 18                     # XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .p2align 2
    .quad pvh_start32
    .p2align 2

    .section .bss.boot, "aw", @nobits
    .p2align 12
    .global boot_pml5
boot_pml5:
    .skip 4096
    .global boot_pml4
boot_pml4:
    .skip 4096
boot_pdpt:
    .skip 4096
boot_pd:
    .skip 4 * 4096
    .p2align 4
boot_stack:
    .skip {stack_size}
    .global boot_stack_top
boot_stack_top:

    .section .rodata.boot, "a", @progbits
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff     # 0x08: 64-bit code, DPL 0
    .quad 0x00cf92000000ffff     # 0x10: data, DPL 0
boot_gdt_end:
    .p2align 1
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt
boot_msg_nolm:
    .asciz "boot: CPU has no long mode\n"

    .section .text.boot, "ax", @progbits
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi              # hvm_start_info, kept in esi until kmain

    # Zero .bss: page tables, stacks and Rust statics start out as zero.
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    movl $boot_stack_top, %esp

    # Long mode must exist; keep CPUID 0x80000001 EDX (NX = bit 20) on the stack.
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb .Lboot_no_lm
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz .Lboot_no_lm
    pushl %edx

    # Boot PDs: 2048 entries of 2 MiB, identity, P|RW|PS.
    movl $boot_pd, %edi
    movl $0x83, %eax
    movl $2048, %ecx
.Lboot_fill_pd:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop .Lboot_fill_pd

    # PDPT[0..4] -> the four PDs, P|RW.
    movl $boot_pd + 3, %eax
    movl $boot_pdpt, %edi
    movl $4, %ecx
.Lboot_fill_pdpt:
    movl %eax, (%edi)
    addl $0x1000, %eax
    addl $8, %edi
    loop .Lboot_fill_pdpt

    movl $boot_pdpt + 3, boot_pml4
    movl $boot_pml4 + 3, boot_pml5

    # 5-level only if requested at build time and CPUID.7.0:ECX[16] is set.
    xorl %ebp, %ebp
    movl ${la57_requested}, %eax
    testl %eax, %eax
    jz .Lboot_la57_done
    xorl %eax, %eax
    cpuid
    cmpl $7, %eax
    jb .Lboot_la57_done
    movl $7, %eax
    xorl %ecx, %ecx
    cpuid
    testl $(1 << 16), %ecx
    jz .Lboot_la57_done
    movl $1, %ebp
.Lboot_la57_done:

    # CR4: PAE | OSFXSR | OSXMMEXCPT, plus LA57 (bit 12) for 5-level.
    movl %cr4, %eax
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    testl %ebp, %ebp
    jz .Lboot_cr4
    orl $(1 << 12), %eax
.Lboot_cr4:
    movl %eax, %cr4

    movl $boot_pml4, %eax
    testl %ebp, %ebp
    jz .Lboot_cr3
    movl $boot_pml5, %eax
.Lboot_cr3:
    movl %eax, %cr3

    # EFER: LME, plus NXE when the CPU has NX.
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    popl %edx
    testl $(1 << 20), %edx
    jz .Lboot_efer
    orl $(1 << 11), %eax
.Lboot_efer:
    wrmsr

    # CR0: PG | WP | MP | PE, EM clear.
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $0x80010003, %eax
    movl %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $pvh_start64

.Lboot_no_lm:
    movl $boot_msg_nolm, %esi
    movw $0x3f8, %dx
.Lboot_puts:
    lodsb
    testb %al, %al
    jz .Lboot_exit
    outb %al, %dx
    jmp .Lboot_puts
.Lboot_exit:
    movw $0xf4, %dx
    movl $0x11, %eax
    outl %eax, %dx
.Lboot_halt:
    hlt
    jmp .Lboot_halt

    .code64
pvh_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq $boot_stack_top, %rsp
    movl %esi, %edi              # arg 0: start_info_pa
    movl %ebp, %esi              # arg 1: la57_active
    xorl %ebp, %ebp
    call kmain
.Lboot_hang:
    hlt
    jmp .Lboot_hang
"#,
    stack_size = const BOOT_STACK_SIZE,
    la57_requested = const LA57_REQUESTED as u32,
    options(att_syntax)
);

extern "C" {
    static boot_pml4: u8;
    static boot_pml5: u8;
    static boot_stack_top: u8;
    static __kernel_start: u8;
    static __kernel_end: u8;
}

/// Physical (= virtual) address of the boot top-level table loaded in CR3.
pub fn boot_top_table(la57_active: bool) -> u64 {
    // Only the addresses of asm-defined symbols are taken (no unsafe needed).
    if la57_active {
        &raw const boot_pml5 as u64
    } else {
        &raw const boot_pml4 as u64
    }
}

/// Physical range `[start, end)` of the kernel image (text, data, bss with
/// boot tables and stacks), page aligned.
pub fn kernel_image() -> (u64, u64) {
    (
        &raw const __kernel_start as u64,
        &raw const __kernel_end as u64,
    )
}

/// Top of the boot stack (it grows down `BOOT_STACK_SIZE` bytes).
pub fn boot_stack_top_addr() -> u64 {
    &raw const boot_stack_top as u64
}
