//! Entry (multiboot v1), GDT, boot page table and boot stack.
//!
//! QEMU's `-kernel` loads a multiboot ELF32 image by its program headers
//! (physical addresses, 1 MiB up) and jumps to the ELF entry in 32-bit
//! protected mode, paging off, interrupts off, EAX = 0x2BADB002 and EBX =
//! the physical address of the multiboot information; the GDT it leaves is
//! not ours to rely on (the multiboot spec says so). The kernel is linked at
//! `KBASE + physical`, so until the jump to the upper half only absolute
//! constants minus `KBASE` are used.
//!
//! The boot table maps `[0, LOWMEM_END)` twice, at 0 (for the instructions
//! right after CR0.PG is set) and at `KBASE`: without PAE a page directory
//! of 4 MiB PDEs (CR4.PSE), with PAE one page directory of 2 MiB PDEs that
//! PDPT entries 0 and 3 both point at (CR4.PAE). The kernel leaves it for
//! the library's roots as soon as the heap exists.
//!
//! The exception entry points and the probes are in `trap.rs`.

use core::arch::global_asm;

/// Virtual base of the kernel's view of low memory: `KBASE + pa`
/// (`PAGE_OFFSET` of the 3G/1G split).
pub const KBASE: u64 = 0xc000_0000;
/// End of the RAM the boot table and every kernel root map at `KBASE + pa`
/// (880 MiB: whole 4 MiB and 2 MiB leaves, below the direct map's end in
/// the library's layout, 0xf73f_e000 / 0xf75f_e000, i.e. Linux's MAXMEM).
pub const LOWMEM_END: u64 = 880 << 20;
/// Boot stack size.
const STACK_SIZE: usize = 256 * 1024;
/// CR4.PSE | OSFXSR | OSXMMEXCPT (2-level) and CR4.PAE | OSFXSR | OSXMMEXCPT.
#[cfg(not(feature = "pae"))]
const BOOT_CR4: u32 = (1 << 4) | (1 << 9) | (1 << 10);
#[cfg(feature = "pae")]
const BOOT_CR4: u32 = (1 << 5) | (1 << 9) | (1 << 10);

#[cfg(not(feature = "pae"))]
global_asm!(
    r#"
    .section .text.boot, "ax"
    // Without PAE: PDE i and 768 + i map [i * 4 MiB, (i + 1) * 4 MiB).
    .global pgq_boot_tables
pgq_boot_tables:
    movl $(PGQ_BOOT_PD - {kbase}), %edx
    xorl %ecx, %ecx
.Lpde:
    movl %ecx, %eax
    shll $22, %eax
    orl $0x83, %eax
    movl %eax, (%edx,%ecx,4)
    movl %eax, 3072(%edx,%ecx,4)
    incl %ecx
    cmpl ${pdes}, %ecx
    jb .Lpde
    movl %edx, %cr3
    jmp pgq_boot_tables_done

    .section .bss.bootpt, "aw", @nobits
    .balign 4096
    .global PGQ_BOOT_PD
PGQ_BOOT_PD:
    .zero 4096
"#,
    kbase = const KBASE,
    pdes = const LOWMEM_END >> 22,
    options(att_syntax)
);

#[cfg(feature = "pae")]
global_asm!(
    r#"
    .section .text.boot, "ax"
    // PAE: PDE i of the one page directory maps [i * 2 MiB, ...); PDPT
    // entries 0 and 3 point at it.
    .global pgq_boot_tables
pgq_boot_tables:
    movl $(PGQ_BOOT_PD - {kbase}), %edx
    xorl %ecx, %ecx
.Lpde:
    movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edx,%ecx,8)
    incl %ecx
    cmpl ${pdes}, %ecx
    jb .Lpde
    movl $(PGQ_BOOT_PDPT - {kbase}), %eax
    orl $1, %edx
    movl %edx, (%eax)
    movl %edx, 24(%eax)
    movl %eax, %cr3
    jmp pgq_boot_tables_done

    .section .bss.bootpt, "aw", @nobits
    .balign 4096
    .global PGQ_BOOT_PD
PGQ_BOOT_PD:
    .zero 4096
    .global PGQ_BOOT_PDPT
PGQ_BOOT_PDPT:
    .zero 32
"#,
    kbase = const KBASE,
    pdes = const LOWMEM_END >> 21,
    options(att_syntax)
);

global_asm!(
    r#"
    .section .text.boot, "ax"
    .balign 4
    // Multiboot v1 header: magic, flags (bit 0 page-align modules, bit 1
    // memory information), checksum. No address fields (bit 16): the
    // loader takes the ELF program headers.
pgq_multiboot_header:
    .long 0x1badb002
    .long 0x00000003
    .long -(0x1badb002 + 0x00000003)

    .global _start
_start:
    cli
    cld
    movl %eax, %ebp
    // Our GDT (physical address), then reload every segment register.
    lgdt (PGQ_GDT_PTR_PHYS - {kbase})
    pushl $0x08
    pushl $(.Lflat - {kbase})
    lret
.Lflat:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    // Zero .bss (boot tables and stack included) by physical address.
    movl $(__bss_start - {kbase}), %edi
    movl $(__bss_end - {kbase}), %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    // SSE for the compiled code (the i686 target uses SSE2): CR0.EM = 0,
    // CR0.MP = 1; CR4.OSFXSR, CR4.OSXMMEXCPT; plus PSE or PAE.
    movl %cr0, %eax
    andl $~(1 << 2), %eax
    orl $(1 << 1), %eax
    movl %eax, %cr0
    movl ${cr4}, %eax
    movl %eax, %cr4
    jmp pgq_boot_tables
    .global pgq_boot_tables_done
pgq_boot_tables_done:
    // Paging on, with CR0.WP (supervisor writes honour R/W).
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16)), %eax
    movl %eax, %cr0
    movl $.Lhigh, %eax
    jmp *%eax
.Lhigh:
    lgdt PGQ_GDT_PTR
    movl $(PGQ_STACK + {stack_size}), %esp
    subl $8, %esp
    pushl %ebx
    pushl %ebp
    call {kmain}
.Lhang:
    hlt
    jmp .Lhang

    .section .data.gdt, "aw"
    .balign 8
    .global PGQ_GDT
PGQ_GDT:
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
PGQ_GDT_PTR_PHYS:
    .word 23
    .long PGQ_GDT - {kbase}
    .balign 4
PGQ_GDT_PTR:
    .word 23
    .long PGQ_GDT

    .section .bss.stack, "aw", @nobits
    .balign 16
    .global PGQ_STACK
PGQ_STACK:
    .zero {stack_size}

"#,
    kbase = const KBASE,
    cr4 = const BOOT_CR4,
    stack_size = const STACK_SIZE,
    kmain = sym crate::kmain,
    options(att_syntax)
);

// Linker and assembly symbols.
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

/// CR3 of the boot table (physical).
pub fn boot_cr3() -> u64 {
    #[cfg(feature = "pae")]
    {
        extern "C" {
            static PGQ_BOOT_PDPT: u8;
        }
        // Only the address of the assembly symbol is taken.
        core::ptr::addr_of!(PGQ_BOOT_PDPT) as u64 - KBASE
    }
    #[cfg(not(feature = "pae"))]
    {
        extern "C" {
            static PGQ_BOOT_PD: u8;
        }
        // Only the address of the assembly symbol is taken.
        core::ptr::addr_of!(PGQ_BOOT_PD) as u64 - KBASE
    }
}
