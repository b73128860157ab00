//! System registers, address translation instructions and TLB maintenance.

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::{
    Readable, Writeable, ID_AA64MMFR0_EL1, ID_AA64MMFR1_EL1, MAIR_EL1, PAR_EL1, SCTLR_EL1, TCR_EL1,
    TTBR0_EL1, TTBR1_EL1,
};
use core::arch::asm;

#[cfg(all(feature = "va39", feature = "va52"))]
compile_error!("features `va39` and `va52` select different modes: enable one");

/// Virtual-address width of both halves (the `va39` feature selects 39,
/// `va52` 52, the default is 48).
#[cfg(feature = "va39")]
pub const VA_BITS: u32 = 39;
/// Virtual-address width of both halves (the `va39` feature selects 39,
/// `va52` 52, the default is 48).
#[cfg(feature = "va52")]
pub const VA_BITS: u32 = 52;
/// Virtual-address width of both halves (the `va39` feature selects 39,
/// `va52` 52, the default is 48).
#[cfg(not(any(feature = "va39", feature = "va52")))]
pub const VA_BITS: u32 = 48;

/// FEAT_LPA2 translation (TCR_EL1.DS = 1): VAs above 48 bits need it with
/// a 4 KiB granule. Descriptor bits 9:8 then hold OA\[51:50\] instead of
/// SH, which comes from TCR_EL1.SH0/SH1 for every page.
pub const LPA2: bool = VA_BITS > 48;

/// MAIR_EL1 as Linux programs it (`arch/arm64/include/asm/memory.h`,
/// `MAIR_EL1_SET` in `proc.S`): 0 `MT_NORMAL` 0xff, 1 `MT_NORMAL_TAGGED`
/// 0xff (Linux switches it to 0xf0 only with MTE, which `virt` lacks
/// without `mte=on`), 2 `MT_NORMAL_NC` 0x44, 3 `MT_DEVICE_nGnRnE` 0x00,
/// 4 `MT_DEVICE_nGnRE` 0x04; 5 to 7 are 0x00.
pub const MAIR: u64 = 0xff | (0xff << 8) | (0x44 << 16) | (0x04 << 32);

/// TCR_EL1: T0SZ = T1SZ = 64 - VA_BITS, 4 KiB granules, walks inner/outer
/// write-back cacheable and inner shareable, IPS = 48 bits, 8-bit ASIDs
/// (unused), TBI off, HA/HD off (the library sets AF itself; DBM is
/// ignored without HD). With [`LPA2`]: DS = 1 (bit 59) and IPS = 52 bits
/// (0b110), what Linux's `set_ttbr0_for_lpa2()`
/// (`arch/arm64/kernel/pi/map_kernel.c`) writes on a CPU with 52-bit
/// PARange (it ORs in `TCR_DS` and sets IPS from PARange); SH0/SH1 =
/// inner shareable then apply to every page.
pub const TCR_BOOT: u64 = {
    let t = (64 - VA_BITS) as u64;
    let (ips, ds) = if LPA2 { (6, 1) } else { (5, 0) };
    t | (1 << 8) | (1 << 10) | (3 << 12) // T0SZ, IRGN0, ORGN0, SH0; TG0 = 4K
        | (t << 16) | (1 << 24) | (1 << 26) | (3 << 28) // T1SZ, IRGN1, ORGN1, SH1
        | (2 << 30) // TG1 = 4K
        | (ips << 32) // IPS = 48 or 52 bits
        | (ds << 59) // DS (FEAT_LPA2)
};

/// An address translation instruction (`AT S1E{0,1}{R,W}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtOp {
    /// `AT S1E1R`: EL1 read.
    E1R,
    /// `AT S1E1W`: EL1 write.
    E1W,
    /// `AT S1E0R`: EL0 read.
    E0R,
    /// `AT S1E0W`: EL0 write.
    E0W,
}

impl AtOp {
    pub const ALL: [AtOp; 4] = [AtOp::E1R, AtOp::E1W, AtOp::E0R, AtOp::E0W];
    pub fn name(self) -> &'static str {
        match self {
            AtOp::E1R => "S1E1R",
            AtOp::E1W => "S1E1W",
            AtOp::E0R => "S1E0R",
            AtOp::E0W => "S1E0W",
        }
    }
}

