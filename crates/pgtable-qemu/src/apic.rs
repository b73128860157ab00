//! The local APIC in xAPIC mode: its registers at physical `0xfee00000`
//! (IA32_APIC_BASE, MSR 0x1b), reached through the identity map every
//! address space of this kernel carries.
//!
//! Hand-written register access: the `x86_64` crate has no APIC support,
//! and this kernel needs six registers (ID, EOI, spurious vector, ICR), no
//! timer, no LVT and no interrupt controller set-up beyond the enable bit.
//! Register offsets and ICR fields are Intel SDM vol. 3A, 11.4 and 11.6.

use core::ptr;
use x86_64::registers::model_specific::Msr;

/// IA32_APIC_BASE.
const MSR_APIC_BASE: u32 = 0x1b;
/// IA32_APIC_BASE bit 11: the APIC is globally enabled.
const APIC_BASE_ENABLE: u64 = 1 << 11;
/// IA32_APIC_BASE bit 10: x2APIC mode (this kernel uses xAPIC MMIO).
const APIC_BASE_X2APIC: u64 = 1 << 10;
/// The reset value of the xAPIC MMIO page's base (QEMU keeps it).
pub const XAPIC_BASE: u64 = 0xfee0_0000;

const REG_ID: u64 = 0x20;
const REG_TPR: u64 = 0x80;
const REG_EOI: u64 = 0xb0;
const REG_SVR: u64 = 0xf0;
const REG_ICR_LOW: u64 = 0x300;
const REG_ICR_HIGH: u64 = 0x310;

/// SVR bit 8: APIC software enable.
const SVR_ENABLE: u32 = 1 << 8;
/// ICR delivery modes (bits 10:8).
const ICR_FIXED: u32 = 0b000 << 8;
const ICR_INIT: u32 = 0b101 << 8;
const ICR_STARTUP: u32 = 0b110 << 8;
/// ICR bit 12: the previous IPI is still being sent.
const ICR_SEND_PENDING: u32 = 1 << 12;
/// ICR bit 14: level assert (required for everything but INIT de-assert).
const ICR_ASSERT: u32 = 1 << 14;

fn read(reg: u64) -> u32 {
    // SAFETY: `XAPIC_BASE + reg` is an xAPIC register (offsets above),
    // mapped at virtual == physical in every root this kernel loads (the
    // identity map of [0, 4 GiB)); a 32-bit aligned volatile read is how
    // the SDM says to access them, and these reads have no side effects.
    unsafe { ptr::read_volatile((XAPIC_BASE + reg) as *const u32) }
}

fn write(reg: u64, value: u32) {
    // SAFETY: as in `read`; writes to TPR, EOI, SVR and ICR are the
    // register operations this module exists for.
    unsafe { ptr::write_volatile((XAPIC_BASE + reg) as *mut u32, value) }
}

/// Why the APIC cannot be used as this module expects.
pub fn check_xapic() -> Result<(), &'static str> {
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (CPUID.1:EDX
    // bit 9, checked by the caller) and reading it has no side effect.
    let base = unsafe { Msr::new(MSR_APIC_BASE).read() };
    if base & APIC_BASE_ENABLE == 0 {
        return Err("IA32_APIC_BASE: APIC globally disabled");
    }
    if base & APIC_BASE_X2APIC != 0 {
        return Err("IA32_APIC_BASE: x2APIC mode is on");
    }
    if base & 0x000f_ffff_ffff_f000 != XAPIC_BASE {
        return Err("IA32_APIC_BASE: registers moved away from 0xfee00000");
    }
    Ok(())
}

/// This CPU's APIC ID (ID register bits 31:24).
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

/// Software-enable this CPU's APIC with `spurious` as its spurious vector
/// and accept every priority (TPR 0).
pub fn enable(spurious: u8) {
    write(REG_TPR, 0);
    write(REG_SVR, SVR_ENABLE | u32::from(spurious));
}

/// Signal the end of the interrupt being handled.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Send one IPI and wait (at most `spins` polls) until the APIC has sent
/// it; `false` if it is still pending then.
fn send(dest: u32, low: u32, spins: u32) -> bool {
    write(REG_ICR_HIGH, dest << 24);
    write(REG_ICR_LOW, low);
    (0..spins).any(|_| {
        let idle = read(REG_ICR_LOW) & ICR_SEND_PENDING == 0;
        if !idle {
            core::hint::spin_loop();
        }
        idle
    })
}

/// INIT to `dest` (puts an AP into wait-for-SIPI).
pub fn send_init(dest: u32) -> bool {
    send(dest, ICR_INIT | ICR_ASSERT, 1 << 20)
}

/// STARTUP to `dest`: the AP starts in real mode at `page << 12`.
pub fn send_startup(dest: u32, page: u8) -> bool {
    send(dest, ICR_STARTUP | ICR_ASSERT | u32::from(page), 1 << 20)
}

/// A fixed interrupt `vector` to `dest`.
pub fn send_fixed(dest: u32, vector: u8) -> bool {
    send(dest, ICR_FIXED | ICR_ASSERT | u32::from(vector), 1 << 20)
}
