//! Register access: control registers, IA32_EFER, CPUID, the IDT. The only
//! `unsafe` outside the memory backends, each with its reason.

use core::arch::asm;

/// IA32_EFER and its NXE bit (SDM vol. 3A 4.1.1, 4.4.2).
const IA32_EFER: u32 = 0xc000_0080;
const EFER_NXE: u32 = 1 << 11;
/// CR4 bits the kernel looks at.
pub const CR4_PSE: u32 = 1 << 4;
pub const CR4_PAE: u32 = 1 << 5;
pub const CR4_PGE: u32 = 1 << 7;
pub const CR4_SMEP: u32 = 1 << 20;
pub const CR4_SMAP: u32 = 1 << 21;
/// CR0.WP.
pub const CR0_WP: u32 = 1 << 16;

pub fn cr0() -> u32 {
    let v: u32;
    // SAFETY: reading CR0 has no side effect (CPL 0).
    unsafe { asm!("mov {}, cr0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn cr2() -> u32 {
    let v: u32;
    // SAFETY: reading CR2 has no side effect (CPL 0).
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn cr3() -> u32 {
    let v: u32;
    // SAFETY: reading CR3 has no side effect (CPL 0).
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

pub fn cr4() -> u32 {
    let v: u32;
    // SAFETY: reading CR4 has no side effect (CPL 0).
    unsafe { asm!("mov {}, cr4", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Load CR3 (which also flushes every non-global TLB entry; with PAE it
/// reloads the four PDPTEs, SDM 4.4.1).
///
/// # Safety
///
/// `root` must be a root of the current paging mode that maps the kernel
/// image, stack, heap and every table the kernel touches at `KBASE + pa`.
pub unsafe fn write_cr3(root: u32) {
    // SAFETY: the caller's contract; the asm touches only CR3.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// CPUID leaf `leaf`, subleaf 0: (eax, ebx, ecx, edx).
pub fn cpuid(leaf: u32) -> (u32, u32, u32, u32) {
    let r = core::arch::x86::__cpuid_count(leaf, 0);
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// Whether the CPU has NX (CPUID.80000001H:EDX[20]).
pub fn has_nx() -> bool {
    cpuid(0x8000_0000).0 >= 0x8000_0001 && cpuid(0x8000_0001).3 & (1 << 20) != 0
}

/// Whether the CPU has PSE-36 (CPUID.01H:EDX[17]).
pub fn has_pse36() -> bool {
    cpuid(1).3 & (1 << 17) != 0
}

/// MAXPHYADDR (CPUID.80000008H:EAX[7:0], or 36 when the leaf is missing
/// and PAE exists, SDM 4.1.4).
pub fn maxphyaddr() -> u8 {
    if cpuid(0x8000_0000).0 >= 0x8000_0008 {
        (cpuid(0x8000_0008).0 & 0xff) as u8
    } else {
        36
    }
}

fn rdmsr(msr: u32) -> (u32, u32) {
    let (lo, hi): (u32, u32);
    // SAFETY: only called for IA32_EFER, which exists when NX does.
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (lo, hi)
}

/// Set IA32_EFER.NXE so bit 63 of a PAE entry means execute-disable
/// instead of a reserved bit. Returns whether it is set.
pub fn enable_nx() -> bool {
    if !has_nx() {
        return false;
    }
    let (lo, hi) = rdmsr(IA32_EFER);
    // SAFETY: NXE only changes how bit 63 of PAE entries is read; the boot
    // table has it clear everywhere.
    unsafe {
        asm!("wrmsr", in("ecx") IA32_EFER, in("eax") lo | EFER_NXE, in("edx") hi, options(nomem, nostack))
    };
    rdmsr(IA32_EFER).0 & EFER_NXE != 0
}

/// Whether the CPU has SMEP (CPUID.(EAX=07H,ECX=0):EBX[7]).
pub fn has_smep() -> bool {
    cpuid(0).0 >= 7 && cpuid(7).1 & (1 << 7) != 0
}

/// Whether the CPU has SMAP (CPUID.(EAX=07H,ECX=0):EBX[20]).
pub fn has_smap() -> bool {
    cpuid(0).0 >= 7 && cpuid(7).1 & (1 << 20) != 0
}

/// Set (`on`) or clear the CR4 bits `bits` (SMEP, SMAP). QEMU flushes its
/// TLB when either changes.
pub fn set_cr4(bits: u32, on: bool) {
    let v = if on { cr4() | bits } else { cr4() & !bits };
    // SAFETY: only SMEP and SMAP are passed: the kernel never fetches from
    // user pages, and with SMAP its only accesses to user pages are the
    // probes, whose faults are recovered.
    unsafe { asm!("mov cr4, {}", in(reg) v, options(nostack, preserves_flags)) };
}

/// EFLAGS.AC (bit 18): with CR4.SMAP, set lets CPL 0 read and write user
/// pages (what `stac` does; `clac` clears it).
const EFLAGS_AC: u32 = 1 << 18;

/// Set or clear EFLAGS.AC.
pub fn set_ac(on: bool) {
    // SAFETY: AC only changes SMAP's check at CPL 0 (and alignment checks,
    // off since CR0.AM is clear); pushfd/popfd use the stack balanced.
    unsafe {
        if on {
            asm!("pushfd", "or dword ptr [esp], {ac}", "popfd", ac = const EFLAGS_AC);
        } else {
            asm!("pushfd", "and dword ptr [esp], {ac}", "popfd", ac = const !EFLAGS_AC);
        }
    }
}