/// Run `AT` for `va` and return PAR_EL1.
pub fn at(op: AtOp, va: u64) -> u64 {
    // SAFETY: AT only writes PAR_EL1 (which nothing else relies on); it
    // reads translation tables but never accesses `va` itself.
    unsafe {
        match op {
            AtOp::E1R => asm!("at s1e1r, {}", in(reg) va, options(nostack)),
            AtOp::E1W => asm!("at s1e1w, {}", in(reg) va, options(nostack)),
            AtOp::E0R => asm!("at s1e0r, {}", in(reg) va, options(nostack)),
            AtOp::E0W => asm!("at s1e0w, {}", in(reg) va, options(nostack)),
        }
    }
    barrier::isb(barrier::SY);
    PAR_EL1.get()
}

/// Invalidate every EL1&0 TLB entry of this CPU after the page tables
/// were written.
pub fn flush_tlb_all() {
    // SAFETY: TLB maintenance with barriers; it changes no memory and the
    // tables in use map the running kernel.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            options(nostack)
        )
    };
}

/// Load TTBR0_EL1 (the user half) and flush the TLB.
///
/// # Safety
///
/// `root` must be a valid root table for the configured TCR_EL1 (or an
/// empty table); the kernel must not depend on the lower half.
pub unsafe fn set_ttbr0(root: u64) {
    barrier::dsb(barrier::ISHST);
    TTBR0_EL1.set(root);
    barrier::isb(barrier::SY);
    flush_tlb_all();
}

/// Load TTBR1_EL1 (the kernel half) and flush the TLB.
///
/// # Safety
///
/// `root` must map the kernel image, stack, heap, frames and UART at the
/// same virtual addresses and with the same attributes as the tables in
/// use, or the next instruction fetch or access faults.
pub unsafe fn set_ttbr1(root: u64) {
    barrier::dsb(barrier::ISHST);
    TTBR1_EL1.set(root);
    barrier::isb(barrier::SY);
    flush_tlb_all();
}

pub fn ttbr1() -> u64 {
    TTBR1_EL1.get()
}
pub fn tcr() -> u64 {
    TCR_EL1.get()
}
pub fn mair() -> u64 {
    MAIR_EL1.get()
}
pub fn sctlr() -> u64 {
    SCTLR_EL1.get()
}
pub fn id_aa64mmfr0() -> u64 {
    ID_AA64MMFR0_EL1.get()
}
pub fn id_aa64mmfr1() -> u64 {
    ID_AA64MMFR1_EL1.get()
}

/// PSTATE.PAN (0 without FEAT_PAN).
pub fn pan() -> bool {
    if (id_aa64mmfr1() >> 20) & 0xf == 0 {
        return false;
    }
    let v: u64;
    // SAFETY: reads PSTATE.PAN (S3_0_C4_C2_3), present with FEAT_PAN.
    unsafe { asm!("mrs {}, S3_0_C4_C2_3", out(reg) v, options(nomem, nostack)) };
    v & (1 << 22) != 0
}

/// Physical-address bits from a 3-bit PARange/IPS encoding.
pub fn pa_bits_of(enc: u64) -> u8 {
    match enc & 7 {
        0 => 32,
        1 => 36,
        2 => 40,
        3 => 42,
        4 => 44,
        5 => 48,
        _ => 52,
    }
}

/// The MAIR_EL1 byte of slot `idx`.
pub fn mair_attr(idx: u8) -> u8 {
    (mair() >> (8 * u64::from(idx & 7))) as u8
}

/// Make instructions just written as data at `va + off` of every `step`
/// bytes of `[va, va + len)` visible to instruction fetches (Arm ARM
/// D7.5.9 "Ordering and completion of data and instruction cache
/// instructions"): clean each line to the point of unification (`DC
/// CVAU`), `DSB ISH`, invalidate the instruction cache (`IC IALLU`: one
/// CPU), `DSB ISH`, `ISB`.
pub fn sync_icache(va: u64, len: u64, step: u64, off: u64) {
    for a in (va..va + len).step_by(step as usize) {
        // SAFETY: a clean to PoU of a mapped, written line changes no
        // memory contents.
        unsafe { asm!("dc cvau, {}", in(reg) a + off, options(nostack)) };
    }
    // SAFETY: barriers and an instruction-cache invalidate change no
    // memory; the code about to run is re-fetched from memory.
    unsafe { asm!("dsb ish", "ic iallu", "dsb ish", "isb", options(nostack)) };
}
