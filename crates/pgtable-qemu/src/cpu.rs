//! Control registers, MSRs, TLB maintenance and port I/O.
//!
//! The kernel runs in ring 0 with interrupts disabled on one CPU, so these
//! privileged instructions never fault for lack of privilege. Reads and TLB
//! flushes are safe functions: they cannot break memory safety. Writes that
//! change the address space or paging mode are `unsafe` and state what the
//! caller must guarantee.

use core::arch::asm;

pub const CR0_WP: u64 = 1 << 16;
pub const CR0_EM: u64 = 1 << 2;
pub const CR0_MP: u64 = 1 << 1;
pub const CR4_PAE: u64 = 1 << 5;
pub const CR4_PGE: u64 = 1 << 7;
pub const CR4_OSFXSR: u64 = 1 << 9;
pub const CR4_LA57: u64 = 1 << 12;
pub const EFER_MSR: u32 = 0xC000_0080;
pub const EFER_LME: u64 = 1 << 8;
pub const EFER_LMA: u64 = 1 << 10;
pub const EFER_NXE: u64 = 1 << 11;

/// Physical address bits of CR3 (no PCID in use: bits 11:0 are flags).
pub const CR3_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;

pub fn read_cr0() -> u64 {
    let v: u64;
    // SAFETY: reading CR0 in ring 0 has no side effect.
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn read_cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 (last page-fault address) has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effect.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Load CR3 (this flushes all non-global TLB entries).
///
/// # Safety
/// `value & CR3_ADDR_MASK` must be the physical address of a top-level table
/// of the current paging depth (PML5 when CR4.LA57 is set, else PML4) whose
/// mappings keep the kernel image, the current stack, the IST stacks, the
/// GDT/IDT/TSS and every other memory the kernel will touch mapped at the
/// same virtual addresses, and the table must stay valid while loaded.
pub unsafe fn write_cr3(value: u64) {
    // SAFETY: the caller guarantees the new tables map everything in use;
    // `memory` clobber keeps the compiler from moving accesses across it.
    unsafe { asm!("mov cr3, {}", in(reg) value, options(nostack, preserves_flags)) };
}

pub fn read_cr4() -> u64 {
    let v: u64;
    // SAFETY: reading CR4 has no side effect.
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Write CR4.
///
/// # Safety
/// The caller must not clear PAE, toggle LA57 (that #GPs in long mode) or
/// disable OSFXSR while SSE code may run.
pub unsafe fn write_cr4(value: u64) {
    // SAFETY: the caller keeps the paging mode and SSE enabled.
    unsafe { asm!("mov cr4, {}", in(reg) value, options(nostack, preserves_flags)) };
}

pub fn read_msr(msr: u32) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: only used with architectural MSRs that exist on every x86-64
    // CPU (callers pass constants such as EFER); reading has no side effect.
    unsafe {
        asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Write an MSR.
#[allow(dead_code)] // API for scenarios (e.g. toggling EFER.NXE)
///
/// # Safety
/// `msr` must exist and `value` must be valid for it; for EFER the caller
/// must keep LME set and may set NXE only if CPUID reports NX.
pub unsafe fn write_msr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the MSR and value are valid.
    unsafe {
        asm!("wrmsr", in("ecx") msr, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nostack, preserves_flags))
    };
}

pub fn read_efer() -> u64 {
    read_msr(EFER_MSR)
}

/// True when CR4.LA57 is set (5-level paging).
pub fn la57_active() -> bool {
    read_cr4() & CR4_LA57 != 0
}

/// Invalidate the TLB entries (all levels, paging-structure caches) for `va`.
pub fn invlpg(va: u64) {
    // SAFETY: invlpg only drops cached translations; the next access walks the
    // tables again. `memory` clobber orders it against table writes.
    unsafe { asm!("invlpg [{}]", in(reg) va, options(nostack, preserves_flags)) };
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
        // SAFETY: reloading the current CR3 keeps the same address space.
        unsafe { write_cr3(read_cr3()) };
    }
}

/// Disable interrupts and halt forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: cli; hlt only stops this CPU.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

pub fn outb(port: u16, value: u8) {
    // SAFETY: used only for the COM1 UART and the isa-debug-exit device,
    // whose ports have no memory side effects.
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    };
}

pub fn outl(port: u16, value: u32) {
    // SAFETY: as for `outb`.
    unsafe {
        asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags))
    };
}

pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as for `outb`; reading the UART status register has no side
    // effect on memory.
    unsafe {
        asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack, preserves_flags))
    };
    v
}

pub const CR4_SMEP: u64 = 1 << 20;
pub const CR4_SMAP: u64 = 1 << 21;

/// CPUID leaf `leaf`, subleaf 0: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    #[allow(unused_unsafe)]
    // SAFETY: CPUID exists on every x86-64 CPU and only reads identification
    // registers; LLVM's intrinsic saves and restores RBX itself.
    let r = unsafe { core::arch::x86_64::__cpuid_count(leaf, 0) };
    (r.eax, r.ebx, r.ecx, r.edx)
}
