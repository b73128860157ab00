//! Control registers, EFER, TLB maintenance and CPUID, through the `x86_64`
//! crate, as plain `u64` values (what the checks print and compare).
//!
//! The kernel runs in ring 0 (the BSP with interrupts disabled; in the SMP
//! image the APs take IPIs), so these privileged instructions never fault
//! for lack of privilege. Reads and TLB
//! flushes are safe functions: they cannot break memory safety. Writes that
//! change the address space or paging mode are `unsafe` and state what the
//! caller must guarantee.

use x86_64::instructions::{hlt, interrupts, tlb};
use x86_64::registers::control::{Cr0, Cr0Flags, Cr2, Cr3, Cr4, Cr4Flags};
use x86_64::registers::model_specific::{Efer, EferFlags};
use x86_64::structures::paging::PhysFrame;
use x86_64::{PhysAddr, VirtAddr};

pub const CR0_PG: u64 = Cr0Flags::PAGING.bits();
pub const CR0_WP: u64 = Cr0Flags::WRITE_PROTECT.bits();
pub const CR0_EM: u64 = Cr0Flags::EMULATE_COPROCESSOR.bits();
pub const CR0_MP: u64 = Cr0Flags::MONITOR_COPROCESSOR.bits();
pub const CR4_PAE: u64 = Cr4Flags::PHYSICAL_ADDRESS_EXTENSION.bits();
pub const CR4_PGE: u64 = Cr4Flags::PAGE_GLOBAL.bits();
pub const CR4_OSFXSR: u64 = Cr4Flags::OSFXSR.bits();
pub const CR4_LA57: u64 = Cr4Flags::L5_PAGING.bits();
pub const CR4_SMEP: u64 = Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION.bits();
pub const CR4_SMAP: u64 = Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION.bits();
pub const EFER_LME: u64 = EferFlags::LONG_MODE_ENABLE.bits();
pub const EFER_LMA: u64 = EferFlags::LONG_MODE_ACTIVE.bits();
pub const EFER_NXE: u64 = EferFlags::NO_EXECUTE_ENABLE.bits();

/// Physical address bits of CR3 (no PCID in use: bits 11:0 are flags).
pub const CR3_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

pub fn read_cr0() -> u64 {
    Cr0::read_raw()
}

/// The last page-fault address, raw: with LA57 it may be a 57-bit address,
/// which `x86_64`'s (48-bit) `VirtAddr` cannot hold.
pub fn read_cr2() -> u64 {
    Cr2::read_raw()
}

/// CR3: the top-level table's physical address and the flag bits 11:0.
pub fn read_cr3() -> u64 {
    let (frame, low) = Cr3::read_raw();
    frame.start_address().as_u64() | u64::from(low)
}

/// Load CR3 (this flushes all non-global TLB entries). Bits 11:0 of `value`
/// are kept as CR3's flags; bits 63:52 are dropped (no PCID is in use).
///
/// # Safety
/// `value & CR3_ADDR_MASK` must be the physical address of a top-level table
/// of the current paging depth (PML5 when CR4.LA57 is set, else PML4) whose
/// mappings keep the kernel image, the current stack, the IST stacks, the
/// GDT/IDT/TSS and every other memory the kernel will touch mapped at the
/// same virtual addresses, and the table must stay valid while loaded.
pub unsafe fn write_cr3(value: u64) {
    let frame = PhysFrame::containing_address(PhysAddr::new_truncate(value & CR3_ADDR_MASK));
    // SAFETY: the caller guarantees the new tables map everything in use.
    unsafe { Cr3::write_raw(frame, (value & 0xfff) as u16) };
}

pub fn read_cr4() -> u64 {
    Cr4::read_raw()
}

/// Write CR4.
///
/// # Safety
/// The caller must not clear PAE, toggle LA57 (that #GPs in long mode) or
/// disable OSFXSR while SSE code may run.
pub unsafe fn write_cr4(value: u64) {
    // SAFETY: the caller keeps the paging mode and SSE enabled.
    unsafe { Cr4::write_raw(value) };
}

pub fn read_efer() -> u64 {
    Efer::read_raw()
}

/// True when CR4.LA57 is set (5-level paging).
pub fn la57_active() -> bool {
    read_cr4() & CR4_LA57 != 0
}

/// Invalidate the TLB entries (all levels, paging-structure caches) for `va`
/// with `invlpg`. An address `x86_64`'s `VirtAddr` cannot hold (48-bit
/// canonical only; LA57 has 57-bit addresses) gets a full flush instead,
/// which drops its entries too.
pub fn invlpg(va: u64) {
    match VirtAddr::try_new(va) {
        Ok(addr) => tlb::flush(addr),
        Err(_) => flush_tlb_all(),
    }
}

/// Flush the whole TLB, global entries included.
pub fn flush_tlb_all() {
    let cr4 = read_cr4();
    if cr4 & CR4_PGE != 0 {
        // SAFETY: toggling PGE off and on flushes all entries and restores
        // the original CR4; no other bit changes.
        unsafe {
            write_cr4(cr4 & !CR4_PGE);
            write_cr4(cr4);
        }
    } else {
        // Reloading the current CR3 keeps the same address space.
        tlb::flush_all();
    }
}

/// Disable interrupts and halt forever.
pub fn halt_forever() -> ! {
    interrupts::disable();
    loop {
        hlt();
    }
}

/// CPUs this kernel gives per-CPU state to (the SMP mode runs `-smp 4`).
pub const MAX_CPUS: usize = 4;

/// This CPU's index for per-CPU state: its initial APIC ID
/// (CPUID.1:EBX[31:24]; QEMU numbers `-smp N` CPUs 0..N-1), clamped to
/// `MAX_CPUS - 1`. The SMP start-up refuses CPUs with larger IDs, so the
/// clamp only matters for a CPU that never runs kernel code.
pub fn cpu_index() -> usize {
    let id = (cpuid(1).1 >> 24) as usize;
    id.min(MAX_CPUS - 1)
}

/// The time-stamp counter. Under QEMU 7.2's TCG it counts at about the
/// host's TSC rate (measured: 18,440 M cycles in a 7.5 s run on a 2.6 GHz
/// host), so it measures host time, which is what the SMP waits' timeouts
/// need.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the counter (CR4.TSD is clear, and this is
    // ring 0 anyway).
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// CPUID leaf `leaf`, subleaf 0: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86-64 CPU and only reads identification
    // registers; LLVM's intrinsic saves and restores RBX itself.
    let r = unsafe { core::arch::x86_64::__cpuid_count(leaf, 0) };
    (r.eax, r.ebx, r.ecx, r.edx)
}
