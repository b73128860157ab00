//! The kernel's own GDT with a 64-bit TSS whose IST stacks every exception
//! handler runs on, built with the `x86_64` crate's `GlobalDescriptorTable`
//! and `TaskStateSegment`.
//!
//! Why IST stacks: a fault taken on a broken or exhausted stack still gets
//! a good one, and #DF/NMI/#MC get a second stack of their own. (The red
//! zone, the original reason, is gone: `x86_64-unknown-none` compiles
//! without it.)

use crate::cpu::MAX_CPUS;
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot (0-based, as `x86_64`'s `set_stack_index` takes it; the CPU's
/// IST1) for ordinary exceptions.
pub const IST_GENERAL: u16 = 0;
/// IST slot (the CPU's IST2) for #DF, NMI and #MC, so they get a fresh stack
/// even if the general one is in use.
pub const IST_CRITICAL: u16 = 1;

const IST_STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stack([u8; IST_STACK_SIZE]);

/// Only the CPU writes these (exception frames); Rust code takes their
/// addresses only.
static mut IST_STACKS: [Stack; 2] = [const { Stack([0; IST_STACK_SIZE]) }; 2];

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// The application processors' IST stacks, TSSs and GDTs (index = CPU
/// index; slot 0, the BSP's, stays unused). A TSS cannot be shared: `ltr`
/// marks its descriptor busy, and a second `ltr` of a busy TSS raises #GP;
/// and each CPU needs IST stacks of its own.
static mut AP_IST_STACKS: [[Stack; 2]; MAX_CPUS] =
    [const { [const { Stack([0; IST_STACK_SIZE]) }; 2] }; MAX_CPUS];
static AP_TSS: [Once<TaskStateSegment>; MAX_CPUS] = [const { Once::new() }; MAX_CPUS];
static AP_GDT: [Once<(GlobalDescriptorTable, Selectors)>; MAX_CPUS] =
    [const { Once::new() }; MAX_CPUS];

struct Selectors {
    code: SegmentSelector,
    data: SegmentSelector,
    tss: SegmentSelector,
}

/// Top of IST stack `i` (they grow down).
fn ist_top(i: usize) -> VirtAddr {
    let base = &raw const IST_STACKS as u64;
    VirtAddr::new(base + ((i + 1) * IST_STACK_SIZE) as u64)
}

/// Top of application processor `cpu`'s IST stack `i`.
fn ap_ist_top(cpu: usize, i: usize) -> VirtAddr {
    let base = &raw const AP_IST_STACKS as u64;
    VirtAddr::new(base + ((cpu * 2 + i + 1) * IST_STACK_SIZE) as u64)
}

/// A GDT (null, code 0x08, data 0x10, TSS 0x18) for `tss`.
fn build_gdt(tss: &'static TaskStateSegment) -> (GlobalDescriptorTable, Selectors) {
    let mut gdt = GlobalDescriptorTable::new();
    let code = gdt.append(Descriptor::kernel_code_segment());
    let data = gdt.append(Descriptor::kernel_data_segment());
    let tss = gdt.append(Descriptor::tss_segment(tss));
    (gdt, Selectors { code, data, tss })
}

/// Load `gdt` and its segments and task register on this CPU.
fn load(gdt: &'static GlobalDescriptorTable, sel: &Selectors) {
    gdt.load();
    // SAFETY: the selectors index the GDT just loaded, which lives in a
    // static: code is a 64-bit ring-0 code segment, data a writable ring-0
    // data segment, and the TSS descriptor points at a static TSS (not yet
    // loaded by any CPU: one per CPU) whose IST stacks are static too. The
    // running code stays valid across the reloads (same flat segments as
    // the trampolines' GDTs).
    unsafe {
        CS::set_reg(sel.code);
        DS::set_reg(sel.data);
        ES::set_reg(sel.data);
        SS::set_reg(sel.data);
        load_tss(sel.tss);
    }
}

/// `init` for application processor `cpu` (1 .. MAX_CPUS): its own TSS
/// and IST stacks, in a GDT of its own.
pub fn init_ap(cpu: usize) {
    let cpu = cpu.clamp(1, MAX_CPUS - 1);
    let tss = AP_TSS[cpu].call_once(|| {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[usize::from(IST_GENERAL)] = ap_ist_top(cpu, 0);
        tss.interrupt_stack_table[usize::from(IST_CRITICAL)] = ap_ist_top(cpu, 1);
        tss
    });
    let (gdt, sel) = AP_GDT[cpu].call_once(|| build_gdt(tss));
    load(gdt, sel);
}

/// Fill the TSS, load the GDT, reload the segment registers and the task
/// register. Call once, early in `kmain`.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        tss.interrupt_stack_table[usize::from(IST_GENERAL)] = ist_top(0);
        tss.interrupt_stack_table[usize::from(IST_CRITICAL)] = ist_top(1);
        tss
    });
    // null, code 0x08, data 0x10, TSS 0x18 (two slots): the code and data
    // selectors are the ones the trampoline's GDT used.
    let (gdt, sel) = GDT.call_once(|| build_gdt(tss));
    load(gdt, sel);
}
