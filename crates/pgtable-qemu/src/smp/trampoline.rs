//! The application processors' way from real mode to the kernel.
//!
//! After INIT-SIPI-SIPI an AP starts in 16-bit real mode at `vector << 12`,
//! below 1 MiB. The kernel is linked at 1 MiB and the APs share nothing
//! with the 32-bit PVH entry (`boot.rs`), so this trampoline is assembled
//! into `.rodata`, copied to [`AP_BASE`] and run there. It loads its own
//! GDT, enters protected mode, sets CR4, CR3, EFER and CR0 from a parameter
//! block the BSP fills (the BSP's own values, so the AP joins the BSP's
//! address space and paging mode), far-jumps to 64-bit code and calls the
//! Rust entry with the CPU's index on a stack the BSP allocated.
//!
//! Hand-written assembly: it runs in real and protected mode, before any
//! Rust code can, at an address it was not linked for (every absolute
//! address in it is `AP_BASE` plus an offset inside the trampoline).

use core::arch::global_asm;
use core::ptr;

/// Physical (= virtual, identity-mapped) address the trampoline runs at:
/// conventional memory above the PVH boot data QEMU leaves near 0x2000
/// (which `memmap::parse` has copied by then), outside the frame allocator
/// (which starts at the kernel image's end).
pub const AP_BASE: u64 = 0x8000;
/// The STARTUP IPI's vector: the page number of [`AP_BASE`].
pub const SIPI_VECTOR: u8 = (AP_BASE >> 12) as u8;

global_asm!(
    r#"
    .set PGQ_AP_BASE, {base}
    .section .rodata.ap_trampoline, "a", @progbits
    .p2align 12
    .global pgq_ap_tramp_start
pgq_ap_tramp_start:
    .code16
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl PGQ_AP_BASE + pgq_ap_gdt_ptr - pgq_ap_tramp_start
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $(PGQ_AP_BASE + pgq_ap_pm32 - pgq_ap_tramp_start)

    .code32
pgq_ap_pm32:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    # CR4 first (PAE, and LA57 if the BSP runs 5-level: it can only be set
    # with paging off), then CR3, EFER.LME/NXE, and CR0.PG last.
    movl PGQ_AP_BASE + pgq_ap_param_cr4 - pgq_ap_tramp_start, %eax
    movl %eax, %cr4
    movl PGQ_AP_BASE + pgq_ap_param_cr3 - pgq_ap_tramp_start, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl PGQ_AP_BASE + pgq_ap_param_efer - pgq_ap_tramp_start, %eax
    wrmsr
    movl PGQ_AP_BASE + pgq_ap_param_cr0 - pgq_ap_tramp_start, %eax
    movl %eax, %cr0
    ljmpl $0x18, $(PGQ_AP_BASE + pgq_ap_lm64 - pgq_ap_tramp_start)

    .code64
pgq_ap_lm64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movq PGQ_AP_BASE + pgq_ap_param_stack - pgq_ap_tramp_start, %rsp
    movq PGQ_AP_BASE + pgq_ap_param_cpu - pgq_ap_tramp_start, %rdi
    movq PGQ_AP_BASE + pgq_ap_param_entry - pgq_ap_tramp_start, %rax
    xorl %ebp, %ebp
    callq *%rax
1:
    hlt
    jmp 1b

    .p2align 3
pgq_ap_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff     # 0x08: 32-bit code
    .quad 0x00cf92000000ffff     # 0x10: data
    .quad 0x00af9a000000ffff     # 0x18: 64-bit code
pgq_ap_gdt_end:
    .p2align 1
pgq_ap_gdt_ptr:
    .word pgq_ap_gdt_end - pgq_ap_gdt - 1
    .long PGQ_AP_BASE + pgq_ap_gdt - pgq_ap_tramp_start

    # The parameter block the BSP fills before each STARTUP.
    .p2align 3
    .global pgq_ap_param_cr3
pgq_ap_param_cr3:
    .quad 0
    .global pgq_ap_param_cr4
pgq_ap_param_cr4:
    .quad 0
    .global pgq_ap_param_cr0
pgq_ap_param_cr0:
    .quad 0
    .global pgq_ap_param_efer
pgq_ap_param_efer:
    .quad 0
    .global pgq_ap_param_stack
pgq_ap_param_stack:
    .quad 0
    .global pgq_ap_param_cpu
pgq_ap_param_cpu:
    .quad 0
    .global pgq_ap_param_entry
pgq_ap_param_entry:
    .quad 0
    .global pgq_ap_tramp_end
pgq_ap_tramp_end:
    .code64
"#,
    base = const AP_BASE,
    options(att_syntax)
);

extern "C" {
    static pgq_ap_tramp_start: u8;
    static pgq_ap_tramp_end: u8;
    static pgq_ap_param_cr3: u8;
    static pgq_ap_param_cr4: u8;
    static pgq_ap_param_cr0: u8;
    static pgq_ap_param_efer: u8;
    static pgq_ap_param_stack: u8;
    static pgq_ap_param_cpu: u8;
    static pgq_ap_param_entry: u8;
}

/// What an AP loads on its way up.
pub struct Params {
    pub cr3: u64,
    pub cr4: u64,
    pub cr0: u64,
    /// Bits ORed into EFER (LME, NXE).
    pub efer: u64,
    pub stack_top: u64,
    pub cpu: u64,
    pub entry: u64,
}

fn start() -> u64 {
    &raw const pgq_ap_tramp_start as u64
}

/// Length of the trampoline image.
pub fn len() -> u64 {
    &raw const pgq_ap_tramp_end as u64 - start()
}

/// Copy the trampoline to [`AP_BASE`].
pub fn install() {
    let src = start() as *const u8;
    // SAFETY: the source is the trampoline's bytes in the read-only image;
    // the destination [AP_BASE, AP_BASE + len) is conventional RAM below
    // 640 KiB (the PVH memory map's first type-1 range), identity-mapped,
    // outside the kernel image, heap and frame allocator, and used by
    // nothing else once `kmain` has parsed the boot information (which QEMU
    // placed below AP_BASE). `len()` is well under a page.
    unsafe { ptr::copy_nonoverlapping(src, AP_BASE as *mut u8, len() as usize) };
}

/// Fill the installed trampoline's parameter block.
pub fn set_params(p: &Params) {
    let fields = [
        (&raw const pgq_ap_param_cr3, p.cr3),
        (&raw const pgq_ap_param_cr4, p.cr4),
        (&raw const pgq_ap_param_cr0, p.cr0),
        (&raw const pgq_ap_param_efer, p.efer),
        (&raw const pgq_ap_param_stack, p.stack_top),
        (&raw const pgq_ap_param_cpu, p.cpu),
        (&raw const pgq_ap_param_entry, p.entry),
    ];
    for (sym, value) in fields {
        let at = AP_BASE + (sym as u64 - start());
        // SAFETY: `at` is an 8-byte aligned `.quad` of the parameter block
        // inside the copy `install` made at AP_BASE (see there); no AP is
        // running the trampoline while the BSP writes it (start-up is one
        // AP at a time).
        unsafe { ptr::write_volatile(at as *mut u64, value) };
    }
}
