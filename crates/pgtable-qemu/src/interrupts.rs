//! IDT for the CPU exceptions (the `x86_64` crate's
//! `InterruptDescriptorTable`), assembly entry stubs and the dispatcher.
//!
//! Each stub pushes a dummy error code when the CPU does not, then the
//! vector, then `pgq_isr_common` saves all general registers and calls
//! `pgq_exception_dispatch` with a pointer to the saved [`ExceptionFrame`].
//! The dispatcher may change the saved RIP (probe recovery through the
//! exception table, `extable.rs`); everything else is fatal: it prints the
//! state and exits QEMU with the fail status.
//!
//! The stubs stay hand-written: the `x86_64` crate's handler types need the
//! `x86-interrupt` ABI, which stable Rust 1.95 still rejects as
//! experimental, and that ABI would not give the handler the general
//! registers anyway (the fatal dump prints them; a #GP's address is `rdi`).
//! No SSE state is saved: `x86_64-unknown-none` compiles without SSE.

use crate::gdt::{IST_CRITICAL, IST_GENERAL};
use crate::{cpu, exit, extable, println, shootdown};
use core::arch::global_asm;
use x86_64::structures::idt::{EntryOptions, InterruptDescriptorTable};
use x86_64::VirtAddr;

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

    .irp n, 0,1,2,3,4,5,6,7,9,16,18,19,20,28,240,241,255
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
    cld
    mov rdi, rbp
    call pgq_exception_dispatch
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

    # The stub of each vector, 0 where the vector is reserved.
    .section .rodata.isr, "a", @progbits
    .p2align 3
    .global pgq_isr_table
pgq_isr_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14
    .quad pgq_isr_\n
    .endr
    .quad 0
    .irp n, 16,17,18,19,20,21
    .quad pgq_isr_\n
    .endr
    .quad 0, 0, 0, 0, 0, 0
    .irp n, 28,29,30
    .quad pgq_isr_\n
    .endr
    .quad 0

    # The SMP mode's interrupts: the TLB-shootdown and wake-up IPIs and
    # the APIC's spurious vector (shootdown.rs).
    .p2align 3
    .global pgq_isr_shootdown
pgq_isr_shootdown:
    .quad pgq_isr_240
    .global pgq_isr_wake
pgq_isr_wake:
    .quad pgq_isr_241
    .global pgq_isr_spurious
pgq_isr_spurious:
    .quad pgq_isr_255
"#
);

extern "C" {
    static pgq_isr_table: [u64; 32];
    static pgq_isr_shootdown: u64;
    static pgq_isr_wake: u64;
    static pgq_isr_spurious: u64;
}

/// Registers saved by the stubs, lowest address first, then what the CPU
/// pushed. Plain `u64`s rather than `x86_64`'s `InterruptStackFrameValue`:
/// its `VirtAddr` holds 48-bit canonical addresses only, and this kernel
/// also runs with 5-level paging.
#[repr(C)]
#[derive(Debug)]
struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rbp: u64,
    rdi: u64,
    rsi: u64,
    rdx: u64,
    rcx: u64,
    rbx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

static IDT: spin::Once<InterruptDescriptorTable> = spin::Once::new();

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

/// Point the entry of `vector` at `stub`; `None` for the reserved vectors,
/// whose entries `x86_64`'s table keeps private (the CPU never raises them).
///
/// # Safety
/// `stub` must be the assembly stub for `vector` from `pgq_isr_table`, and
/// the current CS the kernel's 64-bit code segment (`gdt::init` ran).
unsafe fn set_stub(
    idt: &mut InterruptDescriptorTable,
    vector: u8,
    stub: VirtAddr,
) -> Option<&mut EntryOptions> {
    // SAFETY: the caller passes this vector's stub; every stub saves the
    // registers, takes the error code the CPU pushed for this vector (or
    // pushes a dummy), and returns with `iretq` or never.
    unsafe {
        Some(match vector {
            8 => idt.double_fault.set_handler_addr(stub),
            10 => idt.invalid_tss.set_handler_addr(stub),
            11 => idt.segment_not_present.set_handler_addr(stub),
            12 => idt.stack_segment_fault.set_handler_addr(stub),
            13 => idt.general_protection_fault.set_handler_addr(stub),
            14 => idt.page_fault.set_handler_addr(stub),
            17 => idt.alignment_check.set_handler_addr(stub),
            18 => idt.machine_check.set_handler_addr(stub),
            21 => idt.cp_protection_exception.set_handler_addr(stub),
            29 => idt.vmm_communication_exception.set_handler_addr(stub),
            30 => idt.security_exception.set_handler_addr(stub),
            15 | 22..=27 | 31 => return None,
            v => idt[v].set_handler_addr(stub),
        })
    }
}

/// Fill and load the IDT: interrupt gates, DPL 0, every vector on an IST
/// stack. Call after `gdt::init`.
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        // Only the addresses of the asm-defined stubs are read.
        let table = &raw const pgq_isr_table;
        for vector in 0..32u8 {
            // SAFETY: `pgq_isr_table` is a read-only array of 32 addresses.
            let addr = unsafe { (*table)[usize::from(vector)] };
            if addr == 0 {
                continue;
            }
            let ist = match vector {
                2 | 8 | 18 => IST_CRITICAL,
                _ => IST_GENERAL,
            };
            // SAFETY: `addr` is `vector`'s stub and gdt::init loaded the
            // kernel's code segment.
            let entry = unsafe { set_stub(&mut idt, vector, VirtAddr::new(addr)) };
            if let Some(entry) = entry {
                // SAFETY: both IST slots have their own stack in the TSS
                // (gdt.rs); #DF/NMI/#MC use the second one, so they never
                // land on the stack a fault they interrupt is using.
                unsafe { entry.set_stack_index(ist) };
            }
        }
        // SAFETY: these words are read-only addresses of the stubs of
        // vectors 240, 241 and 255, which push a dummy error code like the
        // other no-error-code stubs.
        let ipis = unsafe {
            [
                (shootdown::VECTOR_SHOOTDOWN, pgq_isr_shootdown),
                (shootdown::VECTOR_WAKE, pgq_isr_wake),
                (shootdown::VECTOR_SPURIOUS, pgq_isr_spurious),
            ]
        };
        for (vector, addr) in ipis {
            // SAFETY: `addr` is `vector`'s stub (above) and gdt::init loaded
            // the kernel's code segment; interrupt gates keep IF clear in
            // the handler, so it never nests on its IST stack.
            unsafe {
                idt[vector]
                    .set_handler_addr(VirtAddr::new(addr))
                    .set_stack_index(IST_GENERAL);
            }
        }
        idt
    });
    idt.load();
}

/// Load the IDT `init` built on this CPU (an application processor: the
/// IDT is shared, the TSS and its IST stacks are per CPU, `gdt::init_ap`).
pub fn load_on_ap() {
    if let Some(idt) = IDT.get() {
        idt.load();
    }
}

#[no_mangle]
extern "C" fn pgq_exception_dispatch(frame: &mut ExceptionFrame) {
    if let Some(resume) =
        extable::fixup_exception(frame.vector, frame.error_code, frame.rip, frame.rdi)
    {
        frame.rip = resume;
        return;
    }
    if frame.vector >= 32 && shootdown::handle(frame.vector) {
        return;
    }
    fatal(frame)
}

fn fatal(f: &ExceptionFrame) -> ! {
    let name = NAMES.get(f.vector as usize).copied().unwrap_or("?");
    println!();
    println!(
        "EXCEPTION {} ({}) error_code={:#x} cpu={}",
        f.vector,
        name,
        f.error_code,
        cpu::cpu_index()
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
