//! IDT for the 32 CPU exceptions, assembly entry stubs and the dispatcher.
//!
//! Each stub pushes a dummy error code when the CPU does not, then the
//! vector, then `pgq_isr_common` saves all general registers and the SSE
//! state (`fxsave64` into a 16-byte aligned area) and calls
//! `pgq_exception_dispatch` with a pointer to the saved [`ExceptionFrame`].
//! The dispatcher may change the saved RIP (probe recovery); everything
//! else is fatal: it prints the state and exits QEMU with the fail status.

use crate::gdt::{IST_CRITICAL, IST_GENERAL, KERNEL_CS};
use crate::{cpu, exit, println, probe};
use core::arch::{asm, global_asm};
use core::mem::size_of;

global_asm!(
    r#"
    .section .text.isr, "ax", @progbits
    .macro PGQ_ISR_NOERR n
    .p2align 4
pgq_isr_\n:
    push 0
    push \n
    jmp pgq_isr_common
    .endm
    .macro PGQ_ISR_ERR n
    .p2align 4
pgq_isr_\n:
    push \n
    jmp pgq_isr_common
    .endm

    .irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    PGQ_ISR_NOERR \n
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
    PGQ_ISR_ERR \n
    .endr

pgq_isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rbp, rsp
    and rsp, -16
    sub rsp, 512
    fxsave64 [rsp]
    cld
    mov rdi, rbp
    call pgq_exception_dispatch
    fxrstor64 [rsp]
    mov rsp, rbp
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16
    iretq

    .section .rodata.isr, "a", @progbits
    .p2align 3
    .global pgq_isr_table
pgq_isr_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad pgq_isr_\n
    .endr
"#
);

extern "C" {
    static pgq_isr_table: [u64; 32];
}

/// Registers saved by the stubs, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct IdtEntry {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

static mut IDT: [IdtEntry; 32] = [IdtEntry {
    offset_low: 0,
    selector: 0,
    ist: 0,
    type_attr: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
}; 32];

pub const VECTOR_GP: u64 = 13;
pub const VECTOR_PF: u64 = 14;

const NAMES: [&str; 32] = [
    "#DE divide",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound",
    "#UD invalid opcode",
    "#NM no FPU",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87",
    "#AC alignment",
    "#MC machine check",
    "#XM SIMD",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
];

/// Fill and load the IDT: interrupt gates, DPL 0, every vector on an IST
/// stack. Call after `gdt::init`.
pub fn init() {
    // SAFETY: runs once before any exception is expected; the IDT static is
    // only reached through a raw pointer here, and every entry points at a
    // stub from `pgq_isr_table`.
    unsafe {
        let idt = &raw mut IDT;
        let table = &raw const pgq_isr_table;
        for v in 0..32 {
            let addr = (*table)[v];
            let ist = match v {
                2 | 8 | 18 => IST_CRITICAL,
                _ => IST_GENERAL,
            };
            (*idt)[v] = IdtEntry {
                offset_low: addr as u16,
                selector: KERNEL_CS,
                ist,
                type_attr: 0x8e, // present, DPL 0, 64-bit interrupt gate
                offset_mid: (addr >> 16) as u16,
                offset_high: (addr >> 32) as u32,
                reserved: 0,
            };
        }
        let ptr = crate::gdt::DescriptorPointer {
            limit: (size_of::<[IdtEntry; 32]>() - 1) as u16,
            base: idt as u64,
        };
        asm!("lidt [{}]", in(reg) &ptr, options(readonly, nostack, preserves_flags));
    }
}

#[no_mangle]
extern "C" fn pgq_exception_dispatch(frame: &mut ExceptionFrame) {
    if probe::try_recover(frame) {
        return;
    }
    fatal(frame)
}

fn fatal(f: &ExceptionFrame) -> ! {
    let name = NAMES.get(f.vector as usize).copied().unwrap_or("?");
    println!();
    println!(
        "EXCEPTION {} ({}) error_code={:#x}",
        f.vector, name, f.error_code
    );
    println!(
        "  rip={:#018x} cs={:#x} rflags={:#x} rsp={:#018x} ss={:#x}",
        f.rip, f.cs, f.rflags, f.rsp, f.ss
    );
    println!(
        "  cr2={:#018x} cr3={:#018x} cr4={:#x}",
        cpu::read_cr2(),
        cpu::read_cr3(),
        cpu::read_cr4()
    );
    println!(
        "  rax={:#018x} rbx={:#018x} rcx={:#018x} rdx={:#018x}",
        f.rax, f.rbx, f.rcx, f.rdx
    );
    println!(
        "  rsi={:#018x} rdi={:#018x} rbp={:#018x}",
        f.rsi, f.rdi, f.rbp
    );
    println!(
        "  r8 ={:#018x} r9 ={:#018x} r10={:#018x} r11={:#018x}",
        f.r8, f.r9, f.r10, f.r11
    );
    println!(
        "  r12={:#018x} r13={:#018x} r14={:#018x} r15={:#018x}",
        f.r12, f.r13, f.r14, f.r15
    );
    println!("RESULT fail");
    exit::fail()
}
