//! The kernel's own GDT with a 64-bit TSS whose IST stacks every exception
//! handler runs on (the precompiled `core` may use the red zone, which an
//! exception frame pushed on the interrupted stack would overwrite).

use core::arch::asm;
use core::mem::size_of;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
const TSS_SEL: u16 = 0x18;

/// IST index (1-based, as in the IDT entry) for ordinary exceptions.
pub const IST_GENERAL: u8 = 1;
/// IST index for #DF, NMI and #MC, so they get a fresh stack even if the
/// general one is in use.
pub const IST_CRITICAL: u8 = 2;

const IST_STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stack([u8; IST_STACK_SIZE]);

static mut IST_STACKS: [Stack; 2] = [const { Stack([0; IST_STACK_SIZE]) }; 2];

#[repr(C, packed(4))]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

static mut TSS: Tss = Tss {
    _reserved0: 0,
    rsp: [0; 3],
    _reserved1: 0,
    ist: [0; 7],
    _reserved2: 0,
    _reserved3: 0,
    iomap_base: size_of::<Tss>() as u16,
};

/// null, code64, data, TSS (two slots).
static mut GDT: [u64; 5] = [0, 0x00af_9a00_0000_ffff, 0x00cf_9200_0000_ffff, 0, 0];

#[repr(C, packed)]
pub struct DescriptorPointer {
    pub limit: u16,
    pub base: u64,
}

/// Fill the TSS, load the GDT, reload the segment registers and the task
/// register. Call once, early in `kmain`.
pub fn init() {
    // SAFETY: runs once on the single CPU before any exception can use the
    // TSS; the statics are only reached through raw pointers here, and the
    // GDT keeps the same code/data selectors the trampoline used, so the
    // reloads below leave the running code valid.
    unsafe {
        let tss = &raw mut TSS;
        let stacks = &raw mut IST_STACKS as u64;
        for i in 0..2 {
            // IST1, IST2: the top of stack i (stacks are contiguous).
            (*tss).ist[i] = stacks + ((i + 1) * IST_STACK_SIZE) as u64;
        }
        let base = tss as u64;
        let limit = (size_of::<Tss>() - 1) as u64;
        let gdt = &raw mut GDT;
        (*gdt)[3] = (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (0x89 << 40) // present, 64-bit available TSS
            | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        (*gdt)[4] = base >> 32;

        let ptr = DescriptorPointer {
            limit: (size_of::<[u64; 5]>() - 1) as u16,
            base: gdt as u64,
        };
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:e}",
            "mov es, {ds:e}",
            "mov ss, {ds:e}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = const KERNEL_CS as u64,
            ds = in(reg) u32::from(KERNEL_DS),
            tss = in(reg) TSS_SEL,
            tmp = out(reg) _,
        );
    }
}
